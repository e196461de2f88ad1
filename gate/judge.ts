/**
 * Judging what a gated script did against the declared baseline: every runtime write the guard recorded, and every
 * sysctl.d / sysctl.conf change it left (resolved with the same rules as `kdrift report`, checks/sysctl-persisted.ts).
 * Pure functions: unit-tested without a kernel.
 */
import { describeExpectation, meetsExpectation, type SysctlExpectation } from '../core/baseline.js';
import { parseSysctlKey, sysctlFields } from '../core/sysctl-key.js';
import { resolvePersisted, type SysctlAssignment, type SysctlConfFile } from '../checks/index.js';
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

/** strtol(3) with base 0, as the kernel's proc_dointvec reads a field: "0x10" = 16, "010" = 8, "  7" = 7. */
export function parseKernelInt(field: string): bigint | undefined {
  const m = /^\s*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.exec(field);
  if (!m) return undefined;
  const body = m[2] as string;
  let v: bigint;
  if (/^0[xX]/.test(body)) v = BigInt(body);
  else if (body.length > 1 && body.startsWith('0')) v = BigInt(`0o${body.slice(1)}`);
  else v = BigInt(body);
  return m[1] === '-' ? -v : v;
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
 * The value a key holds after a write, as the kernel computes it: integer fields parsed like proc_dointvec (base 0);
 * a write with fewer fields than the key has leaves the rest at their old value. Non-numeric values are the written
 * text, whitespace-normalised.
 */
export function resultingValue(newValue: string, oldValue: string | null, spec?: SysctlExpectation): string {
  const written = sysctlFields(newValue);
  if (!spec || !isNumericSpec(spec)) return written.join(' ');
  const nums = written.map(parseKernelInt);
  if (nums.some((n) => n === undefined)) return written.join(' ');
  const width = Math.max(specWidth(spec), written.length);
  const old = oldValue === null ? [] : sysctlFields(oldValue);
  const out: string[] = [];
  for (let i = 0; i < width; i++) {
    if (i < nums.length) out.push(String(nums[i]));
    else if (i < old.length) out.push(old[i] as string);
    else break;
  }
  return out.join(' ');
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

function sourceOf(a: SysctlAssignment): string {
  return `${a.file}:${a.line}${a.pattern ? ` (glob ${a.pattern})` : ''}`;
}

/** Lines in `after` that are new or changed against `before` (a file is compared line by line, by content). */
function changedLines(before: readonly SysctlConfFile[], after: readonly SysctlConfFile[]): Set<string> {
  const old = new Map(before.map((f) => [f.path, f.content.split('\n')]));
  const out = new Set<string>();
  for (const f of after) {
    const prev = old.get(f.path);
    f.content.split('\n').forEach((line, i) => {
      if (prev?.[i] !== line) out.add(`${f.path}:${i + 1}`);
    });
  }
  return out;
}

/**
 * What a boot would apply after the script, against before, for every key: a change is reported when the effective
 * assignment moved (another file:line or value) or the line itself changed. Declared keys are judged; undeclared
 * changes are listed (conflict false) so --verbose can show them.
 */
export function judgePersisted(
  before: readonly SysctlConfFile[],
  after: readonly SysctlConfFile[],
  specs: ReadonlyMap<string, SysctlExpectation>,
): PersistedChange[] {
  const changed = changedLines(before, after);
  const keysAfter = resolvePersisted([...after], specs.keys());
  const keysBefore = resolvePersisted([...before], specs.keys());
  const out: PersistedChange[] = [];
  for (const [key, list] of keysAfter) {
    const eff = list[list.length - 1] as SysctlAssignment;
    const prevList = keysBefore.get(key);
    const prev = prevList?.[prevList.length - 1];
    const moved = !prev || prev.value !== eff.value || prev.file !== eff.file || prev.line !== eff.line;
    if (!moved && !changed.has(`${eff.file}:${eff.line}`)) continue;
    const spec = specs.get(key);
    out.push({
      key,
      value: eff.value,
      source: sourceOf(eff),
      conflict: spec !== undefined && !meetsExpectation(spec, eff.value),
      ...(spec ? { expected: describeExpectation(spec) } : {}),
      before: prev ? { value: prev.value, source: sourceOf(prev) } : null,
    });
  }
  // A declared key the script stopped persisting (its line removed or commented out).
  for (const [key, spec] of specs) {
    if (keysAfter.has(key)) continue;
    const prevList = keysBefore.get(key);
    const prev = prevList?.[prevList.length - 1];
    if (!prev) continue;
    out.push({ key, value: '(not persisted)', source: `${sourceOf(prev)} (removed)`, conflict: meetsExpectation(spec, prev.value), expected: describeExpectation(spec), before: { value: prev.value, source: sourceOf(prev) } });
  }
  return out.sort((a, b) => a.key.localeCompare(b.key));
}
