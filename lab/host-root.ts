import { existsSync, mkdirSync, readFileSync, writeFileSync, symlinkSync, rmSync, chmodSync, readdirSync, statSync, renameSync } from 'node:fs';
import path from 'node:path';
import { KdriftError } from '../core/errors.js';
import { run, runOk } from './run.js';
import { SEALED_DIRS } from './host-mounts.js';
import { NON_ROOT_USER, type LabPlan, type LabHostLayout } from './plan.js';

/**
 * A lab host's own tree (bound at /etc, /var/lib, /var/log, /run inside the host by lab/host-mounts.ts), made once when
 * the host is new — like a machine installed from an image — and then the host's alone: nothing on the machine changes
 * it later (a `useradd` here does not reach it) and nothing done inside reaches the machine.
 *   etc/      a copy of the machine's /etc at that moment (what sshd, HAProxy, node, python3, sysctl, systemd-sysctl and
 *             useradd expect: ld.so.cache, nsswitch.conf, login.defs, alternatives, ...), except
 *               passwd      root's shell /bin/sh and home in the host's lab dir (dash reads no rc file: no pyenv init per
 *                           command), plus the non-root lab user;
 *               hosts       the lab's names (rewritten by every lab up);
 *               sysctl.d/   the host's own: 99-sysctl.conf → ../sysctl.conf as on Debian, and 60-fleet.conf from
 *                           provisioning (the machine's sysctl.d entries are not copied: the host starts from its baseline);
 *               ssh/        the host's own ed25519 key and sshd_config (the machine's host keys are not copied);
 *               netns/      not copied (other labs' state by kdrift before the seal).
 *   var/lib/, var/log/  empty: kdrift's journal, wtmp/lastlog of SSH logins land here.
 *   run/      lock/ (1777) and sshd/ (sshd's privilege-separation directory): kdrift's fix lock, utmp, pid files.
 * /usr/lib/sysctl.d and the rest of the filesystem are the machine's, read-only in spirit (the lab never writes them).
 */
export async function buildHostRoot(finalRoot: string, plan: LabPlan, h: LabHostLayout, homes: HostEtcPaths): Promise<void> {
  // Built aside and renamed into place: a tree that exists is complete (a lab up that died half-way leaves none).
  const root = `${finalRoot}.new`;
  rmSync(root, { recursive: true, force: true });
  await copyMachineEtc(root);
  for (const d of SEALED_DIRS) mkdirSync(path.join(root, d), { recursive: true, mode: 0o755 });
  mkdirSync(path.join(root, 'run', 'sshd'), { mode: 0o755 });
  mkdirSync(path.join(root, 'run', 'lock'));
  chmodSync(path.join(root, 'run', 'lock'), 0o1777);
  const etc = path.join(root, 'etc');
  const ssh = path.join(etc, 'ssh');
  mkdirSync(ssh, { recursive: true, mode: 0o755 });
  for (const f of readdirSync(ssh)) if (f.startsWith('ssh_host_')) rmSync(path.join(ssh, f), { force: true });
  rmSync(path.join(etc, 'sysctl.d'), { recursive: true, force: true });
  mkdirSync(path.join(etc, 'sysctl.d'), { mode: 0o755 });
  symlinkSync('../sysctl.conf', path.join(etc, 'sysctl.d', '99-sysctl.conf'));
  if (!existsSync(path.join(etc, 'sysctl.conf'))) writeFileSync(path.join(etc, 'sysctl.conf'), '');
  writeFileSync(path.join(etc, 'passwd'), hostPasswd(readOr(path.join(etc, 'passwd'), ''), homes));
  writeHostsFile(etc, plan, h);
  rmSync(finalRoot, { recursive: true, force: true });
  renameSync(root, finalRoot);
}

/**
 * The hosts' trees live on a tmpfs the lab mounts at `.lab/<name>/hosts`: a copy of /etc is ~1,300 entries (800 of them
 * symlinks), and creating them on this machine's disk took 0.4-2.5 s per host under load against 0.1 s on tmpfs. The
 * tmpfs is the lab's alone (nothing else is mounted there, and it propagates nowhere); `lab down` unmounts it. A tmpfs
 * does not survive a reboot, and neither do the namespaces: the next `lab up` makes fresh hosts.
 */
export async function ensureHostsTmpfs(dir: string, labName: string): Promise<void> {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  if (isMountPoint(dir)) return;
  await runOk(['mount', '-t', 'tmpfs', '-o', 'mode=0755,size=256m', `kdrift-lab-${labName}`, dir]);
}

/** Unmounts the lab's tmpfs (lazily if something still holds it open); a no-op when it is not mounted. */
export async function releaseHostsTmpfs(dir: string): Promise<void> {
  if (!isMountPoint(dir)) return;
  const res = await run(['umount', dir]);
  if (res.code !== 0) await runOk(['umount', '-l', dir]);
}

function isMountPoint(dir: string): boolean {
  try {
    return statSync(dir).dev !== statSync(path.dirname(dir)).dev;
  } catch {
    return false;
  }
}

/**
 * `cp -a` of every entry of /etc but netns/ (other labs' state, which they add and remove while we copy): modes,
 * owners, symlinks and timestamps as on the machine, in one process. The machine may change a file while it is copied
 * (a package install, another run's useradd): a failed copy is tried once more before it is an error.
 */
async function copyMachineEtc(root: string): Promise<void> {
  const etc = path.join(root, 'etc');
  for (let attempt = 1; ; attempt++) {
    rmSync(root, { recursive: true, force: true });
    mkdirSync(etc, { recursive: true, mode: 0o755 });
    const entries = readdirSync('/etc').filter((e) => e !== 'netns').map((e) => path.join('/etc', e));
    const res = await run(['cp', '-a', '-t', etc, '--', ...entries]);
    if (res.code === 0) return;
    if (attempt === 2) throw new KdriftError(`cannot copy the machine's /etc into lab host tree ${root}: ${res.stderr.trim()}`);
  }
}

function readOr(file: string, fallback: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
}

export interface HostEtcPaths {
  home: string;
  nonRootHome: string;
}

export function hostPasswd(machinePasswd: string, homes: HostEtcPaths): string {
  const lines = machinePasswd
    .split('\n')
    .filter((l) => l.length > 0 && !l.startsWith(`${NON_ROOT_USER.name}:`))
    .map((l) => (l.startsWith('root:') ? `root:x:0:0:root:${homes.home}:/bin/sh` : l));
  lines.push(`${NON_ROOT_USER.name}:x:${NON_ROOT_USER.uid}:${NON_ROOT_USER.gid}:kdrift lab non-root user:${homes.nonRootHome}:/bin/sh`);
  return lines.join('\n') + '\n';
}

/** The host's /etc/hosts: the lab's names (its own name as 127.0.1.1, as Debian's installer writes it). */
export function writeHostsFile(etc: string, plan: LabPlan, h: LabHostLayout): boolean {
  const lines = ['127.0.0.1\tlocalhost', `127.0.1.1\t${h.name}`];
  for (const o of plan.hosts) lines.push(`${o.address}\t${o.name}`);
  lines.push(`${plan.wan.lbAddress}\tlb-wan`, `${plan.wan.clientAddress}\tclient-wan`);
  return writeIfChanged(path.join(etc, 'hosts'), lines.join('\n') + '\n');
}

/** In place (same inode), and only when the content differs: running hosts see the change, a warm up writes nothing. */
export function writeIfChanged(file: string, content: string): boolean {
  try {
    if (readFileSync(file, 'utf8') === content) return false;
  } catch {
    // missing: write it
  }
  writeFileSync(file, content);
  return true;
}
