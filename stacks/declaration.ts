/**
 * The declared state of one host in the shape a `kdrift:index:HostKernelState` resource takes it: TypeScript types
 * that make a bad declaration a compile error in a user's program (a typo'd field, `equals` together with `min`, a
 * severity that does not exist, a behaviour check with the wrong thresholds), and `hostDeclaration`, which resolves a
 * host's roles through the engine's own planner (core/engine.ts planHost) into those inputs.
 * The provider validates the same inputs again with the zod schemas (core/baseline.ts): types catch what TypeScript
 * can see, the schemas everything else (a key outside /proc/sys, a tuple with the wrong number of fields).
 */
import type { z } from 'zod';
import type { Baseline, SysctlExpectation } from '../core/baseline.js';
import type { Severity } from '../core/finding.js';
import type { HostEntry } from '../core/inventory.js';
import type { behaviourSpecSchema, BehaviourSpec } from '../checks/registry.js';
import { planHost } from '../core/engine.js';

/** `net.ipv4.tcp_sack` (dotted) or `net/ipv4/tcp_sack` (slashed): at least two segments. */
export type SysctlKey = `${string}.${string}` | `${string}/${string}`;
export type SysctlValue = number | string | readonly (number | string)[];
type NumericValue = number | `${number}` | readonly (number | `${number}`)[];

interface ExpectationCommon {
  severity?: Severity;
  remediation?: 'auto' | 'manual' | 'never';
  /** Why this value: shown next to a drift. */
  reason?: string;
}
/** Exactly one of equals, oneOf, or min and/or max. */
export type SysctlExpectationArgs = ExpectationCommon &
  (
    | { equals: SysctlValue; oneOf?: never; min?: never; max?: never }
    | { oneOf: readonly SysctlValue[]; equals?: never; min?: never; max?: never }
    | { min: NumericValue; max?: NumericValue; equals?: never; oneOf?: never }
    | { max: NumericValue; min?: never; equals?: never; oneOf?: never }
  );

/** A behaviour the probe must observe: the zod input type of the behaviour checks (discriminated by `check`). */
export type BehaviourArgs = z.input<typeof behaviourSpecSchema> & { dependsOn?: readonly SysctlKey[] };

/** One role of stacks/roles/: `satisfies RoleDeclaration` there turns a bad declaration into a compile error. */
export interface RoleDeclaration {
  description?: string;
  sysctls: { readonly [key: SysctlKey]: SysctlExpectationArgs };
  behaviours: readonly BehaviourArgs[];
}

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
  const plan = planHost(host, baseline);
  return {
    roles: [...host.roles],
    sysctls: Object.fromEntries([...plan.sysctls].map(([key, exp]) => [key, expectationArgs(exp)])),
    behaviours: plan.behaviours.map((b) => behaviourArgs(b.spec)),
  };
}
