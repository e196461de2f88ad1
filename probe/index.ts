/**
 * The on-host agent library, as other folders see it: the agent's command (`kdrift probe`) and the observation it
 * prints, which the behaviour checks judge. Loading this loads no BPF: the command loads the agent when it runs.
 */
export { probeCommand } from './command.js';
export {
  probeObservationSchema,
  portSummarySchema,
  connectionSampleSchema,
  type ProbeObservation,
  type PortSummary,
  type ConnectionSample,
  type PeerSummary,
} from './observation.js';
export { addCounters, zeroCounters, type PortCounters } from './counters.js';
export { OBSERVER_NAMES, DEFAULT_OBSERVERS, observerNamed, type ObserverName } from './observers/index.js';
