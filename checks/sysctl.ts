/**
 * The `sysctl` check kind: per declared key, the runtime value (/proc/sys, per network namespace) and the value a boot
 * would apply (the sysctl.d family, resolved in checks/sysctl-persisted.ts). Two findings per key: layer `runtime` and
 * layer `persisted`.
 *
 * Persisted rule when no file sets the key: a boot leaves the kernel default in place, which kdrift cannot know.
 *   - runtime ok     → persisted `unknown`, reason "not persisted: a boot applies the kernel default" (not a drift: the
 *                      value may well be the default; it is listed so the gap is visible);
 *   - runtime drift  → persisted `drift`: nothing on disk will bring the declared value back;
 *   - runtime missing / unreadable → persisted `unknown` too.
 * A key that does not exist on the host is `unknown` on both layers, with the reason (never a crash).
 */
import { describeExpectation, meetsExpectation, sysctlExpectationSchema, type SysctlExpectation } from '../core/baseline.js';
import type { Finding } from '../core/finding.js';
import type { HostSession } from '../core/session.js';
import { sysctlProcPath } from '../core/sysctl-key.js';
import type { CheckContext, CheckKind } from './kind.js';
import { SYSCTL_CONF, collectSysctlState, resolvePersisted, type SysctlAssignment, type SysctlState } from './sysctl-persisted.js';

export interface SysctlObservation extends SysctlState {
  /** Every assignment per key asked for, in application order (last = effective). */
  persisted: Map<string, SysctlAssignment[]>;
}

export interface SysctlCheckOptions {
  /** Prefix for every path read on the host ('' on a real host; a fixture tree in tests). */
  root?: string;
  timeoutMs?: number;
}

export const NOT_PERSISTED = 'not persisted: a boot applies the kernel default';

/** file:line, naming a symlink's target too (that is the file to edit). */
export function assignmentSource(a: SysctlAssignment, state: Pick<SysctlState, 'files'>): string {
  const target = state.files.find((f) => f.path === a.file)?.target;
  const where = `${a.file}:${a.line}${target ? ` (-> ${target})` : ''}`;
  return a.pattern ? `${where} (glob ${a.pattern})` : where;
}

/**
 * Files a boot reads (as root) that the session could not (e.g. mode 0600 under a non-root SSH user). A dangling
 * symlink is not one: a boot cannot read it either. Returned with their place in application order.
 */
function blindFiles(obs: SysctlObservation): { path: string; order: string }[] {
  return obs.unreadable
    .filter((e) => e.error !== 'dangling symlink')
    .map((e) => ({ path: `${e.dir}/${e.name}`, order: orderOf(`${e.dir}/${e.name}`) }));
}

/** Sort key in application order: files of the directories by name, /etc/sysctl.conf after all of them. */
function orderOf(path: string): string {
  return path === SYSCTL_CONF ? '\uffff' : path.slice(path.lastIndexOf('/') + 1);
}

export function judgeSysctl(obs: SysctlObservation, specs: ReadonlyMap<string, SysctlExpectation>, host: string): Finding[] {
  const findings: Finding[] = [];
  const blind = blindFiles(obs);
  /**
   * A persisted verdict stands only if no unreadable file is applied after the effective assignment (or at all, when
   * nothing readable sets the key, or the effective line is a glob an explicit line anywhere would beat).
   */
  const overriders = (effective: SysctlAssignment | undefined) =>
    blind.filter((b) => effective === undefined || effective.pattern !== undefined || b.order > orderOf(effective.file)).map((b) => b.path);
  const pushPersisted = (f: Finding, effective: SysctlAssignment | undefined) => {
    const hidden = overriders(effective);
    if (hidden.length === 0) {
      findings.push(f);
      return;
    }
    const after = effective ? ` after ${effective.file}` : '';
    findings.push({ ...f, status: 'unknown', reason: `cannot read ${hidden.join(', ')}, which a boot applies${after} and which may set this key` });
  };
  for (const [key, spec] of specs) {
    const base = { host, check: 'sysctl', key, expected: describeExpectation(spec), severity: spec.severity };
    const runtime = obs.runtime.get(key) ?? null;
    const readError = obs.runtimeErrors.get(key);
    let runtimeOk: boolean | undefined;
    if (runtime === null) {
      findings.push({
        ...base,
        layer: 'runtime',
        status: 'unknown',
        actual: null,
        reason: readError ? `cannot read ${sysctlProcPath(key)}: ${readError}` : `no such key on this host (${sysctlProcPath(key)} does not exist)`,
      });
    } else {
      runtimeOk = meetsExpectation(spec, runtime);
      findings.push({
        ...base,
        layer: 'runtime',
        status: runtimeOk ? 'ok' : 'drift',
        actual: runtime,
        ...(runtimeOk || !spec.reason ? {} : { reason: spec.reason }),
      });
    }

    const assignments = obs.persisted.get(key) ?? [];
    const effective = assignments[assignments.length - 1];
    const history = assignments.length > 1 ? { evidence: { assignments: assignments.map((a) => `${assignmentSource(a, obs)}: ${a.value}`) } } : {};
    if (runtime === null) {
      findings.push({
        ...base,
        layer: 'persisted',
        status: 'unknown',
        actual: effective?.value ?? null,
        ...(effective ? { source: assignmentSource(effective, obs) } : {}),
        reason: readError ? 'the runtime value cannot be read' : 'no such key on this host: a boot cannot apply it',
        ...history,
      });
    } else if (effective === undefined) {
      const f: Finding = {
        ...base,
        layer: 'persisted',
        status: runtimeOk ? 'unknown' : 'drift',
        actual: null,
        reason: runtimeOk ? NOT_PERSISTED : 'not persisted, and the runtime value drifts: nothing on disk brings the declared value back',
      };
      // "Not persisted" is itself a verdict an unreadable file could contradict.
      pushPersisted(f, undefined);
    } else {
      const ok = meetsExpectation(spec, effective.value);
      pushPersisted(
        {
          ...base,
          layer: 'persisted',
          status: ok ? 'ok' : 'drift',
          actual: effective.value,
          source: assignmentSource(effective, obs),
          ...(ok || !spec.reason ? {} : { reason: spec.reason }),
          ...history,
        },
        effective,
      );
    }
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
      const state = await collectSysctlState(session, keys, opts);
      return { ...state, persisted: resolvePersisted(state.files, keys) };
    },
    judge(obs: SysctlObservation, specs: ReadonlyMap<string, SysctlExpectation>, ctx: CheckContext): Finding[] {
      return judgeSysctl(obs, specs, ctx.host.name);
    },
  };
}

/** The check as the engine runs it on real hosts. */
export const sysctlCheck = makeSysctlCheck();
