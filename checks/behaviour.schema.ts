import { z } from 'zod';
import { sysctlKeySchema } from '../core/sysctl-key.js';
import { durationMsSchema } from '../core/duration.js';
import { SEVERITIES, type Severity } from '../core/finding.js';

/**
 * Fields every behaviour declaration shares; each behaviour check extends this with its own thresholds through
 * behaviourSpec(). Other fields every kind should have go here, once.
 */
export const behaviourBase = {
  /** TCP port the behaviour is observed on (a listening port of the host, or the peer port of its connections). */
  port: z.number().int().min(1).max(65535),
  /**
   * Which leg: `in` = connections the host accepts on its listening `port`; `out` = connections it opens to peers'
   * `port` (a load balancer's backend leg).
   */
  direction: z.enum(['in', 'out']).default('in'),
  /** How long the probe observes. */
  window: durationMsSchema.default('10s'),
  severity: z.enum(SEVERITIES as [Severity, ...Severity[]]).default('high'),
  /**
   * Sysctls this behaviour follows: remediation re-verifies the behaviour after fixing one of them, and a report joins
   * the config finding with the behaviour finding.
   */
  dependsOn: z.array(sysctlKeySchema).default([]),
};

export interface BehaviourBase {
  port: number;
  direction: 'in' | 'out';
  window: number;
  severity: Severity;
  dependsOn: string[];
}

/** A behaviour kind's spec schema: `check: <name>`, the shared base fields, the kind's own fields; unknown keys refused. */
export function behaviourSpec<Check extends string, Shape extends z.ZodRawShape>(check: Check, own: Shape) {
  return z.object({ check: z.literal(check), ...behaviourBase, ...own }).strict();
}
