/**
 * Types of a role declaration (stacks/roles/*.ts `satisfies RoleDeclaration`) and of a HostKernelState's declared
 * inputs: a misspelt field, `equals` with `min`, an unknown severity or a behaviour with another check's thresholds
 * is a compile error. The zod schemas (core/baseline.ts) validate the same values again at run time.
 */
import type { z } from 'zod';
import type { Severity } from '../../core/finding.js';
import type { behaviourSpecSchema } from '../../checks/registry.js';

/** `net.ipv4.tcp_sack` (dotted) or `net/ipv4/tcp_sack` (slashed): at least two segments. */
export type SysctlKey = `${string}.${string}` | `${string}/${string}`;
export type SysctlValue = number | string | readonly (number | string)[];
type NumericValue = number | `${number}` | readonly (number | `${number}`)[];

export interface ExpectationCommon {
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
