/**
 * The role merge: a host's declared sysctls are the union of its roles'. Two roles declaring one key identically is
 * fine; differently is an error naming both roles and the key — never "the last role wins".
 */
import { isDeepStrictEqual } from 'node:util';
import type { Baseline, SysctlExpectation } from '../baseline.js';
import { KdriftError } from '../errors.js';
import { describeExpectation } from './expectation.js';

export interface DeclaredSysctl {
  key: string;
  exp: SysctlExpectation;
  /** The roles declaring it, in the host's role order. */
  roles: string[];
}

/** `where` names the host (or lab host) in errors. */
export function mergeRoleSysctls(roles: readonly string[], baseline: Baseline, where: string): Map<string, DeclaredSysctl> {
  const out = new Map<string, DeclaredSysctl>();
  for (const role of roles) {
    const rb = baseline.roles[role];
    if (!rb) throw new KdriftError(`has role "${role}", which the baseline does not declare (roles: ${Object.keys(baseline.roles).join(', ')})`, where);
    for (const [key, exp] of rb.sysctls) {
      const prev = out.get(key);
      if (!prev) {
        out.set(key, { key, exp, roles: [role] });
        continue;
      }
      if (!isDeepStrictEqual(prev.exp, exp)) {
        const show = (e: SysctlExpectation) => `"${describeExpectation(e)}" (severity ${e.severity}, remediation ${e.remediation})`;
        throw new KdriftError(
          `roles "${prev.roles[0]}" and "${role}" declare ${key} differently: ${show(prev.exp)} vs ${show(exp)}; make them agree or split the host's roles`,
          where,
        );
      }
      prev.roles.push(role);
    }
  }
  return out;
}
