/**
 * `kdrift fix --revert [JOURNAL]`: put back what was there before a VERIFIED fix — runtime values and files byte for
 * byte, from that fix's journal — after the fix was found to break something. The Pulumi provider's Delete calls
 * `revertHost` too.
 *
 *  - Which journal: the given one, or the newest verified one of the host's network namespace. Only the newest fix
 *    that is still in effect can be reverted (journals are scanned newest first; rolled-back and reverted ones are
 *    passed over): reverting an older one would restore bytes a later fix built on. An unfinished journal in the way
 *    means `kdrift fix --undo` first.
 *  - Anything changed since the fix (neither as kdrift left it nor as it was) is kept: a file is copied beside itself
 *    as `<file>.kdrift-saved-<time>` (a name systemd-sysctl never reads: it does not end in .conf) before it is
 *    restored, and the plan and outcome say so. A runtime value changed since is only reported (there is nothing to
 *    copy it to but the journal event).
 *  - Plan first (pure data, printed; `--dry-run` stops there), then under the host's fix lock: the journal goes to
 *    `reverting`, copies are written, the kind's undo restores only what differs and proves it by reading everything
 *    back; the journal goes to `reverted`. A run that dies half-way leaves `reverting`: running --revert again
 *    finishes it (restoring is idempotent).
 */
import type { HostEntry } from '../core/inventory.js';
import type { HostSession } from '../core/session.js';
import { HostError, errorMessage } from '../core/errors.js';
import { sysctlProcPath } from '../core/sysctl-key.js';
import { HostLock } from './lock.js';
import { DEFAULT_JOURNAL_DIR, JournalHandle, listJournals, readJournal, UNFINISHED, type Journal } from './journal.js';
import { detectNetns } from './netns-scope.js';
import { snapshot, isAbsent, isFile, type FileState } from './host-files.js';
import { sameSysctlValue } from './target.js';
import { unifiedDiff } from './diff.js';
import type { RemediationKind } from './kind.js';
import { remediationKinds } from './host.js';

export interface RevertRuntimeStep {
  key: string;
  now: string | null;
  /** The value before the fix. */
  to: string;
  /** Changed by someone since the fix (neither what kdrift set nor what was there). */
  changedSince: boolean;
}

export interface RevertFileStep {
  path: string;
  action: 'restore' | 'remove';
  /** Changed since the fix: the current bytes are saved to `saveAs` first. */
  changedSince: boolean;
  saveAs?: string;
  diff: string;
}

export interface RevertPlan {
  host: string;
  createdAt: string;
  journal: string;
  journalId: string;
  fixedAt: string;
  runtime: RevertRuntimeStep[];
  files: RevertFileStep[];
}

export type RevertStatus =
  | 'nothing-to-revert' // no verified fix in effect
  | 'planned' // dry run: the plan, nothing touched
  | 'reverted' // restored and read back byte for byte (or already as before: the journal is marked reverted)
  | 'unchanged' // refused before changing anything (lock held, host changed since the plan, journal in the way)
  | 'revert-failed' // something could not be restored: the journal stays `reverting`, the reasons say what
  | 'error'; // could not plan

export interface RevertOutcome {
  host: string;
  status: RevertStatus;
  plan?: RevertPlan;
  journal?: string;
  /** Copies kept of what had changed since the fix. */
  saved: string[];
  reasons: string[];
}

export interface RevertOptions {
  /** A journal id (`<netns>-<time>-<rand>`), its file name or its path; default the newest verified fix. */
  journal?: string;
  dryRun?: boolean;
  /** The plan the user approved: revert only if a fresh plan (under the lock) is the same. */
  approved?: RevertPlan;
  journalDir?: string;
  staleLockMs?: number;
  kinds?: readonly RemediationKind[];
  now?: Date;
}

/** Picks the journal to revert from the host's journals (newest first). Pure. */
export function pickRevertJournal(journals: readonly { path: string; doc: Pick<Journal, 'id' | 'status'> }[], wanted?: string): { path: string } | { none: string } | { refuse: string } {
  const matches = (j: { path: string; doc: Pick<Journal, 'id'> }) => wanted === undefined || j.doc.id === wanted || j.path === wanted || j.path.endsWith(`/${wanted}`) || j.path.endsWith(`/${wanted}.json`);
  for (const j of journals) {
    if (j.doc.status === 'rolled-back' || j.doc.status === 'reverted') {
      if (wanted !== undefined && matches(j)) return { refuse: `journal ${j.path} is ${j.doc.status}: there is nothing of it to revert` };
      continue;
    }
    if (UNFINISHED.includes(j.doc.status)) return { refuse: `journal ${j.path} is ${j.doc.status} (a fix that did not finish): run kdrift fix --undo first` };
    // verified or reverting: the fix in effect
    if (matches(j)) return { path: j.path };
    return { refuse: `journal ${wanted} is not the newest fix in effect: ${j.path} (${j.doc.status}) came after it; revert that one first` };
  }
  return { none: wanted === undefined ? 'no verified fix to revert on this host' : `no journal ${wanted} for this host` };
}

function stamp(now: Date): string {
  return now.toISOString().replace(/[-:.]/g, '');
}

/** The plan: what differs from the fix's before-state now. Reads the host; changes nothing. */
async function planRevert(session: HostSession, host: HostEntry, journalPath: string, doc: Journal, now: Date): Promise<RevertPlan> {
  const runtime: RevertRuntimeStep[] = [];
  const files: RevertFileStep[] = [];
  for (const rec of doc.records) {
    const procPaths = rec.runtime.map((r) => sysctlProcPath(r.key));
    const snap = await snapshot(session, procPaths, rec.files.map((f) => f.path));
    rec.runtime.forEach((r, i) => {
      const cur = snap.runtime.get(procPaths[i] as string) ?? null;
      if (r.before === null || sameSysctlValue(cur, r.before)) return;
      runtime.push({ key: r.key, now: cur, to: r.before, changedSince: !sameSysctlValue(cur, r.after) });
    });
    for (const f of rec.files) {
      const cur: FileState | undefined = snap.files.get(f.path);
      if (cur !== undefined && 'other' in cur) throw new HostError(session.host, `cannot revert ${f.path}: it is a ${cur.other} now, and kdrift writes only regular files`);
      const before = f.existed ? Buffer.from(f.before ?? '', 'base64') : null;
      const curBytes = isFile(cur) ? cur.bytes : null;
      if (before === null ? isAbsent(cur) : curBytes !== null && curBytes.equals(before)) continue;
      const changedSince = curBytes !== null && !curBytes.equals(Buffer.from(f.after, 'base64'));
      const curText = curBytes === null ? null : curBytes.toString('utf8');
      const beforeText = before === null ? null : before.toString('utf8');
      files.push({
        path: f.path,
        action: before === null ? 'remove' : 'restore',
        changedSince,
        ...(changedSince ? { saveAs: `${f.path}.kdrift-saved-${stamp(now)}` } : {}),
        diff: unifiedDiff(f.path, curText, beforeText ?? ''),
      });
    }
  }
  return { host: host.name, createdAt: now.toISOString(), journal: journalPath, journalId: doc.id, fixedAt: doc.createdAt, runtime, files };
}

function sameRevert(a: RevertPlan, b: RevertPlan): boolean {
  const strip = (p: RevertPlan) => JSON.stringify([p.journal, p.runtime, p.files.map((f) => [f.path, f.action, f.changedSince, f.diff])]);
  return strip(a) === strip(b);
}

async function findJournal(session: HostSession, dir: string, netns: string, wanted: string | undefined): Promise<{ path: string; doc: Journal } | { none: string } | { refuse: string }> {
  const paths = (await listJournals(session, dir, netns)).reverse();
  const seen: { path: string; doc: Journal }[] = [];
  for (const path of paths) {
    const doc = await readJournal(session, path);
    seen.push({ path, doc });
    const pick = pickRevertJournal(seen, wanted);
    if ('path' in pick) return { path: pick.path, doc };
    if ('refuse' in pick) return pick;
  }
  return pickRevertJournal(seen, wanted) as { none: string };
}

/**
 * Plans and (unless dryRun) reverts the newest verified fix of the host, or `opts.journal`. Never throws for host
 * problems: the outcome says what happened.
 */
export async function revertHost(session: HostSession, host: HostEntry, opts: RevertOptions = {}): Promise<RevertOutcome> {
  const kinds = opts.kinds ?? remediationKinds;
  const dir = opts.journalDir ?? DEFAULT_JOURNAL_DIR;
  const now = opts.now ?? (opts.approved ? new Date(opts.approved.createdAt) : new Date());
  const out = (o: Omit<RevertOutcome, 'host' | 'saved'> & { saved?: string[] }): RevertOutcome => ({ host: host.name, saved: [], ...o });
  let netns: string;
  try {
    netns = (await detectNetns(session, host)).id;
  } catch (err) {
    return out({ status: 'error', reasons: [errorMessage(err)] });
  }
  const prepare = async (): Promise<RevertOutcome | { plan: RevertPlan; doc: Journal }> => {
    const found = await findJournal(session, dir, netns, opts.journal);
    if ('none' in found) return out({ status: 'nothing-to-revert', reasons: [found.none] });
    if ('refuse' in found) return out({ status: 'unchanged', reasons: [found.refuse] });
    const byKind = new Set(kinds.map((k) => k.kind));
    const unknown = found.doc.records.find((r) => !byKind.has(r.kind));
    if (unknown) return out({ status: 'unchanged', journal: found.path, reasons: [`journal has a "${unknown.kind}" record this kdrift cannot revert`] });
    return { plan: await planRevert(session, host, found.path, found.doc, now), doc: found.doc };
  };

  if (opts.dryRun) {
    try {
      const p = await prepare();
      if ('status' in p) return p;
      const empty = p.plan.runtime.length === 0 && p.plan.files.length === 0;
      // Planned even when nothing differs: the revert then only marks that fix's journal reverted.
      return out({ status: 'planned', plan: p.plan, journal: p.plan.journal, reasons: empty ? ['the host is already as it was before that fix: a revert only marks its journal reverted'] : [] });
    } catch (err) {
      return out({ status: 'error', reasons: [errorMessage(err)] });
    }
  }

  const lock = await HostLock.tryAcquire(session, netns, opts.staleLockMs);
  if ('refused' in lock) return out({ status: 'unchanged', reasons: [lock.refused] });
  try {
    let prepared: Awaited<ReturnType<typeof prepare>>;
    try {
      prepared = await prepare();
    } catch (err) {
      return out({ status: 'error', reasons: [errorMessage(err)] });
    }
    if ('status' in prepared) return prepared;
    const { plan, doc } = prepared;
    if (opts.approved && !sameRevert(opts.approved, plan)) {
      return out({ status: 'unchanged', plan, journal: plan.journal, reasons: ['the host changed since the plan was shown; nothing was changed — run kdrift fix --revert again to see the new plan'] });
    }
    const handle = JournalHandle.attach(session, plan.journal, doc);
    if (plan.runtime.length === 0 && plan.files.length === 0) {
      // That fix is no longer in effect (undone by hand, or a half-done revert): marked so, and the next revert (the
      // provider's Delete loops until nothing is left) moves on to the fix before it.
      try {
        await handle.setStatus('reverted', 'nothing to restore: the host was already as before the fix');
      } catch (err) {
        return out({ status: 'revert-failed', plan, journal: plan.journal, reasons: [`the journal could not be marked reverted: ${errorMessage(err)}`] });
      }
      return out({ status: 'reverted', plan, journal: plan.journal, reasons: ['the host was already as it was before that fix: nothing restored, journal marked reverted'] });
    }
    // Copies of what changed since, before anything is restored.
    const saved: string[] = [];
    try {
      const toSave = plan.files.filter((f) => f.saveAs !== undefined);
      if (toSave.length > 0) {
        const snap = await snapshot(session, [], [...toSave.map((f) => f.path), ...toSave.map((f) => f.saveAs as string)]);
        for (const f of toSave) {
          const cur = snap.files.get(f.path);
          if (!isAbsent(snap.files.get(f.saveAs as string))) throw new HostError(session.host, `${f.saveAs} exists already; nothing was changed`);
          if (!isFile(cur)) throw new HostError(session.host, `${f.path} changed while reverting; nothing was changed`);
          await session.writeFileAtomic(f.saveAs as string, cur.bytes, { mode: cur.mode & 0o7777 });
          saved.push(f.saveAs as string);
        }
      }
      const changed = [...plan.runtime.filter((r) => r.changedSince).map((r) => `${r.key} was ${r.now ?? 'unreadable'} (changed since the fix)`), ...saved.map((s) => `saved ${s}`)];
      await handle.setStatus('reverting', `kdrift fix --revert: restoring the state from before ${doc.createdAt}${changed.length ? `; ${changed.join('; ')}` : ''}`);
    } catch (err) {
      return out({ status: 'unchanged', plan, journal: plan.journal, saved, reasons: [errorMessage(err)] });
    }
    const problems: string[] = [];
    for (const rec of [...doc.records].reverse()) problems.push(...(await (kinds.find((k) => k.kind === rec.kind) as RemediationKind).undo(session, rec)));
    const notes = [
      ...plan.runtime.filter((r) => r.changedSince).map((r) => `${r.key} had been changed since the fix (was ${r.now ?? 'unreadable'}); set back to ${r.to}`),
      ...plan.files.filter((f) => f.saveAs).map((f) => `${f.path} had been changed since the fix: the changed file is kept as ${f.saveAs}`),
    ];
    if (problems.length > 0) {
      await handle.setStatus('reverting', `revert incomplete: ${problems.join('; ')}`).catch(() => undefined);
      return out({ status: 'revert-failed', plan, journal: plan.journal, saved, reasons: [...notes, 'revert incomplete (run kdrift fix --revert again, or restore by hand from the journal):', ...problems] });
    }
    try {
      await handle.setStatus('reverted', 'reverted: every value and file is as before the fix (read back and compared)');
    } catch (err) {
      return out({ status: 'revert-failed', plan, journal: plan.journal, saved, reasons: [...notes, `restored, but the journal could not be marked reverted: ${errorMessage(err)}`] });
    }
    return out({ status: 'reverted', plan, journal: plan.journal, saved, reasons: [...notes, `restored the state from before the fix of ${doc.createdAt} (read back and compared)`] });
  } finally {
    await lock.release(session);
  }
}
