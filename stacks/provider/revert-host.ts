/**
 * STAND-IN until remediation/index.ts exports `revertHost(session, host, opts)` (being added on another branch): the
 * provider's Delete calls it with the same signature, and switches to the library's when it lands.
 *
 * Restores what a host had before kdrift first changed it: under the host lock, every kept (`verified`) journal of
 * the host's network namespace, oldest first; per runtime key and per file, the before-state of the OLDEST journal
 * that touched it wins. The kinds' own undo writes it back and reads it back (byte for byte, mode, owner, values);
 * kdrift's own file, which did not exist before, is removed. The journals are then marked rolled-back, so a second
 * revert has nothing to do.
 */
import type { HostEntry } from '../../core/inventory.js';
import type { HostSession } from '../../core/session.js';
import { errorMessage } from '../../core/errors.js';
import { remediationKinds, DEFAULT_JOURNAL_DIR, type RemediationKind } from '../../remediation/index.js';
import { JournalHandle, listJournals, netnsId, readJournal, newestUnfinished, type Journal, type JournalKindRecord } from '../../remediation/journal.js';
import { HostLock } from '../../remediation/lock.js';

export interface RevertOptions {
  journalDir?: string;
  staleLockMs?: number;
  kinds?: readonly RemediationKind[];
}

export interface RevertOutcome {
  host: string;
  status: 'nothing-to-revert' | 'reverted' | 'revert-failed' | 'unchanged' | 'error';
  /** The journals whose before-state was restored, oldest first. */
  journals: string[];
  reasons: string[];
}

/** One record per kind: each item's before-state from the oldest journal that touched it. */
export function earliestBefore(docs: readonly Journal[]): JournalKindRecord[] {
  const byKind = new Map<string, JournalKindRecord>();
  for (const doc of docs) {
    for (const rec of doc.records) {
      const merged = byKind.get(rec.kind) ?? { kind: rec.kind, runtime: [], files: [] };
      for (const r of rec.runtime) if (!merged.runtime.some((x) => x.key === r.key)) merged.runtime.push(r);
      for (const f of rec.files) if (!merged.files.some((x) => x.path === f.path)) merged.files.push(f);
      byKind.set(rec.kind, merged);
    }
  }
  return [...byKind.values()];
}

export async function revertHost(session: HostSession, host: HostEntry, opts: RevertOptions = {}): Promise<RevertOutcome> {
  const kinds = opts.kinds ?? remediationKinds;
  const dir = opts.journalDir ?? DEFAULT_JOURNAL_DIR;
  const out = (status: RevertOutcome['status'], reasons: string[], journals: string[] = []): RevertOutcome => ({ host: host.name, status, journals, reasons });
  let netns: string;
  try {
    netns = await netnsId(session);
  } catch (err) {
    return out('error', [errorMessage(err)]);
  }
  let lock: HostLock;
  try {
    lock = await HostLock.acquire(session, netns, opts.staleLockMs !== undefined ? { staleMs: opts.staleLockMs } : {});
  } catch (err) {
    return out('unchanged', [errorMessage(err)]);
  }
  try {
    const left = await newestUnfinished(session, dir, netns);
    if (left) return out('unchanged', [`journal ${left.path} is ${left.doc.status}: resolve it first with kdrift fix --undo --host ${host.name}`]);
    const kept: { path: string; doc: Journal }[] = [];
    for (const path of await listJournals(session, dir, netns)) {
      const doc = await readJournal(session, path);
      if (doc.status === 'verified' && doc.host === host.name) kept.push({ path, doc });
    }
    if (kept.length === 0) return out('nothing-to-revert', ['kdrift has no applied change on this host']);
    const byKind = new Map(kinds.map((k) => [k.kind, k]));
    const problems: string[] = [];
    for (const rec of earliestBefore(kept.map((k) => k.doc)).reverse()) {
      const kind = byKind.get(rec.kind);
      if (!kind) return out('unchanged', [`a journal has a "${rec.kind}" record this kdrift cannot undo`]);
      problems.push(...(await kind.undo(session, rec)));
    }
    const paths = kept.map((k) => k.path);
    if (problems.length > 0) return out('revert-failed', problems, paths);
    for (const k of kept) await JournalHandle.attach(session, k.path, k.doc).setStatus('rolled-back', 'reverted to the state before kdrift first applied (delete)');
    return out('reverted', [`restored the state from before ${kept[0]?.doc.createdAt}`], paths);
  } catch (err) {
    return out('error', [errorMessage(err)]);
  } finally {
    await lock.release(session);
  }
}
