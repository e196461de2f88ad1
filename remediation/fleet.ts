/**
 * `kdrift fix` over many hosts with bounded concurrency. Two shapes:
 *  - with `confirm` (interactive): plan every host (dry run), show the plans, ask once, then apply each host with the
 *    approved plan (a host that changed in between is left unchanged and says so);
 *  - without (`--yes`, the Pulumi provider, `kdrift watch`): each host in one pass — plan under its lock, apply, verify.
 */
import type { Baseline } from '../core/baseline.js';
import type { HostEntry } from '../core/inventory.js';
import type { HostSession } from '../core/session.js';
import { openSession, type SessionOptions } from '../core/sessions.js';
import { mapLimit } from '../core/pool.js';
import { errorMessage } from '../core/errors.js';
import { revertHost, type RevertOutcome, type RevertPlan } from './revert.js';
import { remediateHost, undoHost, remediationPlanIsEmpty, type HostOutcome, type RemediationPlan, type RemediateOptions, type UndoOutcome } from './host.js';

export interface FixFleetOptions extends Omit<RemediateOptions, 'approved' | 'reconnect' | 'onPlan'> {
  hosts: HostEntry[];
  baseline: Baseline;
  sessionOptions: SessionOptions;
  concurrency: number;
  /** Asked once with every host's plan (hosts with changes only); false = change nothing. Absent = no question. */
  confirm?: (plans: RemediationPlan[]) => Promise<boolean>;
  /** Called with each host's plan as soon as it is known (single-pass mode), to print it. */
  onPlan?: (plan: RemediationPlan) => void;
  onOutcome?: (outcome: HostOutcome) => void;
  /** Opens sessions (default core/sessions openSession); tests and the Pulumi provider may pass their own. */
  open?: (host: HostEntry) => Promise<HostSession>;
  /** Reconnect when a session drops mid-fix (default true). */
  reconnect?: boolean;
}

export interface FleetResult {
  outcomes: HostOutcome[];
  /** The user declined the plan: nothing was changed. */
  declined?: boolean;
  exitCode: number;
}

/**
 * 0 all planned fixes verified (or nothing to do / dry run), 2 something not fixed (including a drifted key kdrift may fix
 * but could not even plan: a mask, a refused symlink), 1 a host could not be planned.
 */
export function fleetExitCode(outcomes: readonly HostOutcome[]): number {
  if (outcomes.some((o) => o.status === 'error')) return 1;
  if (outcomes.some((o) => !['nothing-to-do', 'planned', 'verified'].includes(o.status))) return 2;
  if (outcomes.some((o) => o.status !== 'planned' && blockedKeys(o).length > 0)) return 2;
  return 0;
}

/** Drifted keys the policy allows kdrift to fix but that it could not plan (with why). */
export function blockedKeys(o: Pick<HostOutcome, 'plan'>): { key: string; reason: string }[] {
  return (o.plan?.plans ?? []).flatMap((p) => p.skipped.filter((s) => s.blocked));
}

export async function fixFleet(opts: FixFleetOptions): Promise<FleetResult> {
  const open = opts.open ?? ((h: HostEntry) => openSession(h, opts.sessionOptions));
  const { hosts, baseline, concurrency, confirm, onOutcome, onPlan, open: _open, reconnect: _reconnect, sessionOptions: _so, ...rest } = opts;
  const reconnectFor = (h: HostEntry) => (opts.reconnect === false ? {} : { reconnect: () => open(h) });

  const runHost = async (host: HostEntry, extra: Partial<RemediateOptions>): Promise<HostOutcome> => {
    const t0 = Date.now();
    let session: HostSession | undefined;
    try {
      session = await open(host);
    } catch (err) {
      return { host: host.name, status: 'error', reasons: [errorMessage(err).replace(/^host [^:]+: /, '')], timings: { totalMs: Date.now() - t0 } };
    }
    try {
      return await remediateHost(session, host, baseline, { ...rest, ...reconnectFor(host), ...extra });
    } catch (err) {
      // remediateHost reports host problems in its outcome; anything thrown is an input error or a bug.
      return { host: host.name, status: 'error', reasons: [errorMessage(err)], timings: { totalMs: Date.now() - t0 } };
    } finally {
      await session.close().catch(() => undefined);
    }
  };

  if (opts.dryRun || !confirm) {
    const outcomes = await mapLimit(hosts, Math.max(1, concurrency), async (h) => {
      const o = await runHost(h, onPlan ? { onPlan } : {});
      onOutcome?.(o);
      return o;
    });
    return { outcomes, exitCode: fleetExitCode(outcomes) };
  }

  // Interactive: plan all, ask once, apply the approved plans.
  const planned = await mapLimit(hosts, Math.max(1, concurrency), (h) => runHost(h, { dryRun: true }));
  const toApply = planned.filter((o) => o.status === 'planned' && o.plan && !remediationPlanIsEmpty(o.plan));
  if (toApply.length === 0) {
    planned.forEach((o) => onOutcome?.(o));
    return { outcomes: planned, exitCode: fleetExitCode(planned) };
  }
  if (!(await confirm(toApply.map((o) => o.plan as RemediationPlan)))) {
    return { outcomes: planned, declined: true, exitCode: 1 };
  }
  const byName = new Map(hosts.map((h) => [h.name, h]));
  const applied = await mapLimit(planned, Math.max(1, concurrency), async (o) => {
    if (!toApply.includes(o)) {
      onOutcome?.(o);
      return o;
    }
    const res = await runHost(byName.get(o.host) as HostEntry, { approved: o.plan as RemediationPlan, dryRun: false });
    onOutcome?.(res);
    return res;
  });
  return { outcomes: applied, exitCode: fleetExitCode(applied) };
}

export async function undoFleet(opts: Pick<FixFleetOptions, 'hosts' | 'sessionOptions' | 'concurrency' | 'journalDir' | 'staleLockMs' | 'open'> & { onOutcome?: (o: UndoOutcome) => void }): Promise<{ outcomes: UndoOutcome[]; exitCode: number }> {
  const open = opts.open ?? ((h: HostEntry) => openSession(h, opts.sessionOptions));
  const outcomes = await mapLimit(opts.hosts, Math.max(1, opts.concurrency), async (host) => {
    let session: HostSession | undefined;
    let o: UndoOutcome;
    try {
      session = await open(host);
      o = await undoHost(session, host, { ...(opts.journalDir ? { journalDir: opts.journalDir } : {}), ...(opts.staleLockMs !== undefined ? { staleLockMs: opts.staleLockMs } : {}) });
    } catch (err) {
      o = { host: host.name, status: 'error', reasons: [errorMessage(err).replace(/^host [^:]+: /, '')] };
    } finally {
      await session?.close().catch(() => undefined);
    }
    opts.onOutcome?.(o);
    return o;
  });
  const exitCode = outcomes.some((o) => o.status === 'error') ? 1 : outcomes.some((o) => o.status === 'rollback-failed' || o.status === 'unchanged') ? 2 : 0;
  return { outcomes, exitCode };
}

export interface RevertFleetOptions extends Pick<FixFleetOptions, 'hosts' | 'sessionOptions' | 'concurrency' | 'journalDir' | 'staleLockMs' | 'open'> {
  /** A journal id (with a single host); default each host's newest verified fix. */
  journal?: string;
  dryRun?: boolean;
  /** Asked once with every host's revert plan; false = change nothing. Absent = no question (--yes). */
  confirm?: (plans: RevertPlan[]) => Promise<boolean>;
  onPlan?: (plan: RevertPlan) => void;
  onOutcome?: (o: RevertOutcome) => void;
}

/** 0 reverted (or nothing to revert, or a dry run), 2 something not reverted, 1 a host could not be planned. */
export function revertExitCode(outcomes: readonly RevertOutcome[]): number {
  if (outcomes.some((o) => o.status === 'error')) return 1;
  return outcomes.some((o) => o.status === 'unchanged' || o.status === 'revert-failed') ? 2 : 0;
}

/** `kdrift fix --revert`: plan every host, show, ask once (unless --yes), revert each approved plan under its lock. */
export async function revertFleet(opts: RevertFleetOptions): Promise<{ outcomes: RevertOutcome[]; declined?: boolean; exitCode: number }> {
  const open = opts.open ?? ((h: HostEntry) => openSession(h, opts.sessionOptions));
  const base = { ...(opts.journal ? { journal: opts.journal } : {}), ...(opts.journalDir ? { journalDir: opts.journalDir } : {}), ...(opts.staleLockMs !== undefined ? { staleLockMs: opts.staleLockMs } : {}) };
  const runHost = async (host: HostEntry, extra: { dryRun?: boolean; approved?: RevertPlan }): Promise<RevertOutcome> => {
    let session: HostSession | undefined;
    try {
      session = await open(host);
      return await revertHost(session, host, { ...base, ...extra });
    } catch (err) {
      return { host: host.name, status: 'error', saved: [], reasons: [errorMessage(err).replace(/^host [^:]+: /, '')] };
    } finally {
      await session?.close().catch(() => undefined);
    }
  };
  const limit = Math.max(1, opts.concurrency);
  const planned = await mapLimit(opts.hosts, limit, (h) => runHost(h, { dryRun: true }));
  const toApply = planned.filter((o) => o.status === 'planned' && o.plan);
  for (const o of toApply) opts.onPlan?.(o.plan as RevertPlan);
  if (opts.dryRun || toApply.length === 0) {
    planned.forEach((o) => opts.onOutcome?.(o));
    return { outcomes: planned, exitCode: revertExitCode(planned) };
  }
  if (opts.confirm && !(await opts.confirm(toApply.map((o) => o.plan as RevertPlan)))) return { outcomes: planned, declined: true, exitCode: 1 };
  const byName = new Map(opts.hosts.map((h) => [h.name, h]));
  const outcomes = await mapLimit(planned, limit, async (o) => {
    const res = toApply.includes(o) ? await runHost(byName.get(o.host) as HostEntry, { approved: o.plan as RevertPlan }) : o;
    opts.onOutcome?.(res);
    return res;
  });
  return { outcomes, exitCode: revertExitCode(outcomes) };
}
