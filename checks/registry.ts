import { z } from 'zod';
import { windowScalingSpec } from './tcp-window-scaling.spec.js';
import { zeroWindowSpec } from './tcp-zero-window.spec.js';
import { retransmitsSpec } from './tcp-retransmits.spec.js';

/**
 * Behaviour declarations a baseline may hold, one per behaviour check kind. The spec schemas live beside their checks
 * (`checks/<kind>.spec.ts`) so the baseline model can load them without loading the probe's BPF side.
 */
export const behaviourSpecSchema = z.discriminatedUnion('check', [windowScalingSpec, zeroWindowSpec, retransmitsSpec]);
export type BehaviourSpec = z.output<typeof behaviourSpecSchema>;
