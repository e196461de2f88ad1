/**
 * The check kinds, as other folders see them: the CheckKind contract, the behaviour specs a baseline may declare,
 * the sysctl check, and the behaviour checks on demand (a config-only run must not load the probe's side of the code).
 */
export type { CheckKind, CheckContext } from './kind.js';
export { behaviourSpecSchema, type BehaviourSpec } from './registry.js';
export { makeSysctlCheck, sysctlCheck, judgeSysctl, observeSysctl, type SysctlObservation, type SysctlCheckOptions } from './sysctl.js';
export { COLLECT_SCRIPT, decodeSysctlState, collectSysctlState, type SysctlState } from './sysctl-persisted.js';
export { agentArgv, collectBehaviours, collectShared, parseObservation, type CollectOptions } from './agent-run.js';

/** The behaviour check kinds (checks/behaviours.ts), loaded when a run probes. */
export async function loadBehaviourCheckKinds() {
  return (await import('./behaviours.js')).behaviourChecks;
}
