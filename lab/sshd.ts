import { existsSync, readFileSync } from 'node:fs';
import { runOk } from './run.js';
import { writeIfChanged } from './host-root.js';
import { inHost } from './host-mounts.js';
import type { LabPaths } from './paths.js';
import type { LabHostLayout } from './plan.js';

/** Each lab host runs its own sshd: own ed25519 host key, key-only auth (the lab's client key), on its LAN address. */
export async function ensureKey(file: string, comment: string): Promise<void> {
  if (existsSync(file) && existsSync(`${file}.pub`)) return;
  await runOk(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file], { input: 'y\n' });
}

export function publicKey(file: string): string {
  return readFileSync(`${file}.pub`, 'utf8').trim();
}

export function sshdConfigText(h: LabHostLayout, paths: LabPaths): string {
  const hp = paths.host(h.name);
  return [
    `# sshd for lab host ${h.name} (netns ${h.netns}); written and started by kdrift lab up`,
    'Port 22',
    `ListenAddress ${h.address}`,
    `HostKey ${hp.hostKey}`,
    // lab up records the pid itself; sshd rewriting the same file (truncate, then write) after it starts listening let
    // a status read in between find it empty and call a live sshd dead.
    'PidFile none',
    `AuthorizedKeysFile ${paths.authorizedKeys}`,
    'PubkeyAuthentication yes',
    'PermitRootLogin prohibit-password',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    // The lab writes the keys itself (0600, root). StrictModes would refuse them whenever the checkout sits under a
    // group- or world-writable directory (a clone in /tmp, a CI workspace): every login then fails "publickey".
    'StrictModes no',
    'X11Forwarding no',
    'AllowTcpForwarding no',
    'PrintMotd no',
    'PrintLastLog no',
    'UseDNS no',
    // A fleet run opens many sessions at once; the defaults (10:30:100) would drop some.
    'MaxStartups 256:30:512',
    'MaxSessions 64',
    'Subsystem sftp internal-sftp',
    'LogLevel ERROR',
    '',
  ].join('\n');
}

/** Writes the config; returns true when it changed (a running sshd must then be restarted). */
export function writeSshdConfig(h: LabHostLayout, paths: LabPaths): boolean {
  return writeIfChanged(paths.host(h.name).sshdConfig, sshdConfigText(h, paths));
}

/** sshd's privilege-separation directory /run/sshd is in the host's own /run (lab/host-root.ts makes it). */
export function sshdArgv(h: LabHostLayout, paths: LabPaths): string[] {
  return inHost(h.netns, paths.host(h.name).root, ['/usr/sbin/sshd', '-D', '-f', paths.host(h.name).sshdConfig, '-E', paths.logFile(`sshd-${h.name}`)]);
}
