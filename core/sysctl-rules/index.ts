/**
 * The sysctl rules, one owner: the sysctl.d grammar of the boot appliers (systemd-sysctl, procps `sysctl --system`), the
 * precedence resolver, the per-key drift rule and the role merge. checks/, remediation/, lab/ and every face call
 * these; nothing re-implements them. Imports only core's transport/model files (errors, baseline types, sysctl-key,
 * finding).
 */
export { bytesOf, bufferOf, bytesFromText, displayBytes, textOf, type Bytes } from './bytes.js';
export { APPLIERS, PROCPS_SYSCTL_DIRS, SYSCTL_CONF, SYSCTL_DIRS, SYSTEMD_SYSCTL_DIRS, type Applier } from './paths.js';
export { confLines, parseProcpsLine, parseSystemdLine, procpsLines, systemdLines, keyOfPath, type ConfLine, type ParsedLine, type RawLine } from './grammar.js';
export { globMatchesPath } from './glob.js';
export { kernelWrite, shapeOf, type KernelShape } from './kernel.js';
export { describeEntry, entryPath, isSysctlConf, sourcesOf, withFileContents, type EntryKind, type SysctlEntry, type SysctlTree } from './tree.js';
export { assignmentSource, readAll, resolveBoot, type Assignment, type BootStatus, type BootValue, type BootValues } from './resolve.js';
export { describeExpectation, meetsExpectation, meetsExpectationFields } from './expectation.js';
export { judgeApplier, judgeKey, keyVerdict, NOT_PERSISTED, NOT_PERSISTED_DRIFT, type ApplierVerdict, type KeyState } from './drift.js';
export { mergeRoleSysctls, type DeclaredSysctl } from './merge.js';
