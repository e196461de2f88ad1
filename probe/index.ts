/**
 * The on-host agent library, as other folders see it: the agent's command (`kdrift probe`) and the observation it
 * prints, which the behaviour checks judge; the sysctl guard (loader, policy compiler, records) that `kdrift gate` and
 * `kdrift watch` run. Loading this loads no BPF: the addon is loaded when a program is.
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
export { SysctlGuard, attachEmptySysctlProgram, type GuardOptions, type GuardStats, type GuardRule } from './guard.js';
export { GUARD_LIMITS, type GuardEvent, type GuardMode, type GuardVerdict, type KernelRule } from './guard-codec.js';
export { cgroup2Root } from './cgroup.js';
export { serveMetrics } from './metrics.js';
export { OBSERVER_NAMES, DEFAULT_OBSERVERS, observerNamed, type ObserverName } from './observers/index.js';
export { Probe, type ProbeOptions } from './agent.js';
export { BpfObject } from './bpf.js';
