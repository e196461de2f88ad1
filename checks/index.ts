/**
 * The check kinds, as other folders see them: the CheckKind contract, the one registry of kinds (checks/registry.ts)
 * with the behaviour specs a baseline may declare, the sysctl check, and the controller side of the probe agent.
 */
export type { CheckKind, CheckContext, BehaviourKind } from './kind.js';
export { behaviourSpecSchema, behaviourKinds, behaviourKindNamed, configKinds, type BehaviourSpec } from './registry.js';
export { makeSysctlCheck, sysctlCheck, judgeSysctl, assignmentSource, NOT_PERSISTED, type SysctlObservation, type SysctlCheckOptions } from './sysctl.js';
export {
  SYSCTL_DIRS,
  SYSCTL_CONF,
  normaliseConfKey,
  parseSysctlConf,
  sysctlGlobMatches,
  resolvePersisted,
  orderConfFiles,
  decodeSysctlState,
  collectSysctlState,
  type SysctlConfFile,
  type SysctlAssignment,
  type SysctlDirEntry,
  type SysctlState,
} from './sysctl-persisted.js';
export { agentArgv, collectBehaviours, collectShared, parseObservation, type CollectOptions, type ObservedSpec } from './agent-run.js';
