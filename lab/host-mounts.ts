import { readFileSync } from 'node:fs';

/**
 * `ip netns exec` gives the command a fresh /sys for the namespace, which drops the machine's mounts under it — the
 * cgroup hierarchies above all (cgroup2 is at /sys/fs/cgroup/unified here). A real host has them, and kdrift's probe
 * attaches to the cgroup v2 root. So a lab host's sshd (hence every SSH session) and labExec get the machine's
 * /sys mounts of these kinds mounted again inside their own mount namespace (same hierarchies, nothing new; the
 * namespace is a slave of the machine's, so nothing propagates back).
 */
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

/** A constant script; every value reaches it as a positional argument. Mount failures are reported, not fatal. */
const SCRIPT =
  'while [ "$1" != -- ]; do mkdir -p "$3" 2>/dev/null; mount -t "$1" -o "$2" "$1" "$3" || echo "kdrift lab: cannot mount $1 on $3" >&2; shift 3; done; shift; exec "$@"';

/** argv that runs `argv` inside a lab host: its network namespace, its /etc (ip netns exec) and the machine's /sys mounts. */
export function inHost(netns: string, argv: readonly string[], mounts: readonly MountSpec[] = sysMounts()): string[] {
  return ['ip', 'netns', 'exec', netns, '/bin/sh', '-c', SCRIPT, 'kdrift-lab-host', ...mounts.flat(), '--', ...argv];
}
