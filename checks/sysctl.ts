/**
 * The `sysctl` check kind: per declared key, the runtime value (/proc/sys, per network namespace) and what a boot
 * applies (systemd-sysctl and procps `sysctl --system`), judged by the sysctl rules (core/sysctl-rules): two findings
 * per key, layers `runtime` and `persisted`. This file only collects and hands over; the rules decide.
 */
import { sysctlExpectationSchema, type SysctlExpectation } from '../core/baseline.js';
import type { Finding } from '../core/finding.js';
import type { HostSession } from '../core/session.js';
import { judgeKey, resolveBoot, shapeOf, type BootValues, type KernelShape } from '../core/sysctl-rules/index.js';
import type { CheckContext, CheckKind } from './kind.js';
import { decodeCollected, execSysctlCollect, type CollectOptions, type SysctlState } from './sysctl-persisted.js';

export interface SysctlObservation extends SysctlState {
  /** What each boot applier leaves in the kernel, per key asked for. */
  boot: Map<string, BootValues>;
}

export type SysctlCheckOptions = CollectOptions;

/**
 * Observations by collect output: hosts cloned from one image send byte-identical records, and decoding them and
 * resolving what each boot applier leaves is the controller's largest share of a host after SSH itself. The
 * observation is a function of (keys, options, bytes) only, and is read, never changed, by judge and the engine.
 */
const observedByOutput = new Map<string, SysctlObservation>();
const OBSERVED_KEPT = 32;

function observeOutput(host: string, out: Buffer, keys: readonly string[], opts: SysctlCheckOptions): SysctlObservation {
  const memoKey = `${keys.join(' ')}\0${opts.root ?? ''}\0${opts.writeLogPath ?? ''}\0${out.toString('latin1')}`;
  const hit = observedByOutput.get(memoKey);
  if (hit) return hit;
  const obs = observeSysctl(decodeCollected(host, out, keys, opts), keys);
  if (observedByOutput.size >= OBSERVED_KEPT) observedByOutput.delete(observedByOutput.keys().next().value as string);
  observedByOutput.set(memoKey, obs);
  return obs;
}

/** Resolves the collected state for `keys` (the kernel shape of each key comes from its runtime value). */
export function observeSysctl(state: SysctlState, keys: Iterable<string>): SysctlObservation {
  const shapes = new Map<string, KernelShape>();
  for (const k of keys) {
    const runtime = state.runtime.get(k);
    shapes.set(k, runtime ? shapeOf(runtime) : { text: true });
  }
  return { ...state, boot: resolveBoot(state.tree, shapes) };
}

/**
 * Findings by observation and declarations: cloned hosts share one observation (observeOutput) and, with the same
 * roles, one plan and so the same declarations map (planChecks), and judging them again for the next host gives the
 * same findings but for the host's name. Kept by both objects (dropped with them), so nothing is serialized per host,
 * and handed out as fresh copies, since later stages set fields of a host's findings (id, change, the writer).
 */
const judgedByObservation = new WeakMap<SysctlObservation, WeakMap<ReadonlyMap<string, SysctlExpectation>, Finding[]>>();

export function judgeSysctl(obs: SysctlObservation, specs: ReadonlyMap<string, SysctlExpectation>, host: string): Finding[] {
  let byObs = judgedByObservation.get(obs);
  if (!byObs) judgedByObservation.set(obs, (byObs = new WeakMap()));
  let judged = byObs.get(specs);
  if (!judged) {
    judged = judgeSysctlNow(obs, specs, '');
    byObs.set(specs, judged);
  }
  return judged.map((f) => ({ ...f, host }));
}

function judgeSysctlNow(obs: SysctlObservation, specs: ReadonlyMap<string, SysctlExpectation>, host: string): Finding[] {
  const findings: Finding[] = [];
  for (const [key, spec] of specs) {
    const boot = obs.boot.get(key) ?? observeSysctl(obs, [key]).boot.get(key);
    const runtimeError = obs.runtimeErrors.get(key);
    findings.push(...judgeKey(host, key, spec, { runtime: obs.runtime.get(key) ?? null, ...(runtimeError ? { runtimeError } : {}), boot: boot as BootValues }));
  }
  return findings;
}

export function makeSysctlCheck(opts: SysctlCheckOptions = {}): CheckKind<SysctlExpectation, SysctlObservation> {
  return {
    kind: 'sysctl',
    layer: 'config',
    specSchema: sysctlExpectationSchema,
    async collect(session: HostSession, specs: ReadonlyMap<string, SysctlExpectation>, _ctx: CheckContext): Promise<SysctlObservation> {
      const keys = [...specs.keys()];
      return observeOutput(session.host, await execSysctlCollect(session, keys, opts), keys, opts);
    },
    judge(obs: SysctlObservation, specs: ReadonlyMap<string, SysctlExpectation>, ctx: CheckContext): Finding[] {
      return judgeSysctl(obs, specs, ctx.host.name);
    },
  };
}

/** The check as the engine runs it on real hosts. */
export const sysctlCheck = makeSysctlCheck();
