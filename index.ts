/**
 * kdrift as a library (`import { ... } from 'kdrift'`): what the CLI does, for other programs (the Pulumi provider,
 * gate, watch, scripts). Declare → plan → collect → judge → act → tell, each step one call:
 *
 *   const inventory = await loadInventory({ inventory: 'hosts.yaml' });
 *   const baseline = inventory.baseline ? await loadBaselineFile(inventory.baseline) : fleetBaseline();
 *   const report = await runChecks({ inventory, baseline, hosts: inventory.hosts, sessionOptions: {}, concurrency: 64 });
 *   process.stdout.write(render(report, 'text'));
 *
 * One host: `openSession(host)` then `checkHost(session, host, baseline)`; remediation: `planRemediation` →
 * `applyPlan` (verifies, rolls back on failure) → `verifyHost`; `undoHost` reverts the newest unfinished journal.
 * Every error a caller can act on is a KdriftError.
 */
export { KdriftError, HostError, errorMessage } from './core/errors.js';

// Declare: inventory and baselines.
export { loadInventory, parseInventory, selectHosts, hostEntrySchema, type Inventory, type HostEntry } from './core/inventory.js';
export {
  parseBaseline,
  baselineSchema,
  type Baseline,
  type RoleBaseline,
  type SysctlExpectation,
  type RemediationPolicy,
} from './core/baseline.js';
export { loadBaselineFile } from './core/baseline-file.js';
// The sysctl rules (one owner): the drift rule for values and the role merge.
export { describeExpectation, meetsExpectation, mergeRoleSysctls, type DeclaredSysctl } from './core/sysctl-rules/index.js';
export { fleetBaseline, declaredRoles } from './stacks/baselines.js';
export { loadSuppressions, parseSuppressions, type SuppressionSet, type SuppressionRule } from './core/suppressions.js';

// Hosts: sessions.
export { openSession, defaultKnownHostsPath, type SessionOptions } from './core/sessions.js';
export type { HostSession, SessionTarget, ExecOptions, ExecResult } from './core/session.js';
export { DEFAULT_CONCURRENCY } from './core/pool.js';

// Plan, collect, judge: the engine.
export { planChecks, checkHost, runChecks, verdictFor, type CheckPlan, type CheckHostOptions, type RunChecksOptions, type ProgressEvent } from './core/engine/index.js';
export type { BehaviourSpec, CheckKind, CheckContext } from './checks/index.js';

// Tell: the report and its formats.
export { REPORT_VERSION, exitCodeFor, type Report, type HostReport, type ReportSummary, type Verdict, type FailOn } from './core/report.js';
export type { Finding, FindingStatus, Layer, Severity } from './core/finding.js';
export { render, renderChunks, RENDER_FORMATS, type RenderFormat } from './core/render/index.js';

// Act: remediation.
export {
  planRemediation,
  remediateHost,
  applyPlan,
  verifyHost,
  undoHost,
  revertHost,
  fixFleet,
  undoFleet,
  revertFleet,
  fleetExitCode,
  remediationPlanIsEmpty,
  renderPlan,
  renderOutcome,
  renderUndo,
  type RemediationPlan,
  type HostOutcome,
  type HostOutcomeStatus,
  type RemediateOptions,
  type UndoOutcome,
  type RevertOutcome,
  type RevertPlan,
  type RevertOptions,
  type VerifyResult,
  type FixFleetOptions,
  type FleetResult,
} from './remediation/index.js';
