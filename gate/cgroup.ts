/**
 * The gate's child cgroup and what removes it, whatever happens to the gate.
 *
 * The cgroup is `<cgroup v2 root>/kdrift-gate-<gate pid>-<random>`. Three things remove it:
 *   1. the gate itself, on every normal path (kill what is left with cgroup.kill, wait until empty, rmdir);
 *   2. a reaper: a tiny detached `sh`, blocked reading a pipe only the gate holds open. When the gate dies — SIGKILL
 *      included — the pipe reaches EOF, and the reaper kills what is left in the cgroup and removes it. It also holds
 *      a dup of the guard's BPF link, so the guard stays attached until the cgroup's last process is gone: no
 *      moment where the script runs unguarded. (The script's processes die on their own too: the runner has PR_SET_PDEATHSIG=SIGKILL, and in a
 *      sandbox every process of its pid namespace dies with the namespace's init.)
 *   3. a sweep at the next gate start: empty `kdrift-gate-<pid>-*` cgroups whose gate pid is gone (a reaper that was
 *      killed too).
 * The BPF link needs none of this: it is an fd of the gate and of the reaper, and goes with the last of them. Nothing
 * else lives outside the gate's processes: namespaces and overlay mounts belong to the sandbox's processes and vanish
 * with them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { KdriftError, errorMessage } from '../core/errors.js';

export const GATE_CGROUP_PREFIX = 'kdrift-gate-';

/** Fixed text; $1 = the cgroup directory. Blocks on stdin until the gate is gone, then empties and removes the cgroup. */
const REAPER_SCRIPT = `read -r _ || :
[ -d "$1" ] || exit 0
echo 1 > "$1/cgroup.kill" 2>/dev/null || :
i=0
while [ $i -lt 200 ]; do
  rmdir "$1" 2>/dev/null && exit 0
  [ -d "$1" ] || exit 0
  i=$((i+1)); sleep 0.05
done
exit 1
`;

export class GateCgroup {
  private reaper: ChildProcess | undefined;

  private constructor(readonly path: string) {}

  /** Creates the cgroup under the v2 root (start its reaper once there is something to hold: startReaper). */
  static async create(cgroupRoot: string): Promise<GateCgroup> {
    await sweepStaleCgroups(cgroupRoot);
    const dir = path.join(cgroupRoot, `${GATE_CGROUP_PREFIX}${process.pid}-${randomBytes(3).toString('hex')}`);
    try {
      await mkdir(dir);
    } catch (err) {
      throw new KdriftError(`cannot create the gate's cgroup ${dir}: ${errorMessage(err)}`);
    }
    return new GateCgroup(dir);
  }

  /**
   * Starts the reaper. `holdFds` are inherited by it (as fds 3, 4, ...) and stay open until it exits, i.e. until
   * the cgroup is empty and gone: given the guard's link fd, the guard keeps watching the cgroup's last processes
   * even after the gate is SIGKILLed.
   */
  startReaper(holdFds: readonly number[] = []): void {
    if (this.reaper) return;
    // Detached (own session): a SIGKILL to the gate's process group does not reach it. Its stdin is the pipe.
    this.reaper = spawn('sh', ['-c', REAPER_SCRIPT, 'kdrift-gate-reaper', this.path], { detached: true, stdio: ['pipe', 'ignore', 'ignore', ...holdFds] });
    this.reaper.on('error', () => undefined);
    this.reaper.unref();
  }

  /** The cgroup's processes (pids in our namespace). */
  async pids(): Promise<number[]> {
    try {
      const text = await readFile(path.join(this.path, 'cgroup.procs'), 'utf8');
      return text.split('\n').filter(Boolean).map(Number);
    } catch {
      return [];
    }
  }

  /** Kills whatever is left, waits until the cgroup is empty, removes it, and lets the reaper go. Idempotent. */
  async remove(): Promise<void> {
    await writeFile(path.join(this.path, 'cgroup.kill'), '1').catch(() => undefined);
    for (let i = 0; i < 400; i++) {
      try {
        await rmdir(this.path);
        break;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') break;
        if (code !== 'EBUSY') throw new KdriftError(`cannot remove the gate's cgroup ${this.path}: ${errorMessage(err)}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    this.reaper?.stdin?.end();
    this.reaper = undefined;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes empty gate cgroups whose gate is gone (best effort: a busy or foreign one is left alone). */
export async function sweepStaleCgroups(cgroupRoot: string): Promise<string[]> {
  const removed: string[] = [];
  let names: string[];
  try {
    names = await readdir(cgroupRoot);
  } catch {
    return removed;
  }
  for (const name of names) {
    const m = new RegExp(`^${GATE_CGROUP_PREFIX}(\\d+)-[0-9a-f]+$`).exec(name);
    if (!m || pidAlive(Number(m[1]))) continue;
    const dir = path.join(cgroupRoot, name);
    await writeFile(path.join(dir, 'cgroup.kill'), '1').catch(() => undefined);
    await rmdir(dir).then(
      () => removed.push(dir),
      () => undefined,
    );
  }
  return removed;
}
