import type { z } from 'zod';
import type { Finding } from '../core/finding.js';
import type { HostSession } from '../core/session.js';
import type { HostEntry } from '../core/inventory.js';
import type { ObserverName, ProbeObservation } from '../probe/index.js';
import type { BehaviourBase } from './behaviour.schema.js';

/** Everything a check may know about the host it runs on, beyond the session. */
export interface CheckContext {
  host: HostEntry;
  roles: string[];
  /** Abort long collections (probe windows) when the run is cancelled. */
  signal?: AbortSignal;
  /**
   * Judge the probe's own test connections when no real connection was seen (remediation's verification on a quiet
   * host). A report leaves it unset: its shares are real traffic only.
   */
  ownTraffic?: boolean;
}

/**
 * A check kind: one file in checks/. `collect` touches the host (through the session only, in as few execs as it can);
 * `judge` is pure and turns what was collected into findings.
 */
export interface CheckKind<Spec, Observation> {
  /** Name used in baselines and findings (`sysctl`, `tcp.windowScaling`). */
  readonly kind: string;
  readonly layer: 'config' | 'behaviour';
  /** zod schema of one declaration of this kind in a baseline. */
  readonly specSchema: z.ZodType<Spec, z.ZodTypeDef, unknown>;
  collect(session: HostSession, specs: ReadonlyMap<string, Spec>, ctx: CheckContext): Promise<Observation>;
  judge(observation: Observation, specs: ReadonlyMap<string, Spec>, ctx: CheckContext): Finding[];
}

/**
 * A behaviour check kind: judged from the probe agent's observation. `observes` names the agent observer it needs
 * (probe/observers/index.ts): the agent loads exactly the observers of the kinds a host declares, and nothing outside
 * the kind names it. Built with behaviourKind() (checks/behaviour-kind.ts), listed once in checks/registry.ts.
 */
export interface BehaviourKind<S extends BehaviourSchema = BehaviourSchema> extends CheckKind<z.output<S>, ProbeObservation> {
  readonly kind: z.output<S>['check'];
  readonly layer: 'behaviour';
  readonly specSchema: S;
  readonly observes: ObserverName;
}

/**
 * What every behaviour spec schema is (behaviourSpec() in checks/behaviour.schema.ts builds them): a strict zod object
 * whose output has a `check` name and the shared base fields. The shape is `any` because zod's ZodObject is invariant
 * in it: a concrete kind's shape is not assignable to any wider one.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type BehaviourSchema = z.ZodObject<any, 'strict', z.ZodTypeAny, BehaviourBase & { check: string }>;
