/**
 * THE list of check kinds: adding a kind is its files (see checks/README.md) and one line here. The baseline's
 * behaviour schema, the engine's dispatch and the agent's `--observe` all follow from this list.
 */
import { z } from 'zod';
import type { BehaviourKind } from './kind.js';
import { windowScalingCheck } from './tcp-window-scaling.js';
import { zeroWindowCheck } from './tcp-zero-window.js';
import { retransmitsCheck } from './tcp-retransmits.js';
import { congestionControlCheck } from './tcp-congestion-control.js';

/** Behaviour kinds: declared in a role's `behaviours`, judged from the probe agent's observation. */
export const behaviourKinds = [windowScalingCheck, zeroWindowCheck, retransmitsCheck, congestionControlCheck] as const;

/**
 * Config kinds: declared in a role's own map (`sysctls`), judged from what the host's files and /proc say. Loaded on
 * first use: the sysctl kind imports the baseline model, which imports this registry for the behaviour schemas.
 */
export const configKinds = {
  sysctl: async () => (await import('./sysctl.js')).makeSysctlCheck,
} as const;

type SpecSchemas<K extends readonly BehaviourKind[]> = { -readonly [I in keyof K]: K[I]['specSchema'] };
/** One behaviour declaration of a baseline, any kind (discriminated by `check`). */
export const behaviourSpecSchema = z.discriminatedUnion('check', behaviourKinds.map((k) => k.specSchema) as unknown as SpecSchemas<typeof behaviourKinds>);
export type BehaviourSpec = z.output<typeof behaviourSpecSchema>;

/** The behaviour kind named `check`, if built in. */
export function behaviourKindNamed(check: string): BehaviourKind | undefined {
  return (behaviourKinds as readonly BehaviourKind[]).find((k) => k.kind === check);
}
