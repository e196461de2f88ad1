import { mkdirSync, readFileSync, writeFileSync, symlinkSync, readlinkSync, rmSync, existsSync } from 'node:fs';
import path from 'node:path';
import { etcNetnsDir } from './paths.js';
import { NON_ROOT_USER, type LabPlan, type LabHostLayout } from './plan.js';

/**
 * A host's own /etc: `ip netns exec NS` bind-mounts every entry of /etc/netns/NS over /etc (for that command and its
 * children — sshd and every SSH session it starts). So each host gets:
 *   passwd      root's shell /bin/sh and home in the host's lab dir (dash reads no rc file: no pyenv init per command),
 *               plus the non-root lab user;
 *   hosts       the lab's names;
 *   sysctl.conf its own (a copy of the machine's, all comments on Debian);
 *   sysctl.d/   its own directory: 99-sysctl.conf → ../sysctl.conf as on Debian, and 60-fleet.conf from provisioning.
 * Bound *files* (passwd, hosts, sysctl.conf) are pinned by inode in a running host: we rewrite them in place, never by
 * rename, and a rename() over them inside a host fails with EBUSY (write such files in place there too).
 */
export interface HostEtcPaths {
  home: string;
  nonRootHome: string;
}

export function writeHostEtc(plan: LabPlan, h: LabHostLayout, homes: HostEtcPaths): void {
  const dir = etcNetnsDir(h.netns);
  mkdirSync(path.join(dir, 'sysctl.d'), { recursive: true });
  writeIfChanged(path.join(dir, 'passwd'), hostPasswd(readFileSync('/etc/passwd', 'utf8'), homes));
  writeIfChanged(path.join(dir, 'hosts'), hostsFile(plan, h));
  const conf = path.join(dir, 'sysctl.conf');
  if (!existsSync(conf)) writeFileSync(conf, existsSync('/etc/sysctl.conf') ? readFileSync('/etc/sysctl.conf') : '');
  const link = path.join(dir, 'sysctl.d', '99-sysctl.conf');
  let target: string | undefined;
  try {
    target = readlinkSync(link);
  } catch {
    target = undefined;
  }
  if (target !== '../sysctl.conf') {
    rmSync(link, { force: true });
    symlinkSync('../sysctl.conf', link);
  }
}

export function hostPasswd(machinePasswd: string, homes: HostEtcPaths): string {
  const lines = machinePasswd
    .split('\n')
    .filter((l) => l.length > 0 && !l.startsWith(`${NON_ROOT_USER.name}:`))
    .map((l) => (l.startsWith('root:') ? `root:x:0:0:root:${homes.home}:/bin/sh` : l));
  lines.push(`${NON_ROOT_USER.name}:x:${NON_ROOT_USER.uid}:${NON_ROOT_USER.gid}:kdrift lab non-root user:${homes.nonRootHome}:/bin/sh`);
  return lines.join('\n') + '\n';
}

function hostsFile(plan: LabPlan, h: LabHostLayout): string {
  const lines = ['127.0.0.1\tlocalhost', `127.0.1.1\t${h.name}`];
  for (const o of plan.hosts) lines.push(`${o.address}\t${o.name}`);
  lines.push(`${plan.wan.lbAddress}\tlb-wan`, `${plan.wan.clientAddress}\tclient-wan`);
  return lines.join('\n') + '\n';
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

export function removeHostEtc(netns: string): void {
  rmSync(etcNetnsDir(netns), { recursive: true, force: true });
}
