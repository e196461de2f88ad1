/**
 * The engine, as other folders see it: baseline × inventory → a CheckPlan per host → collect → judge → verdict →
 * one Report (run.ts). It sits above the check kinds and the model, below remediation and the faces.
 */
export {
  planChecks,
  checkHost,
  runChecks,
  verdictFor,
  behaviourKey,
  type CheckPlan,
  type CheckHostOptions,
  type RunChecksOptions,
  type ProgressEvent,
} from './run.js';
export { findRootCauses, type RootCauseInput, type RootCauseResult } from './root-cause.js';
export { KeptSessions } from './kept-sessions.js';
export { WRITE_LOG_PATH, attributeWriters, lastWriters, describeWriter, type LoggedWrite } from './write-log.js';
