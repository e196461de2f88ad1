import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * How a lab host's processes see the machine: through their own mount namespace (`ip netns exec` makes one), made
 * private from the machine's (nothing mounted on either side propagates to the other), in which
 *   - the host's own tree (lab/host-root.ts) is bound at SEALED_DIRS: /etc, /var/lib, /var/log, /run are the host's
 *     directories, not the machine's (a write, a rename, a `useradd` inside stays inside, and one on the machine never
 *     reaches the host);
 *   - the machine's /sys mounts of the kinds below are mounted again: `ip netns exec` gives its command a fresh /sys,
 *     which drops the cgroup hierarchies (cgroup2 is at /sys/fs/cgroup/unified here). A real host has them, and
 *     kdrift's probe attaches to the cgroup v2 root (same hierarchies, nothing new).
 * sshd (hence every SSH session), HAProxy, the app servers and labExec all start this way.
 */
// /run first: the mount(8) calls after it keep their lock files in the host's /run, not the machine's.
export const SEALED_DIRS = ['run', 'etc', 'var/lib', 'var/log'] as const;

const KINDS = new Set(['cgroup', 'cgroup2', 'bpf', 'tracefs', 'debugfs']);

export type MountSpec = [type: string, options: string, target: string];

export function sysMounts(procMounts: string = readFileSync('/proc/self/mounts', 'utf8')): MountSpec[] {
  const out: MountSpec[] = [];
  for (const line of procMounts.split('\n')) {
    const f = line.split(' ');
    if (f.length < 4) continue;
    const target = (f[1] as string).replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    const type = f[2] as string;
    if (!target.startsWith('/sys/') || /[\s\\]/.test(target)) continue;
    // The tmpfs that holds the cgroup v1 mount points on hybrid systems, and the kinds above.
    if (KINDS.has(type) || (type === 'tmpfs' && target === '/sys/fs/cgroup')) out.push([type, f[3] as string, target]);
  }
  return out;
}

/**
 * A constant script; every value reaches it as a positional argument: the host's root, its sealed dirs, `--`, the /sys
 * mounts, `--`, the command. A seal that cannot be made is fatal (the command would see the machine's files); a /sys
 * mount that fails is reported, not fatal.
 */
const SCRIPT = [
  'r=$1; shift',
  'mount --make-rprivate / || { echo "kdrift lab: cannot make the host mount namespace private" >&2; exit 111; }',
  'while [ "$1" != -- ]; do mount --bind "$r/$1" "/$1" || { echo "kdrift lab: cannot bind $r/$1 on /$1" >&2; exit 111; }; shift; done; shift',
  'while [ "$1" != -- ]; do mkdir -p "$3" 2>/dev/null; mount -t "$1" -o "$2" "$1" "$3" || echo "kdrift lab: cannot mount $1 on $3" >&2; shift 3; done; shift',
  'exec "$@"',
].join('\n');

/** argv that runs `argv` inside a lab host: its network namespace, its own tree at SEALED_DIRS, the machine's /sys mounts. */
export function inHost(netns: string, hostRoot: string, argv: readonly string[], mounts: readonly MountSpec[] = sysMounts()): string[] {
  return ['ip', 'netns', 'exec', netns, '/bin/sh', '-c', SCRIPT, 'kdrift-lab-host', hostRoot, ...SEALED_DIRS, '--', ...mounts.flat(), '--', ...argv];
}

/** The process sees the host's tree at every sealed dir (same directory object: device and inode). */
export function isSealed(pid: number, hostRoot: string): boolean {
  try {
    return SEALED_DIRS.every((d) => {
      const inside = statSync(`/proc/${pid}/root/${d}`);
      const own = statSync(path.join(hostRoot, d));
      return inside.dev === own.dev && inside.ino === own.ino;
    });
  } catch {
    return false;
  }
}
