/**
 * Remediation of ONE host: plan → (lock) → resolve a left-over journal → journal → apply → verify → keep or roll back.
 * The host ends either fully fixed and verified, or exactly as it was (proved by reading it back), and the outcome
 * says which. The Pulumi provider and `kdrift watch` call these functions as they are.
 *
 * Left-over journals (a run that died or lost its session): the next `kdrift fix` on the host rolls it back first —
 * automatically, under the lock, and only when every item is still either as it was or as kdrift left it (so nobody's
 * later edit is overwritten); otherwise it stops and asks for `kdrift fix --undo`. `--undo` restores regardless and
 * lists what had been changed since.
 *
 * A session that drops mid-way: with `reconnect`, the run opens a new session and carries on (verify, or roll back);
 * without one, the journal stays `applied`/`applying` and the outcome is `unfinished`.
 */
import type { Baseline } from '../core/baseline.js';
import type { HostEntry } from '../core/inventory.js';
import type { HostSession } from '../core/session.js';
import type { Finding } from '../core/finding.js';
import { errorMessage } from '../core/errors.js';
import { planIsEmpty, StalePlanError, type KindPlan, type PlanOptions, type RemediationKind } from './kind.js';
import { sysctlRemediation } from './sysctl.js';
import { HostLock } from './lock.js';
import { assertOwnsWrites } from './ownership.js';
import { detectNetns, isPerNetnsKey, machineWideReason } from './netns-scope.js';
import { DEFAULT_JOURNAL_DIR, JournalHandle, journalState, netnsId, newestUnfinished, pruneJournals, type Journal, type JournalKindRecord } from './journal.js';
import { verifyHost, type VerifyOptions, type VerifyResult } from './verify.js';

/** The kinds, in the order they apply (undo runs them in reverse). */
export const remediationKinds: readonly RemediationKind[] = [sysctlRemediation];

export interface RemediationPlan {
  host: string;
  createdAt: string;
  plans: KindPlan[];
  /** A journal a previous run left unfinished (a fix will roll it back first). */
  unfinished?: { journal: string; status: string; createdAt: string };
}

export type HostOutcomeStatus =
  | 'nothing-to-do' // no drift that kdrift may fix
  | 'planned' // dry run: the plan, nothing touched
  | 'verified' // applied, and the checks (behaviour included) pass
  | 'rolled-back' // applied (partly), then failed or did not verify: restored exactly as it was
  | 'unchanged' // could not start (lock held, no rights, host changed since the plan): nothing was touched
  | 'unfinished' // session lost after changing: the journal is left, run `kdrift fix --undo`
  | 'rollback-failed' // could not restore everything: the journal says what; a person must look
  | 'error'; // could not plan (unreachable, collection failed)

export interface HostOutcome {
  host: string;
  status: HostOutcomeStatus;
  plan?: RemediationPlan;
  /** Why it is not verified / what happened, one line each. */
  reasons: string[];
  /** Path of this run's journal on the host. */
  journal?: string;
  /** An earlier run's unfinished journal that this run rolled back first. */
  recovered?: { journal: string; status: string };
  /** Verification findings (planned keys and dependent behaviours). */
  findings?: Finding[];
  behaviours?: string[];
  reconnected?: boolean;
  timings: { planMs?: number; applyMs?: number; verifyMs?: number; totalMs: number };
}

export interface RemediateOptions extends PlanOptions {
  /** Plan only (nothing touched). */
  dryRun?: boolean;
  /** The plan the user approved: apply only if a fresh plan (under the lock) is the same. */
  approved?: RemediationPlan;
  journalDir?: string;
  staleLockMs?: number;
  verify?: VerifyOptions;
  /** Opens a new session to the same host when the current one dropped. */
  reconnect?: () => Promise<HostSession>;
  /** Called with the fresh plan before anything changes (the CLI prints it). */
  onPlan?: (plan: RemediationPlan) => void;
  /** Test hooks: fault injection at fixed points (e.g. kill the SSH connection after apply, or while verifying). */
  hooks?: { afterApply?: (session: HostSession) => Promise<void>; verifyStarted?: (session: HostSession) => void };
  kinds?: readonly RemediationKind[];
}

/**
 * Plans every kind for the host. Changes nothing. On a host that is a network namespace of a shared kernel, keys that
 * are not per-netns (remediation/netns-scope.ts) are taken out of the plan and listed as blocked, with the reason.
 */
export async function planRemediation(session: HostSession, host: HostEntry, baseline: Baseline, opts: RemediateOptions & { findings?: readonly Finding[] } = {}): Promise<RemediationPlan> {
  const now = opts.now ?? new Date();
  const kinds = opts.kinds ?? remediationKinds;
  const planAll = async (onlyKeys?: readonly string[]) => {
    const plans: KindPlan[] = [];
    for (const kind of kinds) plans.push(await kind.plan(session, { host, baseline, ...opts, ...(onlyKeys ? { onlyKeys } : {}), now }));
    return plans;
  };
  let plans = await planAll(opts.onlyKeys);
  const machineWide = plans.flatMap((p) => p.keys).filter((k) => !isPerNetnsKey(k));
  if (machineWide.length > 0) {
    const { sharedKernel } = await detectNetns(session, host);
    if (sharedKernel) {
      const refused = new Set(machineWide);
      const first = plans;
      const keep = first.flatMap((p) => [...p.keys, ...p.skipped.map((s) => s.key)]).filter((k) => !refused.has(k));
      plans = (await planAll(keep)).map((p, i) => {
        const blocked = (first[i]?.keys ?? []).filter((k) => refused.has(k)).map((key) => ({ key, reason: machineWideReason(key, sharedKernel), blocked: true }));
        return { ...p, skipped: [...p.skipped, ...blocked] };
      });
    }
  }
  await assertOwnsWrites(session, plans);
  return { host: host.name, createdAt: now.toISOString(), plans };
}

export function remediationPlanIsEmpty(plan: RemediationPlan): boolean {
  return plan.plans.every(planIsEmpty);
}

/** Same changes (runtime writes and file bytes), ignoring when the plans were made. */
export function samePlan(a: RemediationPlan, b: RemediationPlan): boolean {
  const strip = (p: RemediationPlan) => JSON.stringify(p.plans.map((k) => ({ kind: k.kind, runtime: k.runtime, files: k.files.map((f) => [f.path, f.before, f.after]) })));
  return strip(a) === strip(b);
}

/** Mutable holder so a reconnect swaps the session for everything that follows (lock release included). */
interface Conn {
  session: HostSession;
  reconnected: boolean;
}

async function alive(session: HostSession): Promise<boolean> {
  try {
    const res = await session.exec(['true'], { timeoutMs: 5000 });
    return res.code === 0;
  } catch {
    return false;
  }
}

/** Runs fn; if it fails because the session died, reconnects once (when allowed) and runs it again. */
async function withReconnect<T>(conn: Conn, opts: RemediateOptions, fn: (s: HostSession) => Promise<T>): Promise<T> {
  try {
    return await fn(conn.session);
  } catch (err) {
    if (!opts.reconnect || (await alive(conn.session))) throw err;
    conn.session = await opts.reconnect();
    conn.reconnected = true;
    return fn(conn.session);
  }
}

/**
 * Plan, and unless dryRun: apply, verify, and roll back on failure. Never throws for host problems: the outcome says
 * what happened. `session` may be replaced by a reconnect; the caller closes the one it gave (and outcome's is closed).
 */
export async function remediateHost(session: HostSession, host: HostEntry, baseline: Baseline, opts: RemediateOptions = {}): Promise<HostOutcome> {
  const t0 = Date.now();
  const timings: HostOutcome['timings'] = { totalMs: 0 };
  const done = (o: Omit<HostOutcome, 'host' | 'timings'>): HostOutcome => ({ host: host.name, ...o, timings: { ...timings, totalMs: Date.now() - t0 } });
  const kinds = opts.kinds ?? remediationKinds;
  const journalDir = opts.journalDir ?? DEFAULT_JOURNAL_DIR;
  const conn: Conn = { session, reconnected: false };

  let netns: string;
  try {
    netns = await netnsId(session);
  } catch (err) {
    return done({ status: 'error', reasons: [errorMessage(err)] });
  }

  if (opts.dryRun) {
    try {
      const plan = await planRemediation(session, host, baseline, opts);
      timings.planMs = Date.now() - t0;
      try {
        const left = await newestUnfinished(session, journalDir, netns);
        if (left) plan.unfinished = { journal: left.path, status: left.doc.status, createdAt: left.doc.createdAt };
      } catch {
        // unreadable journal dir (no rights): nothing to say in a dry run; a real fix reports it
      }
      return done({ status: remediationPlanIsEmpty(plan) ? 'nothing-to-do' : 'planned', plan, reasons: [] });
    } catch (err) {
      return done({ status: 'error', reasons: [errorMessage(err)] });
    }
  }

  const lock = await HostLock.tryAcquire(session, netns, opts.staleLockMs);
  if ('refused' in lock) return done({ status: 'unchanged', reasons: [lock.refused] });
  try {
    // 1. A journal an earlier run left unfinished is resolved first.
    let recovered: HostOutcome['recovered'];
    let journals: { dirExists: boolean; count: number };
    try {
      const st = await journalState(conn.session, journalDir, netns);
      journals = st;
      const left = st.unfinished;
      if (left) {
        const leftStatus = left.doc.status; // rollbackJournal moves it on
        const res = await rollbackJournal(conn.session, left.path, left.doc, kinds, { onlyIfUntouched: true });
        if (!res.restored) {
          return done({
            status: leftStatus === 'rollback-failed' || res.attempted ? 'rollback-failed' : 'unchanged',
            reasons: [`an earlier fix left journal ${left.path} (${leftStatus}) and it cannot be rolled back automatically:`, ...res.problems, `check the host, then run: kdrift fix --undo --host ${host.name}`],
            journal: left.path,
          });
        }
        recovered = { journal: left.path, status: leftStatus };
      }
    } catch (err) {
      return done({ status: 'unchanged', reasons: [errorMessage(err)] });
    }

    // 2. A fresh plan under the lock.
    let plan: RemediationPlan;
    try {
      plan = await planRemediation(conn.session, host, baseline, { ...opts, ...(opts.approved ? { now: new Date(opts.approved.createdAt) } : {}) });
    } catch (err) {
      return done({ status: 'error', reasons: [errorMessage(err)], ...(recovered ? { recovered } : {}) });
    }
    timings.planMs = Date.now() - t0;
    const base = { plan, ...(recovered ? { recovered } : {}) };
    if (opts.approved && !samePlan(opts.approved, plan)) {
      return done({ ...base, status: 'unchanged', reasons: ['the host changed since the plan was shown; nothing was changed — run kdrift fix again to see the new plan'] });
    }
    opts.onPlan?.(plan);
    if (remediationPlanIsEmpty(plan)) return done({ ...base, status: 'nothing-to-do', reasons: [] });

    // 3. Backups, then the journal, before any change.
    const tApply = Date.now();
    let journal: JournalHandle;
    try {
      const records: JournalKindRecord[] = [];
      for (const [i, kind] of kinds.entries()) records.push(await kind.backup(conn.session, plan.plans[i] as KindPlan));
      journal = await JournalHandle.create(conn.session, { dir: journalDir, host: host.name, netns, plans: plan.plans, records, dirExists: journals.dirExists });
    } catch (err) {
      const why = err instanceof StalePlanError ? `the host changed while planning (${err.message}); nothing was changed` : `${errorMessage(err)}; nothing was changed`;
      return done({ ...base, status: 'unchanged', reasons: [why] });
    }

    // 4. Apply.
    try {
      await withReconnect(conn, opts, async (s) => {
        journal.useSession(s);
        for (const [i, kind] of kinds.entries()) await kind.apply(s, plan.plans[i] as KindPlan);
      });
      await withReconnect(conn, opts, async (s) => {
        journal.useSession(s);
        await journal.setStatus('applied', 'all changes applied; verifying');
      });
    } catch (err) {
      timings.applyMs = Date.now() - tApply;
      return done({ ...base, ...(await rollbackAfter(conn, opts, journal, kinds, `apply failed: ${errorMessage(err)}`)), reconnected: conn.reconnected });
    }
    timings.applyMs = Date.now() - tApply;

    if (opts.hooks?.afterApply) await opts.hooks.afterApply(conn.session).catch(() => undefined);

    // 5. Verify (a dropped session is reconnected; checkHost reports host failures as status error, not throws).
    const tVerify = Date.now();
    let verdict: VerifyResult;
    const keys = plan.plans.flatMap((p) => p.keys);
    try {
      verdict = await withReconnect(conn, opts, async (s) => {
        opts.hooks?.verifyStarted?.(s);
        const v = await verifyHost(s, host, baseline, keys, opts.verify);
        if (v.error !== undefined) throw new Error(v.error);
        // A session that dropped DURING verification leaves findings `unknown` ("probe failed: connection lost") rather
        // than an error: that proves nothing either way, so reconnect and verify again before deciding to roll back.
        if (!v.ok && !(await alive(s))) throw new Error(`the session dropped during verification (${v.reasons[0] ?? 'no findings'})`);
        return v;
      });
    } catch (err) {
      timings.verifyMs = Date.now() - tVerify;
      return done({ ...base, ...(await rollbackAfter(conn, opts, journal, kinds, `verification could not run: ${errorMessage(err)}`)), reconnected: conn.reconnected });
    }
    timings.verifyMs = Date.now() - tVerify;
    const found = { findings: verdict.findings, behaviours: verdict.behaviours };
    if (!verdict.ok) {
      const rb = await rollbackAfter(conn, opts, journal, kinds, 'verification failed');
      return done({ ...base, ...found, ...rb, reasons: [...verdict.reasons, ...rb.reasons], reconnected: conn.reconnected });
    }
    journal.useSession(conn.session);
    try {
      await journal.setStatus('verified', `verified: ${keys.join(', ')}${verdict.behaviours.length ? `; behaviours ${verdict.behaviours.join(', ')}` : ''}`);
    } catch (err) {
      return done({ ...base, ...found, status: 'unfinished', journal: journal.path, reasons: [`verified, but the journal could not be marked so: ${errorMessage(err)}`], reconnected: conn.reconnected });
    }
    await pruneJournals(conn.session, journalDir, netns, undefined, journals.count + 1);
    return done({ ...base, ...found, status: 'verified', journal: journal.path, reasons: [], reconnected: conn.reconnected });
  } finally {
    const problem = await lock.release(conn.session);
    if (problem && process.env.KDRIFT_DEBUG) process.stderr.write(`kdrift fix: host ${host.name}: ${problem}\n`);
    if (conn.session !== session) await conn.session.close().catch(() => undefined);
  }
}

/** Rolls back this run's journal after a failure; reconnects first if the session died. */
async function rollbackAfter(
  conn: Conn,
  opts: RemediateOptions,
  journal: JournalHandle,
  kinds: readonly RemediationKind[],
  why: string,
): Promise<Pick<HostOutcome, 'status' | 'reasons' | 'journal'>> {
  if (!(await alive(conn.session))) {
    if (!opts.reconnect) {
      return { status: 'unfinished', journal: journal.path, reasons: [why, `the session to the host was lost; journal ${journal.path} is left ${journal.status}: run kdrift fix --undo (or kdrift fix, which rolls it back first)`] };
    }
    try {
      conn.session = await opts.reconnect();
      conn.reconnected = true;
    } catch (err) {
      return { status: 'unfinished', journal: journal.path, reasons: [why, `the session was lost and reconnecting failed (${errorMessage(err)}); journal ${journal.path} is left ${journal.status}: run kdrift fix --undo`] };
    }
  }
  journal.useSession(conn.session);
  const res = await rollbackJournal(conn.session, journal.path, journal.doc, kinds, { onlyIfUntouched: false, handle: journal, why });
  if (res.restored) return { status: 'rolled-back', journal: journal.path, reasons: [why, 'rolled back: every value and file is as it was (read back and compared)'] };
  return { status: 'rollback-failed', journal: journal.path, reasons: [why, 'rollback incomplete:', ...res.problems] };
}

export interface RollbackResult {
  restored: boolean;
  /** False when it refused before touching anything (onlyIfUntouched and something changed since). */
  attempted: boolean;
  problems: string[];
  /** Items changed by someone else since the journal (listed by --undo, which restores anyway). */
  changedSince: string[];
}

/** Restores a journal's before-state (kinds in reverse) and marks the journal rolled-back or rollback-failed. */
export async function rollbackJournal(
  session: HostSession,
  path: string,
  doc: Journal,
  kinds: readonly RemediationKind[],
  opts: { onlyIfUntouched: boolean; handle?: JournalHandle; why?: string },
): Promise<RollbackResult> {
  const byKind = new Map(kinds.map((k) => [k.kind, k]));
  const changedSince: string[] = [];
  for (const rec of doc.records) {
    const kind = byKind.get(rec.kind);
    if (!kind) return { restored: false, attempted: false, problems: [`journal has a "${rec.kind}" record this kdrift cannot undo`], changedSince };
    changedSince.push(...(await kind.changedSince(session, rec)));
  }
  if (opts.onlyIfUntouched && changedSince.length > 0) return { restored: false, attempted: false, problems: changedSince, changedSince };
  const problems: string[] = [];
  for (const rec of [...doc.records].reverse()) problems.push(...(await (byKind.get(rec.kind) as RemediationKind).undo(session, rec)));
  const handle = opts.handle ?? JournalHandle.attach(session, path, doc);
  const restored = problems.length === 0;
  try {
    await handle.setStatus(restored ? 'rolled-back' : 'rollback-failed', restored ? `rolled back${opts.why ? ` (${opts.why})` : ''}` : `rollback incomplete: ${problems.join('; ')}`);
  } catch (err) {
    problems.push(`the journal could not be updated: ${errorMessage(err)}`);
  }
  return { restored, attempted: true, problems, changedSince };
}

export interface UndoOutcome {
  host: string;
  status: 'nothing-to-undo' | 'rolled-back' | 'rollback-failed' | 'unchanged' | 'error';
  journal?: string;
  reasons: string[];
  changedSince?: string[];
}

/** `kdrift fix --undo`: restores the newest unfinished journal of the host, under the lock. */
export async function undoHost(session: HostSession, host: HostEntry, opts: Pick<RemediateOptions, 'journalDir' | 'staleLockMs' | 'kinds'> = {}): Promise<UndoOutcome> {
  const kinds = opts.kinds ?? remediationKinds;
  let netns: string;
  try {
    netns = await netnsId(session);
  } catch (err) {
    return { host: host.name, status: 'error', reasons: [errorMessage(err)] };
  }
  const lock = await HostLock.tryAcquire(session, netns, opts.staleLockMs);
  if ('refused' in lock) return { host: host.name, status: 'unchanged', reasons: [lock.refused] };
  try {
    const left = await newestUnfinished(session, opts.journalDir ?? DEFAULT_JOURNAL_DIR, netns);
    if (!left) return { host: host.name, status: 'nothing-to-undo', reasons: ['no unfinished journal for this host'] };
    const leftStatus = left.doc.status; // rollbackJournal moves it on
    const res = await rollbackJournal(session, left.path, left.doc, kinds, { onlyIfUntouched: false, why: 'kdrift fix --undo' });
    return {
      host: host.name,
      status: res.restored ? 'rolled-back' : 'rollback-failed',
      journal: left.path,
      reasons: res.restored ? [`restored the state from before ${left.doc.createdAt} (journal was ${leftStatus})`] : res.problems,
      ...(res.changedSince.length ? { changedSince: res.changedSince } : {}),
    };
  } catch (err) {
    return { host: host.name, status: 'error', reasons: [errorMessage(err)] };
  } finally {
    await lock.release(session);
  }
}
