/**
 * A fleet of N SSH endpoints on loopback, for bench/fleet-scale.ts and test/e2e/fleet.test.ts: real sshd processes,
 * each listening on up to 16 addresses 127.0.0.x at its own port, so every host is a distinct (address, port) with its
 * own known_hosts line. Root logs in with /bin/sh (a passwd file bind-mounted over /etc/passwd in each sshd's private
 * mount namespace: dash reads no rc file, so no ~/.bashrc / pyenv per command) and a HOME of its own; SFTP is
 * internal-sftp (starts no shell). The endpoints read this machine's /proc/sys and /etc/sysctl.d.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { HostEntry } from '../core/inventory.js';
import { makeKey, startSshd, type KeyPair, type TestSshd } from './loopback-sshd.js';

/** Addresses per sshd: OpenSSH listens on at most 16 sockets (MAX_LISTEN_SOCKS). */
const ADDRS_PER_SSHD = 16;

export interface LoopbackFleet {
  hosts: HostEntry[];
  /** One line per host, `[127.0.0.x]:port key`. */
  knownHostsPath: string;
  clientKey: KeyPair;
  hostKey: KeyPair;
  sshds: TestSshd[];
  /** CPU (ms) the sshds' reaped children used so far: the server side of every connection. */
  serverCpuMs(): number;
  stop(): Promise<void>;
}

export interface LoopbackFleetOptions {
  /** Working directory (created by the caller, removed by the caller). */
  dir: string;
  hosts: number;
  roles: string[];
  /** Host names: `${prefix}${i}` (default h). */
  prefix?: string;
}

/** Clock ticks of CPU (user+sys) of a process's reaped children (cutime + cstime of /proc/PID/stat), in ms. */
export function reapedChildCpuMs(pid: number | 'self'): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[13]) + Number(f[14])) * 10; // fields 16, 17 of stat(5); USER_HZ = 100
}

export async function startLoopbackFleet(opts: LoopbackFleetOptions): Promise<LoopbackFleet> {
  if (opts.hosts < 1 || opts.hosts > ADDRS_PER_SSHD * 200) throw new Error(`hosts must be 1..${ADDRS_PER_SSHD * 200}`);
  const clientKey = makeKey(path.join(opts.dir, 'id_ed25519'));
  const hostKey = makeKey(path.join(opts.dir, 'ssh_host_ed25519_key'));
  const passwd = path.join(opts.dir, 'passwd');
  writeFileSync(
    passwd,
    readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .map((l) => (l.startsWith('root:') ? l.replace(/:[^:]*$/, ':/bin/sh') : l))
      .join('\n'),
  );
  const sshds: TestSshd[] = [];
  const hosts: HostEntry[] = [];
  const nSshds = Math.ceil(opts.hosts / ADDRS_PER_SSHD);
  try {
    for (let i = 0; i < nSshds; i++) {
      const count = Math.min(ADDRS_PER_SSHD, opts.hosts - i * ADDRS_PER_SSHD);
      const addrs = Array.from({ length: count }, (_, j) => `127.0.0.${j + 1}`);
      const d = await startSshd({
        dir: path.join(opts.dir, `sshd${i}`),
        authorizedKeys: [clientKey.pub],
        hostKey,
        cleanLogin: true,
        sftpServer: 'internal-sftp',
        bindMounts: [[passwd, '/etc/passwd']],
        // MaxStartups: many handshakes at once to each sshd; the default 10:30:100 would drop some.
        extraConfig: ['MaxStartups 1000', ...addrs.slice(1).map((a) => `ListenAddress ${a}`)],
      });
      sshds.push(d);
      for (const a of addrs) {
        hosts.push({ name: `${opts.prefix ?? 'h'}${hosts.length}`, address: a, port: d.port, user: 'root', roles: opts.roles, identityFile: clientKey.privateKeyPath });
      }
    }
  } catch (err) {
    await Promise.all(sshds.map((d) => d.stop()));
    throw err;
  }
  const knownHostsPath = path.join(opts.dir, 'known_hosts');
  writeFileSync(knownHostsPath, hosts.map((h) => `[${h.address}]:${h.port} ${hostKey.pub}\n`).join(''));
  return {
    hosts,
    knownHostsPath,
    clientKey,
    hostKey,
    sshds,
    serverCpuMs: () => sshds.reduce((a, d) => a + reapedChildCpuMs(d.pid), 0),
    stop: async () => {
      await Promise.all(sshds.map((d) => d.stop()));
    },
  };
}
