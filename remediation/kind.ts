/**
 * The remediation interface. One file per kind (remediation/sysctl.ts is the first); every kind goes
 * plan (pure data, nothing touched) → apply (journal first, then changes) → verify (re-run the checks) → undo (from the
 * journal). remediation/host.ts orchestrates the kinds for one host; remediation/fleet.ts runs hosts with bounded
 * concurrency. The Pulumi provider and `kdrift watch` call it through remediation/index.ts.
 */
import type { HostSession } from '../core/session.js';
import type { HostEntry } from '../core/inventory.js';
import type { Baseline } from '../core/baseline.js';
import type { Finding } from '../core/finding.js';
import { KdriftError } from '../core/errors.js';
import type { JournalKindRecord } from './journal.js';

/** A runtime value kdrift will write. `from` null: the key could not be read. */
export interface RuntimeChange {
  key: string;
  from: string | null;
  to: string;
}

/** One file kdrift will write: exact contents before and after, and the unified diff between them. */
export interface FileChange {
  /** The path written (for an edited symlink: its target). */
  path: string;
  /** null: kdrift creates the file. */
  before: string | null;
  after: string;
  diff: string;
  /** Why the file changes, one line. */
  why: string;
  /** Set when the file is a copy in /etc/sysctl.d that shadows a vendor file of the same name. */
  shadowOf?: string;
}

/** A declared key that drifted but is not in the plan, and why (policy, a refusal, an unreadable value). */
export interface SkippedKey {
  key: string;
  reason: string;
  /** kdrift was allowed to fix it (policy) but could not (mask, refusal, key missing): the run does not count as fixed. */
  blocked?: boolean;
  /** The report leaves the key unknown (neither layer drifts): fix names it and changes nothing. */
  unknown?: boolean;
}

/** What one kind plans for one host. Pure data: JSON-serialisable, printable, comparable. */
export interface KindPlan {
  kind: string;
  runtime: RuntimeChange[];
  files: FileChange[];
  skipped: SkippedKey[];
  /** Keys (or items) the plan fixes: verification re-checks exactly these. */
  keys: string[];
}

export interface PlanOptions {
  /** Plan keys whose policy is `manual` too (never `never`). */
  includeManual?: boolean;
  /** Only these keys (e.g. the drifted keys of a report); default every declared key. */
  onlyKeys?: readonly string[];
  /** Date written into neutralisation markers (default now). */
  now?: Date;
}

export interface PlanContext extends PlanOptions {
  host: HostEntry;
  baseline: Baseline;
  /** Findings of a report the caller already has: only keys they show drifted are planned. */
  findings?: readonly Finding[];
}

export interface RemediationKind<P extends KindPlan = KindPlan> {
  readonly kind: string;
  /** Reads the host (as few execs as it can) and returns what would change. Changes nothing. */
  plan(session: HostSession, ctx: PlanContext): Promise<P>;
  /**
   * Reads everything undo needs (old values, byte-exact backups with mode and owner) and checks the host is still in
   * the state the plan was made from (throws StalePlanError otherwise). Changes nothing. The orchestrator writes the
   * returned record into the journal before any kind applies.
   */
  backup(session: HostSession, plan: P): Promise<JournalKindRecord>;
  /** Applies the plan. Throws when a step fails; the orchestrator then rolls back from the journal. */
  apply(session: HostSession, plan: P): Promise<void>;
  /** Restores the journal's before-state exactly; returns what could not be restored (empty = fully restored). */
  undo(session: HostSession, record: JournalKindRecord): Promise<string[]>;
  /**
   * What in the journal's items is neither as it was before nor as kdrift left it (someone changed it since): an
   * automatic rollback of a left-over journal is only done when this is empty.
   */
  changedSince(session: HostSession, record: JournalKindRecord): Promise<string[]>;
}

/** The host is no longer in the state a plan was made from (someone changed it since). */
export class StalePlanError extends KdriftError {
  override name = 'StalePlanError';
}

/** True when a plan changes nothing. */
export function planIsEmpty(plan: KindPlan): boolean {
  return plan.runtime.length === 0 && plan.files.length === 0;
}
