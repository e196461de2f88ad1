import { windowScalingCheck } from './tcp-window-scaling.js';
import { zeroWindowCheck } from './tcp-zero-window.js';
import { retransmitsCheck } from './tcp-retransmits.js';

/**
 * The behaviour check kinds, judged from the probe agent's observation. All behaviour specs of a host share one agent
 * run (see checks/agent-run.ts): the engine may call each kind's collect; calls on one session in the same tick coalesce.
 */
export const behaviourChecks = [windowScalingCheck, zeroWindowCheck, retransmitsCheck] as const;

export { collectBehaviours, collectShared, agentArgv, type CollectOptions } from './agent-run.js';
