/**
 * A per-host lock so two kdrift runs never fix one host at once: `mkdir` of a directory is atomic, so exactly one run
 * creates it. The directory holds `owner` (JSON: controller host, pid, inventory host, time). Named by the host's
 * network namespace (the copy of net.* being changed), under /run/lock so a reboot clears it.
 *
 * Stale locks: a holder that died leaves the directory behind. It is taken over when it is older than `staleMs`
 * (a fix takes seconds), or at once when its owner is a process of THIS machine that no longer exists. Takeover and
 * release remove the directory only if `owner` still holds exactly what was judged (compare-and-remove in one exec), so
 * a run never removes a lock another run has just taken.
 */
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import type { HostSession } from '../core/session.js';
import { HostError } from '../core/errors.js';

export const LOCK_DIR = '/run/lock';
export const DEFAULT_STALE_MS = 10 * 60_000;

interface Owner {
  controller: string;
  pid: number;
  host: string;
  since: string;
  /** Random per acquisition: tells this process's live locks from ones a run of it left behind (dropped session). */
  run: string;
}

/** Tokens of the locks this process holds right now. */
const held = new Set<string>();

const ACQUIRE = `d=$1
[ -d "\${d%/*}" ] || { echo "no directory \${d%/*} on the host" >&2; exit 5; }
if mkdir -m 0700 -- "$d" 2>/dev/null; then
  printf '%s\\n' "$2" > "$d/owner" && exit 0
  rm -rf -- "$d"; echo "cannot write $d/owner" >&2; exit 5
fi
[ -d "$d" ] || { echo "cannot create $d" >&2; exit 5; }
o=$(cat -- "$d/owner" 2>/dev/null)
printf '%s\\n%s\\n' "$(( $(date +%s) - $(stat -c %Y -- "$d") ))" "$o"
exit 3
`;

const REMOVE_IF_OWNER = `d=$1
[ -d "$d" ] || exit 0
[ "$(cat -- "$d/owner" 2>/dev/null)" = "$2" ] || exit 3
rm -f -- "$d/owner" && rmdir -- "$d"
`;

export class HostLock {
  private constructor(
    readonly path: string,
    private readonly token: string,
  ) {}

  static pathFor(netns: string): string {
    return `${LOCK_DIR}/kdrift-fix-net${netns}.lock`;
  }

  /** Takes the lock or throws a HostError naming the holder. */
  static async acquire(session: HostSession, netns: string, opts: { staleMs?: number; now?: Date } = {}): Promise<HostLock> {
    const path = HostLock.pathFor(netns);
    const owner: Owner = { controller: os.hostname(), pid: process.pid, host: session.host, since: (opts.now ?? new Date()).toISOString(), run: randomBytes(6).toString('hex') };
    const token = JSON.stringify(owner);
    for (let attempt = 0; attempt < 2; attempt++) {
      const res = await session.exec(['sh', '-c', ACQUIRE, 'sh', path, token]);
      if (res.code === 0) {
        held.add(token);
        return new HostLock(path, token);
      }
      if (res.code !== 3) throw new HostError(session.host, `cannot take the fix lock ${path}: ${res.stderr.toString('utf8').trim() || `exit ${res.code}`}`);
      const [ageText = '', ...rest] = res.stdout.toString('utf8').split('\n');
      const heldText = rest.join('\n').replace(/\n+$/, '');
      const ageMs = Number(ageText) * 1000;
      const holder = parseOwner(heldText);
      const stale = staleReason(holder, heldText, ageMs, opts.staleMs ?? DEFAULT_STALE_MS);
      if (!stale || attempt > 0) {
        const who = holder ? `kdrift pid ${holder.pid} on ${holder.controller} since ${holder.since}` : `an unknown holder for ${Math.round(ageMs / 1000)} s`;
        throw new HostError(session.host, `another kdrift run is fixing this host (${who}; lock ${path})`);
      }
      await session.exec(['sh', '-c', REMOVE_IF_OWNER, 'sh', path, heldText]);
    }
    throw new HostError(session.host, `cannot take the fix lock ${path}`);
  }

  /** acquire() for the orchestrators: the lock, or why it could not be taken (their outcome is then "unchanged"). */
  static async tryAcquire(session: HostSession, netns: string, staleMs: number | undefined): Promise<HostLock | { refused: string }> {
    try {
      return await HostLock.acquire(session, netns, staleMs !== undefined ? { staleMs } : {});
    } catch (err) {
      return { refused: (err as Error).message };
    }
  }

  /** Releases the lock if this run still holds it. Never throws (it runs in finally blocks); returns a problem if any. */
  async release(session: HostSession): Promise<string | undefined> {
    held.delete(this.token);
    try {
      const res = await session.exec(['sh', '-c', REMOVE_IF_OWNER, 'sh', this.path, this.token]);
      if (res.code === 0) return undefined;
      return res.code === 3 ? `lock ${this.path} was taken over by another run` : `releasing lock ${this.path}: ${res.stderr.toString('utf8').trim()}`;
    } catch (err) {
      return `releasing lock ${this.path}: ${(err as Error).message}`;
    }
  }
}

function parseOwner(text: string): Owner | undefined {
  try {
    const o = JSON.parse(text) as Partial<Owner>;
    if (typeof o.controller === 'string' && typeof o.pid === 'number' && typeof o.host === 'string' && typeof o.since === 'string' && typeof o.run === 'string') return o as Owner;
  } catch {
    // not JSON: an unknown holder
  }
  return undefined;
}

/** Why a held lock may be taken over, or undefined when it must be respected. */
export function staleReason(owner: Owner | undefined, token: string, ageMs: number, staleMs: number): string | undefined {
  if (Number.isFinite(ageMs) && ageMs > staleMs) return `older than ${Math.round(staleMs / 1000)} s`;
  if (owner && owner.controller === os.hostname()) {
    if (!processAlive(owner.pid)) return `its owner (pid ${owner.pid} on this machine) is gone`;
    if (owner.pid === process.pid && !held.has(token)) return 'this process left it behind (its session dropped before releasing it)';
  }
  return undefined;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
