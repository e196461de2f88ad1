/**
 * The remediation API, as the CLI, the Pulumi provider and `kdrift watch` call it:
 *
 *   planRemediation(session, host, baseline, { findings?, includeManual?, onlyKeys? }) → RemediationPlan   pure data, nothing touched
 *   remediateHost(session, host, baseline, { approved?, reconnect?, verify?, ... }) → HostOutcome
 *       lock → roll back a left-over journal → fresh plan (must equal `approved` if given) → journal → apply →
 *       verify (config + dependent behaviours) → verified, or rolled back exactly
 *   applyPlan(session, host, baseline, plan, opts) → HostOutcome   remediateHost with `approved: plan`
 *   verifyHost(session, host, baseline, keys, opts) → VerifyResult
 *   undoHost(session, host, opts) → UndoOutcome   restores the newest unfinished journal
 *   revertHost(session, host, { journal?, dryRun?, approved? }) → RevertOutcome   restores what was there before the
 *       newest verified fix (or the given journal), keeping a copy of anything changed since (the provider's Delete)
 *   fixFleet(opts) / undoFleet(opts) / revertFleet(opts)   many hosts, bounded concurrency
 *
 * Statuses a caller acts on: `verified` (done), `nothing-to-do`, `rolled-back` / `unchanged` (not fixed, host as it
 * was), `unfinished` (session lost after changing: undo), `rollback-failed` (a person must look), `error`.
 */
import type { Baseline } from '../core/baseline.js';
import type { HostEntry } from '../core/inventory.js';
import type { HostSession } from '../core/session.js';
import { remediateHost, type HostOutcome, type RemediationPlan, type RemediateOptions } from './host.js';

export { planRemediation, remediateHost, undoHost, rollbackJournal, samePlan, remediationPlanIsEmpty, remediationKinds } from './host.js';
export type { RemediationPlan, HostOutcome, HostOutcomeStatus, RemediateOptions, UndoOutcome } from './host.js';
export { verifyHost, verificationBaseline, type VerifyResult, type VerifyOptions } from './verify.js';
export { fixFleet, undoFleet, revertFleet, fleetExitCode, revertExitCode, blockedKeys, type FixFleetOptions, type FleetResult, type RevertFleetOptions } from './fleet.js';
export { revertHost, pickRevertJournal, type RevertOutcome, type RevertPlan, type RevertStatus, type RevertOptions, type RevertRuntimeStep, type RevertFileStep } from './revert.js';
export type { KindPlan, RuntimeChange, FileChange, SkippedKey, RemediationKind } from './kind.js';
export { KDRIFT_CONF } from './sysctl-plan.js';
export { DEFAULT_JOURNAL_DIR, type Journal, type JournalStatus } from './journal.js';
export { renderPlan, renderOutcome, renderUndo, renderRevertPlan, renderRevertOutcome } from './render.js';

/** Applies a plan the user (or `pulumi preview`) saw: a host that changed since is left unchanged and says so. */
export function applyPlan(session: HostSession, host: HostEntry, baseline: Baseline, plan: RemediationPlan, opts: Omit<RemediateOptions, 'approved' | 'dryRun'> = {}): Promise<HostOutcome> {
  return remediateHost(session, host, baseline, { ...opts, approved: plan });
}
