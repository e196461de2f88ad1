/**
 * The declared state of one host in the shape a `kdrift:index:HostKernelState` resource takes it (types in
 * stacks/roles/types.ts): `hostDeclaration` resolves a host's roles through the engine's own planner
 * (core/engine planChecks) into those inputs. The provider validates them again with the zod schemas
 * (core/baseline.ts): types catch what TypeScript can see, the schemas everything else (a key outside /proc/sys, a
 * tuple with the wrong number of fields).
 */
import type { Baseline, SysctlExpectation } from '../core/baseline.js';
import type { HostEntry } from '../core/inventory.js';
import type { BehaviourSpec } from '../checks/registry.js';
import type { BehaviourArgs, ExpectationCommon, SysctlExpectationArgs, SysctlKey } from './roles/types.js';
import { planChecks } from '../core/engine/index.js';

/** The declared part of a HostKernelState's inputs: the host's roles merged (sysctls by key, behaviours deduplicated). */
export interface HostDeclaration {
  roles: string[];
  sysctls: Record<string, SysctlExpectationArgs>;
  behaviours: BehaviourArgs[];
}

/** A parsed expectation back in input form (drops the defaults' `undefined`s; values stay the kernel's text form). */
function expectationArgs(e: SysctlExpectation): SysctlExpectationArgs {
  const common: ExpectationCommon = { severity: e.severity, remediation: e.remediation, ...(e.reason !== undefined ? { reason: e.reason } : {}) };
  if (e.equals !== undefined) return { ...common, equals: e.equals };
  if (e.oneOf !== undefined) return { ...common, oneOf: e.oneOf };
  if (e.min !== undefined) return { ...common, min: e.min as `${number}`, ...(e.max !== undefined ? { max: e.max as `${number}` } : {}) };
  return { ...common, max: e.max as `${number}` };
}

/** A parsed behaviour back in input form: the window in milliseconds as a duration string (a bare number means seconds). */
function behaviourArgs(spec: BehaviourSpec): BehaviourArgs {
  return { ...spec, window: `${spec.window}ms`, dependsOn: spec.dependsOn as SysctlKey[] };
}

/** The host's declaration as the engine resolves it; throws the engine's KdriftError for a role the baseline lacks. */
export function hostDeclaration(host: HostEntry, baseline: Baseline): HostDeclaration {
  const plan = planChecks(host, baseline);
  return {
    roles: [...host.roles],
    sysctls: Object.fromEntries([...plan.sysctls].map(([key, exp]) => [key, expectationArgs(exp)])),
    behaviours: plan.behaviours.map((b) => behaviourArgs(b.spec)),
  };
}
