import type { z } from 'zod';
import type { Finding } from '../core/finding.js';
import type { HostSession } from '../core/session.js';
import type { HostEntry } from '../core/inventory.js';

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
