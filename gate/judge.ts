/**
 * Judging what a gated script did against the declared baseline: every runtime write the guard recorded, and every
 * sysctl.d / sysctl.conf change it left (resolved by the sysctl rules, core/sysctl-rules, as `kdrift report` does:
 * both boot appliers, systemd-sysctl and procps `sysctl --system`).
 * Pure functions: unit-tested without a kernel.
 */
import type { SysctlExpectation } from '../core/baseline.js';
import { parseSysctlKey, sysctlFields } from '../core/sysctl-key.js';
import {
  APPLIERS,
  assignmentSource,
  describeExpectation,
  displayBytes,
  kernelWrite,
  meetsExpectation,
  meetsExpectationFields,
  readAll,
  resolveBoot,
  textOf,
  type BootValue,
  type KernelShape,
  type SysctlTree,
} from '../core/sysctl-rules/index.js';
import type { GuardEvent, GuardVerdict } from '../probe/index.js';

/** One runtime write, judged. */
export interface JudgedWrite {
  /** `kdrift watch` with an inventory: the host whose network namespace the write was made in. */
  host?: string;
  /** Wall-clock time of the write (ISO). */
  at: string;
  /** Dotted key (slashed when a segment holds a dot), as baselines spell it. */
  key: string;
  oldValue: string | null;
  /** What was written, whitespace-normalised. */
  newValue: string;
  /** The value the key has after the write (fields the write left out keep their old value; numbers in decimal). */
  result: string;
  process: { comm: string; pid: number; tid: number; parentComm: string; ppid: number; uid: number };
  netns: number;
  cgroupId: string;
  /** The writer got EPERM. */
  refused: boolean;
  /** Why the kernel refused it or would have (audit mode). */
  kernelVerdict: GuardVerdict;
  /** The key is declared and the resulting value contradicts the declaration. */
  conflict: boolean;
  /** Declared expectation, when the key is declared. */
  expected?: string;
}

/** One integer field as the kernel's proc_dointvec reads it (base 0): "0x10" = 16, "010" = 8, "  7" = 7. */
export function parseKernelInt(field: string): bigint | undefined {
  const [v] = kernelWrite(field, { ints: 1 });
  return v === undefined || field.trim().split(/\s+/).length !== 1 ? undefined : BigInt(v);
}

function isNumericSpec(e: SysctlExpectation): boolean {
  const values = [e.equals, ...(e.oneOf ?? []), e.min, e.max].filter((v): v is string => v !== undefined);
  return values.every((v) => sysctlFields(v).every((f) => /^-?\d+$/.test(f)));
}

function specWidth(e: SysctlExpectation): number {
  const v = e.equals ?? e.oneOf?.[0] ?? e.min ?? e.max ?? '';
  return sysctlFields(v).length;
}

/**
 * The value a key holds after a write, as the kernel computes it (core/sysctl-rules kernelWrite): integer fields read
 * like proc_dointvec; fields the write leaves out (or stops before) keep their old value. Non-numeric values are the
 * written text, whitespace-normalised.
 */
export function resultingValue(newValue: string, oldValue: string | null, spec?: SysctlExpectation): string {
  const written = sysctlFields(newValue);
  if (!spec || !isNumericSpec(spec)) return written.join(' ');
  const old = oldValue === null ? [] : sysctlFields(oldValue);
  const stored = kernelWrite(newValue, { ints: Math.max(specWidth(spec), old.length) });
  return old.length > stored.length ? [...stored, ...old.slice(stored.length)].join(' ') : stored.join(' ');
}

/** "net/ipv4/tcp_sack" → "net.ipv4.tcp_sack" (slashed kept when a segment holds a dot, as core/sysctl-key does). */
export function keyFromProcName(name: string): string {
  const parsed = parseSysctlKey(name);
  const segments = 'segments' in parsed ? parsed.segments : name.split('/');
  return segments.some((s) => s.includes('.')) ? segments.join('/') : segments.join('.');
}

/** Converts CLOCK_MONOTONIC nanoseconds (bpf_ktime_get_ns) to wall-clock time, given one pair of readings. */
export function monotonicToWall(tsNs: bigint, nowMonoNs: bigint, nowWallMs: number): Date {
  return new Date(nowWallMs - Number(nowMonoNs - tsNs) / 1e6);
}

export function judgeWrite(e: GuardEvent, specs: ReadonlyMap<string, SysctlExpectation>, at: Date): JudgedWrite {
  const key = keyFromProcName(e.name);
  const spec = specs.get(key);
  const result = resultingValue(e.newValue, e.oldValue, spec);
  return {
    at: at.toISOString(),
    key,
    oldValue: e.oldValue === null ? null : sysctlFields(e.oldValue).join(' '),
    newValue: sysctlFields(e.newValue).join(' '),
    result,
    process: { comm: e.comm, pid: e.tgid, tid: e.pid, parentComm: e.parentComm, ppid: e.ppid, uid: e.uid },
    netns: e.netns,
    cgroupId: e.cgroupId.toString(),
    refused: e.denied,
    kernelVerdict: e.verdict,
    conflict: spec !== undefined && !meetsExpectation(spec, result),
    ...(spec ? { expected: describeExpectation(spec) } : {}),
  };
}

/** A sysctl.d / sysctl.conf line the script left that a boot would apply, and that contradicts the declaration. */
export interface PersistedChange {
  key: string;
  value: string;
  /** file:line of the line a boot applies last (after the script). */
  source: string;
  expected?: string;
  conflict: boolean;
  /** The effective value before the script ran (null: nothing set it). */
  before: { value: string; source: string } | null;
}

function shapeFor(spec: SysctlExpectation | undefined): KernelShape {
  return spec && isNumericSpec(spec) ? { ints: specWidth(spec) } : { text: true };
}

const valueText = (b: BootValue) => (b.value === null ? '' : (textOf(b.value) ?? displayBytes(b.value)));
const said = (b: BootValue) => `${b.status}|${b.value}|${b.source ? assignmentSource(b.source) : ''}`;

function conflicts(spec: SysctlExpectation | undefined, b: BootValue): boolean {
  if (!spec || (b.status !== 'set' && b.status !== 'partial')) return false;
  return meetsExpectationFields(spec, sysctlFields(b.value as string).map((f) => (f === '?' ? null : f))) === false;
}

/** Keys some line of the tree sets explicitly (either applier). */
function explicitKeys(tree: SysctlTree): string[] {
  return APPLIERS.flatMap((a) => readAll(tree, a).lines.filter((l) => !l.glob && l.value !== null).map((l) => l.key));
}

/**
 * What a boot would apply after the script, against before, for every key set in either tree and every declared key:
 * a change is reported when what either applier applies moved (another value or file:line). It conflicts when either
 * applier's value contradicts the declaration; value and source name that applier (else systemd-sysctl). Undeclared
 * changes are listed (conflict false) so --verbose can show them.
 */
export function judgePersisted(before: SysctlTree, after: SysctlTree, specs: ReadonlyMap<string, SysctlExpectation>): PersistedChange[] {
  const keys = new Set([...specs.keys(), ...explicitKeys(before), ...explicitKeys(after)]);
  const shapes = new Map([...keys].map((k) => [k, shapeFor(specs.get(k))]));
  const now = resolveBoot(after, shapes);
  const was = resolveBoot(before, shapes);
  const out: PersistedChange[] = [];
  for (const key of keys) {
    const spec = specs.get(key);
    const a = now.get(key);
    const b = was.get(key);
    if (!a || !b || APPLIERS.every((ap) => said(a[ap]) === said(b[ap]))) continue;
    const pick = APPLIERS.find((ap) => conflicts(spec, a[ap])) ?? APPLIERS.find((ap) => a[ap].source) ?? 'systemd-sysctl';
    const prev = b[pick].source ? b[pick] : APPLIERS.map((ap) => b[ap]).find((x) => x.source);
    const before = prev?.source ? { value: valueText(prev), source: assignmentSource(prev.source) } : null;
    const eff = a[pick];
    if (!eff.source) {
      // A declared key the script stopped persisting (its line removed or commented out).
      if (!spec || !before) continue;
      out.push({ key, value: '(not persisted)', source: `${before.source} (removed)`, conflict: meetsExpectation(spec, before.value), expected: describeExpectation(spec), before });
      continue;
    }
    out.push({
      key,
      value: valueText(eff),
      source: assignmentSource(eff.source),
      conflict: conflicts(spec, eff),
      ...(spec ? { expected: describeExpectation(spec) } : {}),
      before,
    });
  }
  return out.sort((x, y) => x.key.localeCompare(y.key));
}
