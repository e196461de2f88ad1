/**
 * The check kinds, as other folders see them: the CheckKind contract, the one registry of kinds (checks/registry.ts)
 * with the behaviour specs a baseline may declare, the sysctl check, and the controller side of the probe agent.
 */
export type { CheckKind, CheckContext, BehaviourKind } from './kind.js';
export { behaviourSpecSchema, behaviourKinds, behaviourKindNamed, configKinds, type BehaviourSpec } from './registry.js';
export { makeSysctlCheck, sysctlCheck, judgeSysctl, observeSysctl, type SysctlObservation, type SysctlCheckOptions } from './sysctl.js';
export { COLLECT_SCRIPT, decodeSysctlState, collectSysctlState, type SysctlState } from './sysctl-persisted.js';
export { agentArgv, collectBehaviours, collectShared, parseObservation, type CollectOptions, type ObservedSpec } from './agent-run.js';
