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
import { collectSysctlState, type SysctlState } from './sysctl-persisted.js';

export interface SysctlObservation extends SysctlState {
  /** What each boot applier leaves in the kernel, per key asked for. */
  boot: Map<string, BootValues>;
}

export interface SysctlCheckOptions {
  /** Prefix for every path read on the host ('' on a real host; a fixture tree in tests). */
  root?: string;
  timeoutMs?: number;
  /** Also read the end of this on-host write log in the same exec (SysctlState.writeLog). */
  writeLogPath?: string;
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

export function judgeSysctl(obs: SysctlObservation, specs: ReadonlyMap<string, SysctlExpectation>, host: string): Finding[] {
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
      return observeSysctl(await collectSysctlState(session, keys, opts), keys);
    },
    judge(obs: SysctlObservation, specs: ReadonlyMap<string, SysctlExpectation>, ctx: CheckContext): Finding[] {
      return judgeSysctl(obs, specs, ctx.host.name);
    },
  };
}

/** The check as the engine runs it on real hosts. */
export const sysctlCheck = makeSysctlCheck();
