import { access, constants, readdir, readFile } from 'node:fs/promises';
import { KdriftError } from '../core/errors.js';

/**
 * The cgroup v2 mount point, from /proc/mounts text (`cgroup2 <mountpoint> cgroup2 ...`). It is not always
 * /sys/fs/cgroup: hybrid systems mount it at /sys/fs/cgroup/unified. Octal escapes (\040 for a space) are decoded.
 */
export function findCgroup2Mount(procMounts: string): string | undefined {
  for (const line of procMounts.split('\n')) {
    const f = line.split(' ');
    if (f.length >= 3 && f[2] === 'cgroup2' && f[1]) return f[1].replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  }
  return undefined;
}

/**
 * A path to the cgroup v2 root. First from our own /proc/self/mounts. When our mount namespace has none
 * (`ip netns exec` remounts /sys, so the lab's hosts and anything started that way see no cgroup mounts), through
 * another process's mount namespace: /proc/<pid>/root<mountpoint> resolves there and is the same cgroup, so nothing
 * gets mounted. Candidates: kthreadd (pid 2, always in the initial mount namespace), our ancestors, then any process.
 * PID 1 is not always readable (a sandbox's init may be non-dumpable).
 */
export async function cgroup2Root(): Promise<string> {
  const own = findCgroup2Mount(await readFile('/proc/self/mounts', 'utf8'));
  if (own) return own;
  for (const pid of await candidatePids()) {
    try {
      const mnt = findCgroup2Mount(await readFile(`/proc/${pid}/mounts`, 'utf8'));
      if (!mnt) continue;
      const through = `/proc/${pid}/root${mnt}`;
      await access(through, constants.R_OK);
      return through;
    } catch {
      // gone, or not ours to look into: next
    }
  }
  throw new KdriftError(
    'no cgroup v2 hierarchy is reachable (no "cgroup2" mount in this mount namespace, nor through /proc/<pid>/root): ' +
      'the probe attaches to the cgroup v2 root; mount it (mount -t cgroup2 none /sys/fs/cgroup) or run the probe where it is mounted',
  );
}

async function candidatePids(): Promise<number[]> {
  const out: number[] = [2];
  let pid = process.ppid;
  for (let i = 0; i < 16 && pid > 1; i++) {
    out.push(pid);
    try {
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
      pid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    } catch {
      break;
    }
  }
  const all = (await readdir('/proc')).filter((d) => /^\d+$/.test(d)).map(Number);
  return [...new Set([...out, ...all.sort((a, b) => a - b).slice(0, 4096)])];
}
