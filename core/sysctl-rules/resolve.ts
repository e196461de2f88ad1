/**
 * What each boot applier writes to each key, and what the kernel keeps of it (kernel.ts).
 *
 * systemd-sysctl 252: one ordered map of options keyed by the normalised key (globs included); a line with the value
 * an option already has changes nothing (the first line stays the source), a different value or a negative match
 * replaces it and moves it to the end. Then in map order: explicit options are written; a glob is written to every
 * matching key that no option (assignment or negative match) names. A key's last explicit line decides; a negative
 * match last means nothing is written.
 * procps 4.0.2: a list of every line in reading order; each assignment is written in turn (so the last write wins and
 * a later `-key` does not undo an earlier assignment); a glob is written to every matching key that no line names by
 * exactly that path.
 */
import { parseSysctlKey } from '../sysctl-key.js';
import { displayBytes, type Bytes } from './bytes.js';
import { confLines, keyOfPath, type ConfLine } from './grammar.js';
import { globMatchesPath } from './glob.js';
import { kernelWrite, type KernelShape } from './kernel.js';
import { APPLIERS, type Applier } from './paths.js';
import { entryPath, sourcesOf, type SysctlEntry, type SysctlTree } from './tree.js';

export interface Assignment extends ConfLine {
  entry: SysctlEntry;
  /** Position of the entry in the applier's reading order. */
  order: number;
}

export type BootStatus = 'set' | 'partial' | 'unset' | 'unknown';

export interface BootValue {
  applier: Applier;
  /** set: every field known; partial: some fields keep the kernel default; unset: nothing written; unknown: see blind. */
  status: BootStatus;
  /** set: the value; partial: the fields, `?` where the kernel default stays. */
  value: string | null;
  /** The write that decided the (last) value. */
  source?: Assignment;
  /** Every write to the key, in order. */
  writes: Assignment[];
  /** Entries this session could not read that may change the result. */
  blind: SysctlEntry[];
}

export type BootValues = Record<Applier, BootValue>;

/** file:line the applier reads, naming a link's target and a glob's pattern. */
export function assignmentSource(a: Assignment): string {
  const where = `${displayBytes(entryPath(a.entry))}:${a.line}${a.entry.target !== undefined ? ` (-> ${displayBytes(a.entry.target)})` : ''}`;
  return a.glob ? `${where} (glob ${displayBytes(keyOfPath(a.path))})` : where;
}

/** The lines one applier reads, in order, and the entries it reads that this session could not. */
export function readAll(tree: SysctlTree, applier: Applier): { lines: Assignment[]; blind: { entry: SysctlEntry; order: number }[] } {
  const lines: Assignment[] = [];
  const blind: { entry: SysctlEntry; order: number }[] = [];
  sourcesOf(tree, applier).forEach((entry, order) => {
    if (entry.kind === 'file' && entry.content !== undefined) {
      for (const l of confLines(entry.content, applier).lines) lines.push({ ...l, entry, order });
    } else if (entry.kind === 'unreadable' || entry.kind === 'other') blind.push({ entry, order });
  });
  return { lines, blind };
}

function keyPath(key: string): string {
  const parsed = parseSysctlKey(key);
  return 'error' in parsed ? key : parsed.segments.join('/');
}

function writesSystemd(lines: readonly Assignment[], key: string): Assignment[] {
  const options = new Map<string, Assignment>();
  for (const l of lines) {
    const existing = options.get(l.path);
    if (existing && existing.value === l.value) continue;
    options.delete(l.path);
    options.set(l.path, l);
  }
  const path = keyPath(key);
  const explicit = options.get(path);
  if (explicit) return explicit.value === null ? [] : [explicit];
  return [...options.values()].filter((o) => o.glob && o.value !== null && globMatchesPath(canonical(o.path), path));
}

function canonical(path: string): string {
  return path.split('/').filter((s) => s !== '' && s !== '.').join('/');
}

function writesProcps(lines: readonly Assignment[], key: string): Assignment[] {
  const path = keyPath(key);
  const named = lines.some((l) => l.path === path);
  return lines.filter((l) => l.value !== null && (l.glob ? !named && globMatchesPath(canonical(l.path), path) : keyOfPath(l.path) === key));
}

function fold(applier: Applier, writes: Assignment[], shape: KernelShape, blind: SysctlEntry[]): BootValue {
  const width = 'ints' in shape ? shape.ints : 1;
  const fields: (string | undefined)[] = new Array<string | undefined>(width).fill(undefined);
  let source: Assignment | undefined;
  for (const w of writes) {
    const stored = kernelWrite(w.value as Bytes, shape);
    stored.forEach((v, i) => (fields[i] = v));
    if (stored.length > 0) source = w;
  }
  const known = fields.filter((f) => f !== undefined).length;
  const base = { applier, writes, blind, ...(source ? { source } : {}) };
  if (blind.length > 0) return { ...base, status: 'unknown', value: null };
  if (known === 0) return { ...base, status: 'unset', value: null };
  const value = fields.map((f) => f ?? '?').join(' ');
  return { ...base, status: known === width ? 'set' : 'partial', value };
}

/**
 * Per key asked for, what each applier leaves in the kernel. `shapes` gives each key's kernel shape (from its runtime
 * value); an entry the session cannot read makes the result unknown when it is read after the deciding write (or at
 * all, when nothing or only a glob decides: an explicit line anywhere would beat it).
 */
export function resolveBoot(tree: SysctlTree, shapes: ReadonlyMap<string, KernelShape>): Map<string, BootValues> {
  const out = new Map<string, BootValues>();
  const read = Object.fromEntries(APPLIERS.map((a) => [a, readAll(tree, a)])) as Record<Applier, ReturnType<typeof readAll>>;
  for (const [key, shape] of shapes) {
    const values = {} as BootValues;
    for (const applier of APPLIERS) {
      const { lines, blind } = read[applier];
      const writes = applier === 'systemd-sysctl' ? writesSystemd(lines, key) : writesProcps(lines, key);
      const last = writes[writes.length - 1];
      const hidden = blind.filter((b) => last === undefined || last.glob || b.order > last.order).map((b) => b.entry);
      values[applier] = fold(applier, writes, shape, hidden);
    }
    out.set(key, values);
  }
  return out;
}
