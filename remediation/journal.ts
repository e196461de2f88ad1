/**
 * The journal: one JSON file per fix of a host, ON the host, written (atomically) BEFORE anything changes. It holds the
 * plan, the old runtime values and a byte-exact backup (content + mode + owner) of every file kdrift touches, and a
 * status that only moves forward:
 *   applying → applied → verified | rolled-back | rollback-failed;   verified → reverting → reverted (kdrift fix --revert)
 * A journal left in `applying` or `applied` means a kdrift run died or lost its session before it finished: the next
 * `kdrift fix` on that host rolls it back first (under the lock, only if the host is still in a state that journal
 * produced), and `kdrift fix --undo` does it on request.
 *
 * Location: /var/lib/kdrift/journal/<netns-id>-<timestamp>-<random>.json. The network namespace id is part of the
 * name because net.* sysctls are per netns: hosts that share a filesystem (containers, the lab) keep their journals apart.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { z } from 'zod';
import type { HostSession } from '../core/session.js';
import { HostError } from '../core/errors.js';
import type { KindPlan } from './kind.js';

export const DEFAULT_JOURNAL_DIR = '/var/lib/kdrift/journal';

/** `reverting` → `reverted`: `kdrift fix --revert` restoring a verified fix's before-state (remediation/revert.ts). */
export const journalStatuses = ['applying', 'applied', 'verified', 'rolled-back', 'rollback-failed', 'reverting', 'reverted'] as const;
export type JournalStatus = (typeof journalStatuses)[number];
export const UNFINISHED: readonly JournalStatus[] = ['applying', 'applied', 'rollback-failed'];

const fileRecordSchema = z.object({
  path: z.string().startsWith('/'),
  existed: z.boolean(),
  /** base64 of the old bytes (existed only). */
  before: z.string().optional(),
  mode: z.number().int().optional(),
  uid: z.number().int().optional(),
  gid: z.number().int().optional(),
  /** base64 of the bytes kdrift writes (to tell "as kdrift left it" from "changed since"). */
  after: z.string(),
});
export type JournalFileRecord = z.infer<typeof fileRecordSchema>;

const runtimeRecordSchema = z.object({ key: z.string(), before: z.string().nullable(), after: z.string() });
export type JournalRuntimeRecord = z.infer<typeof runtimeRecordSchema>;

const kindRecordSchema = z.object({ kind: z.string(), runtime: z.array(runtimeRecordSchema), files: z.array(fileRecordSchema) });
export type JournalKindRecord = z.infer<typeof kindRecordSchema>;

const eventSchema = z.object({ at: z.string(), status: z.enum(journalStatuses), message: z.string() });

export const journalSchema = z.object({
  version: z.literal(1),
  id: z.string(),
  host: z.string(),
  netns: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
  status: z.enum(journalStatuses),
  controller: z.object({ hostname: z.string(), pid: z.number().int() }),
  /** The plans as shown to the user (diffs included). Stored for people reading the journal; undo uses `records`. */
  plans: z.array(z.unknown()),
  records: z.array(kindRecordSchema),
  events: z.array(eventSchema),
});
export type Journal = z.infer<typeof journalSchema>;

/** The host's network namespace id (`net:[4026531840]` → `4026531840`): which copy of net.* a fix changes. */
export async function netnsId(session: HostSession): Promise<string> {
  const res = await session.exec(['readlink', '/proc/self/ns/net']);
  const m = /^net:\[(\d+)\]\s*$/.exec(res.stdout.toString('utf8'));
  if (res.code !== 0 || !m) throw new HostError(session.host, `cannot read its network namespace (/proc/self/ns/net): ${res.stderr.toString('utf8').trim() || 'unexpected output'}`);
  return m[1] as string;
}

/** A journal being written by this run. Every change of status is written through before the run goes on. */
export class JournalHandle {
  private constructor(
    private session: HostSession,
    readonly path: string,
    readonly doc: Journal,
  ) {}

  /** Creates the journal on the host with the records (backups) — the first write of a fix. */
  static async create(
    session: HostSession,
    opts: { dir: string; host: string; netns: string; plans: KindPlan[]; records: JournalKindRecord[]; now?: Date; dirExists?: boolean },
  ): Promise<JournalHandle> {
    const now = opts.now ?? new Date();
    const stamp = now.toISOString().replace(/[-:.]/g, '');
    const id = `${opts.netns}-${stamp}-${randomBytes(3).toString('hex')}`;
    const doc: Journal = {
      version: 1,
      id,
      host: opts.host,
      netns: opts.netns,
      createdAt: now.toISOString(),
      updatedAt: now.toISOString(),
      status: 'applying',
      controller: { hostname: os.hostname(), pid: process.pid },
      plans: opts.plans,
      records: opts.records,
      events: [{ at: now.toISOString(), status: 'applying', message: 'journal written; applying' }],
    };
    const mk = opts.dirExists ? undefined : await session.exec(['mkdir', '-p', '-m', '0700', '--', opts.dir]);
    if (mk && mk.code !== 0) throw new HostError(session.host, `cannot create the journal directory ${opts.dir}: ${permissionHint(mk.stderr.toString('utf8').trim())}`);
    const handle = new JournalHandle(session, `${opts.dir}/${id}.json`, doc);
    await handle.write();
    return handle;
  }

  /** Opens an existing journal for a rollback (status changes are written to it). */
  static attach(session: HostSession, path: string, doc: Journal): JournalHandle {
    return new JournalHandle(session, path, doc);
  }

  /** After a reconnect: later writes go through the new session. */
  useSession(session: HostSession): void {
    this.session = session;
  }

  get status(): JournalStatus {
    return this.doc.status;
  }

  async setStatus(status: JournalStatus, message: string): Promise<void> {
    const at = new Date().toISOString();
    this.doc.status = status;
    this.doc.updatedAt = at;
    this.doc.events.push({ at, status, message });
    await this.write();
  }

  private async write(): Promise<void> {
    try {
      await this.session.writeFileAtomic(this.path, `${JSON.stringify(this.doc, null, 1)}\n`, { mode: 0o600 });
    } catch (err) {
      throw new HostError(this.session.host, `cannot write the journal ${this.path}: ${permissionHint((err as Error).message)}`);
    }
  }
}

function permissionHint(msg: string): string {
  return /permission denied|EACCES|EPERM|operation not permitted/i.test(msg) ? `${msg} (kdrift fix needs root on the host)` : msg;
}

/** The journal files of one netns, oldest first (names sort by time), and whether the directory exists. */
export async function listJournalDir(session: HostSession, dir: string, netns: string): Promise<{ exists: boolean; paths: string[] }> {
  const script =
    'd=$1; p=$2; [ -d "$d" ] || { echo missing; exit 0; }; [ -r "$d" ] && [ -x "$d" ] || { echo "cannot read $d: permission denied" >&2; exit 1; }; echo exists; for f in "$d/$p"-*.json; do [ -f "$f" ] && printf "%s\\n" "$f"; done; exit 0';
  const res = await session.exec(['sh', '-c', script, 'sh', dir, netns]);
  if (res.code !== 0) throw new HostError(session.host, `cannot list journals in ${dir}: ${permissionHint(res.stderr.toString('utf8').trim())}`);
  const [head, ...rest] = res.stdout.toString('utf8').split('\n');
  return { exists: head === 'exists', paths: rest.filter((l) => l.length > 0).sort() };
}

export async function listJournals(session: HostSession, dir: string, netns: string): Promise<string[]> {
  return (await listJournalDir(session, dir, netns)).paths;
}

export async function readJournal(session: HostSession, path: string): Promise<Journal> {
  let text: string;
  try {
    text = (await session.readFile(path)).toString('utf8');
  } catch (err) {
    throw new HostError(session.host, `cannot read journal ${path}: ${permissionHint((err as Error).message)}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new HostError(session.host, `journal ${path} is not valid JSON; move it away after checking the host by hand`);
  }
  const res = journalSchema.safeParse(raw);
  if (!res.success) throw new HostError(session.host, `journal ${path} is not a kdrift journal (${res.error.issues[0]?.message ?? 'schema mismatch'})`);
  return res.data;
}

/** Journals kept per netns; older ones (all finished: a fix resolves the newest first) are removed after a fix. */
export const KEEP_JOURNALS = 50;

/** Best effort: removes all but the newest `keep` journals of this netns. */
export async function pruneJournals(session: HostSession, dir: string, netns: string, keep = KEEP_JOURNALS, knownCount?: number): Promise<void> {
  if (knownCount !== undefined && knownCount <= keep) return;
  try {
    const all = await listJournals(session, dir, netns);
    const old = all.slice(0, Math.max(0, all.length - keep));
    if (old.length > 0) await session.exec(['rm', '-f', '--', ...old]);
  } catch {
    // pruning never fails a fix
  }
}

/**
 * The newest journal of this netns if it is unfinished. Every fix resolves an unfinished journal before it writes a new
 * one, so only the newest can be unfinished.
 */
export async function newestUnfinished(session: HostSession, dir: string, netns: string): Promise<{ path: string; doc: Journal } | undefined> {
  return (await journalState(session, dir, netns)).unfinished;
}

/** One listing: does the directory exist, how many journals, and the newest one if it is unfinished. */
export async function journalState(
  session: HostSession,
  dir: string,
  netns: string,
): Promise<{ dirExists: boolean; count: number; unfinished?: { path: string; doc: Journal } }> {
  const { exists, paths } = await listJournalDir(session, dir, netns);
  const newest = paths[paths.length - 1];
  if (!newest) return { dirExists: exists, count: 0 };
  const doc = await readJournal(session, newest);
  return { dirExists: exists, count: paths.length, ...(UNFINISHED.includes(doc.status) ? { unfinished: { path: newest, doc } } : {}) };
}
