import { readFile } from 'node:fs/promises';
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

export async function cgroup2Root(): Promise<string> {
  const text = await readFile('/proc/mounts', 'utf8');
  const root = findCgroup2Mount(text);
  if (!root) throw new KdriftError('no cgroup v2 hierarchy is mounted (no "cgroup2" line in /proc/mounts): the probe attaches to the cgroup v2 root');
  return root;
}
