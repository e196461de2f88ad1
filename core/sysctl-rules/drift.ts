/**
 * The per-key drift rule, for report and fix alike: from the runtime value (or why it is missing) and what each boot
 * applier leaves in the kernel, a `runtime` and a `persisted` finding with status ok / drift / unknown.
 *
 * Persisted, per applier: a value set → ok or drift by the expectation; nothing written → a boot keeps the kernel
 * default, which kdrift cannot know: unknown ("not persisted") while the runtime value is ok, drift when it drifts
 * (nothing brings the declared value back); only some fields of a tuple set → drift if a set field violates the
 * expectation, else unknown; a file the session cannot read that may decide → unknown. The finding drifts when either
 * applier drifts, is unknown when either is unknown, ok only when both are. It names what each applier applies
 * (evidence.boot) and the file:line systemd-sysctl reads (source).
 */
import type { SysctlExpectation } from '../baseline.js';
import type { Finding, FindingStatus } from '../finding.js';
import { sysctlFields } from '../sysctl-key.js';
import { sysctlProcPath } from '../sysctl-key.js';
import { describeExpectation, meetsExpectation, meetsExpectationFields } from './expectation.js';
import { APPLIERS, type Applier } from './paths.js';
import { assignmentSource, type BootValue, type BootValues } from './resolve.js';
import { describeEntry } from './tree.js';
import { displayBytes } from './bytes.js';

export const NOT_PERSISTED = 'not persisted: a boot applies the kernel default';
export const NOT_PERSISTED_DRIFT = 'not persisted, and the runtime value drifts: nothing on disk brings the declared value back';

export interface KeyState {
  /** The runtime value; null when /proc/sys has no such key or it cannot be read. */
  runtime: string | null;
  /** Set when the key exists but cannot be read. */
  runtimeError?: string;
  boot: BootValues;
}

export interface ApplierVerdict {
  applier: Applier;
  status: FindingStatus;
  /** One line: what this applier leaves in the kernel, and from where. */
  says: string;
  reason?: string;
}

function describeBoot(b: BootValue): string {
  const from = b.source ? ` from ${assignmentSource(b.source)}` : '';
  if (b.status === 'set') return `${b.value}${from}`;
  if (b.status === 'partial') return `${b.value} (fields marked ? keep the kernel default)${from}`;
  if (b.status === 'unknown') return `unknown: cannot read ${b.blind.map(describeEntry).join(', ')}`;
  return 'nothing (the kernel default stays)';
}

export function judgeApplier(spec: SysctlExpectation, b: BootValue, runtimeOk: boolean | undefined): ApplierVerdict {
  const says = describeBoot(b);
  const base = { applier: b.applier, says };
  if (b.status === 'unknown') {
    const after = b.source ? ` after ${assignmentSource(b.source)}` : '';
    return { ...base, status: 'unknown', reason: `cannot read ${b.blind.map(describeEntry).join(', ')}, which a boot applies${after} and which may set this key` };
  }
  if (b.status === 'unset') {
    if (runtimeOk === undefined) return { ...base, status: 'unknown', reason: NOT_PERSISTED };
    return runtimeOk ? { ...base, status: 'unknown', reason: NOT_PERSISTED } : { ...base, status: 'drift', reason: NOT_PERSISTED_DRIFT };
  }
  const fields = sysctlFields(b.value as string).map((f) => (f === '?' ? null : f));
  const meets = meetsExpectationFields(spec, fields);
  if (meets === null) return { ...base, status: 'unknown', reason: `a boot sets only some fields (${b.value}); the others keep the kernel default` };
  return { ...base, status: meets ? 'ok' : 'drift' };
}

const WORST: FindingStatus[] = ['drift', 'unknown', 'ok'];

export function judgeKey(host: string, key: string, spec: SysctlExpectation, state: KeyState): Finding[] {
  const base = { host, check: 'sysctl', key, expected: describeExpectation(spec), severity: spec.severity };
  const findings: Finding[] = [];
  const { runtime } = state;
  let runtimeOk: boolean | undefined;
  if (runtime === null) {
    findings.push({
      ...base,
      layer: 'runtime',
      status: 'unknown',
      actual: null,
      reason: state.runtimeError ? `cannot read ${sysctlProcPath(key)}: ${state.runtimeError}` : `no such key on this host (${sysctlProcPath(key)} does not exist)`,
    });
  } else {
    runtimeOk = meetsExpectation(spec, runtime);
    findings.push({ ...base, layer: 'runtime', status: runtimeOk ? 'ok' : 'drift', actual: runtime, ...(runtimeOk || !spec.reason ? {} : { reason: spec.reason }) });
  }

  const verdicts = APPLIERS.map((a) => judgeApplier(spec, state.boot[a], runtimeOk));
  const status = WORST.find((s) => verdicts.some((v) => v.status === s)) as FindingStatus;
  // actual/source: what the applier behind the verdict applies (systemd-sysctl first), so a drift names its cause.
  const primary = [...verdicts.filter((v) => v.status === status), ...verdicts].map((v) => state.boot[v.applier]).find((b) => b.source) ?? state.boot['systemd-sysctl'];
  const all = APPLIERS.flatMap((a) => state.boot[a].writes);
  const evidence: Record<string, unknown> = { boot: Object.fromEntries(verdicts.map((v) => [v.applier, `${v.status}: ${v.says}`])) };
  if (all.length > 2) evidence.assignments = [...new Set(all.map((w) => `${assignmentSource(w)}: ${displayBytes(w.value ?? '')}`))];
  const persisted = {
    ...base,
    layer: 'persisted' as const,
    actual: primary.value,
    ...(primary.source ? { source: assignmentSource(primary.source) } : {}),
    evidence,
  };
  if (runtime === null) {
    findings.push({ ...persisted, status: 'unknown', reason: state.runtimeError ? 'the runtime value cannot be read' : 'no such key on this host: a boot cannot apply it' });
    return findings;
  }
  const worst = verdicts.filter((v) => v.status === status);
  const agree = verdicts.every((v) => v.status === status && v.says === verdicts[0]?.says);
  let reason: string | undefined;
  if (status === 'drift') {
    const which = agree ? '' : `${worst.map((v) => `${v.applier} applies ${v.says}`).join('; ')}`;
    reason = [worst[0]?.reason, which, spec.reason].filter((r) => r).join('; ') || undefined;
  } else if (status === 'unknown') {
    const which = agree ? '' : ` (${worst.map((v) => v.applier).join(', ')})`;
    reason = `${worst[0]?.reason ?? 'unknown'}${which}`;
  }
  findings.push({ ...persisted, status, ...(reason ? { reason } : {}) });
  return findings;
}

/** Layer statuses of one key, for fix: the very verdicts report gives. */
export function keyVerdict(findings: readonly Finding[]): { runtime: FindingStatus; persisted: FindingStatus; reasons: string[] } {
  const runtime = findings.find((f) => f.layer === 'runtime');
  const persisted = findings.find((f) => f.layer === 'persisted');
  return {
    runtime: runtime?.status ?? 'unknown',
    persisted: persisted?.status ?? 'unknown',
    reasons: [runtime, persisted].filter((f): f is Finding => f?.status === 'unknown' && f.reason !== undefined).map((f) => `${f.layer}: ${f.reason}`),
  };
}
