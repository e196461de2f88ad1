/**
 * bench/ssh-fanout.ts — reading 20 sysctls from each of N SSH hosts, kdrift (in-process ssh2) vs OpenSSH `ssh`.
 *
 *   npx tsx bench/ssh-fanout.ts [--hosts 200] [--sshds 20] [--concurrency 50] [--runs 3] [--real-login]
 *
 * Targets: real sshd processes on loopback, each listening on hosts/sshds addresses 127.0.0.x at one port, so every
 * host is a distinct (address, port) with its own known_hosts line, as in a fleet. Modes, each per host:
 *   openssh-exec : one `ssh host cat <20 files>` process (BatchMode, StrictHostKeyChecking=yes, same known_hosts)
 *   kdrift-exec  : openSession + ONE exec(['cat', ...20 files]) + close
 *   kdrift-sftp  : openSession + 20 readFile over SFTP (starts no shell) + close
 * Every answer is checked against this machine's /proc/sys, so a failing mode cannot look fast.
 * By default the sessions get a HOME of their own (no root ~/.bashrc / pyenv per command; see README.md, SSH notes);
 * --real-login keeps root's real login environment. Note: Debian's `Subsystem sftp /usr/lib/openssh/sftp-server` is
 * started by sshd through the login shell too (one shell per connection, not per read); --internal-sftp uses sshd's
 * built-in server, which starts no shell.
 * Client CPU: this process (kdrift) or the reaped ssh children (OpenSSH); server CPU: the sshd listeners' reaped children.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { HostEntry } from '../core/inventory.js';
import { mapLimit } from '../core/pool.js';
import { openSession } from '../core/sessions.js';
import { makeKey, startSshd, type TestSshd } from '../lab/loopback-sshd.js';

const KEYS = [
  'net/ipv4/tcp_window_scaling', 'net/ipv4/tcp_sack', 'net/ipv4/tcp_timestamps', 'net/ipv4/tcp_syncookies',
  'net/core/somaxconn', 'net/ipv4/tcp_rmem', 'net/ipv4/tcp_wmem', 'net/ipv4/ip_local_port_range',
  'net/ipv4/tcp_fin_timeout', 'net/ipv4/tcp_keepalive_time', 'net/ipv4/tcp_max_syn_backlog', 'net/core/netdev_max_backlog',
  'net/core/rmem_max', 'net/core/wmem_max', 'net/ipv4/tcp_tw_reuse', 'net/ipv4/tcp_mtu_probing',
  'net/ipv4/tcp_slow_start_after_idle', 'net/ipv4/tcp_congestion_control', 'net/ipv4/ip_forward', 'net/ipv4/tcp_retries2',
].map((k) => `/proc/sys/${k}`);

const { values } = parseArgs({
  options: {
    hosts: { type: 'string', default: '200' },
    sshds: { type: 'string', default: '20' },
    concurrency: { type: 'string', default: '50' },
    runs: { type: 'string', default: '3' },
    'real-login': { type: 'boolean', default: false },
    'internal-sftp': { type: 'boolean', default: false },
  },
});
const HOSTS = Number(values.hosts);
const SSHDS = Number(values.sshds);
const CONCURRENCY = Number(values.concurrency);
const RUNS = Number(values.runs);
const PER_SSHD = Math.ceil(HOSTS / SSHDS);
if (PER_SSHD > 250) throw new Error('at most 250 addresses per sshd (127.0.0.1-250)');

/** Clock ticks of CPU (user+sys) of a process's reaped children, from /proc/PID/stat (cutime + cstime). */
function childCpuMs(pid: number | 'self'): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[13]) + Number(f[14])) * 10; // fields 16, 17 of stat(5); USER_HZ = 100
}

function expectedOutput(): string {
  return KEYS.map((k) => readFileSync(k, 'utf8')).join('');
}

function runSsh(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('ssh', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'kdrift-bench-ssh-'));
  const sshds: TestSshd[] = [];
  try {
    const key = makeKey(path.join(dir, 'id_ed25519'));
    const hostKey = makeKey(path.join(dir, 'ssh_host_ed25519_key'));
    const hosts: HostEntry[] = [];
    for (let i = 0; i < SSHDS; i++) {
      const addrs = Array.from({ length: PER_SSHD }, (_, j) => `127.0.0.${j + 1}`);
      const d = await startSshd({
        dir: path.join(dir, `sshd${i}`),
        authorizedKeys: [key.pub],
        hostKey,
        cleanLogin: !values['real-login'],
        ...(values['internal-sftp'] ? { sftpServer: 'internal-sftp' } : {}),
        // MaxStartups: the bench opens many handshakes at once to each sshd; the default 10:30:100 would drop some.
        extraConfig: ['MaxStartups 1000', ...addrs.slice(1).map((a) => `ListenAddress ${a}`)],
      });
      sshds.push(d);
      for (const a of addrs) if (hosts.length < HOSTS) hosts.push({ name: `h${hosts.length}`, address: a, port: d.port, user: 'root', roles: ['bench'], identityFile: key.privateKeyPath });
    }
    const knownHosts = path.join(dir, 'known_hosts');
    writeFileSync(knownHosts, hosts.map((h) => `[${h.address}]:${h.port} ${hostKey.pub}\n`).join(''));
    const expected = expectedOutput();
    const check = (h: HostEntry, got: string) => {
      if (got !== expected) throw new Error(`${h.name}: wrong answer ${JSON.stringify(got.slice(0, 80))}`);
    };

    const modes: Record<string, () => Promise<void>> = {
      'openssh-exec': async () => {
        await mapLimit(hosts, CONCURRENCY, async (h) => {
          const res = await runSsh([
            '-F', '/dev/null', '-i', key.privateKeyPath, '-p', String(h.port), '-l', h.user,
            '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${knownHosts}`,
            '-o', 'GlobalKnownHostsFile=/dev/null', '-o', 'IdentitiesOnly=yes', '-o', 'ControlMaster=no',
            h.address, 'cat', ...KEYS,
          ]);
          if (res.code !== 0) throw new Error(`${h.name}: ssh exit ${res.code}: ${res.stderr}`);
          check(h, res.stdout);
        });
      },
      'kdrift-exec': async () => {
        await mapLimit(hosts, CONCURRENCY, async (h) => {
          const s = await openSession(h, { knownHostsPath: knownHosts, commandTimeoutMs: 0 }); // no timeout, like ssh
          try {
            const res = await s.exec(['cat', ...KEYS]);
            if (res.code !== 0) throw new Error(`${h.name}: exit ${res.code}: ${res.stderr.toString()}`);
            check(h, res.stdout.toString());
          } finally {
            await s.close();
          }
        });
      },
      'kdrift-sftp': async () => {
        await mapLimit(hosts, CONCURRENCY, async (h) => {
          const s = await openSession(h, { knownHostsPath: knownHosts, commandTimeoutMs: 0 }); // no timeout, like ssh
          try {
            const parts = await Promise.all(KEYS.map((k) => s.readFile(k)));
            check(h, Buffer.concat(parts).toString());
          } finally {
            await s.close();
          }
        });
      },
    };

    console.log(`${HOSTS} hosts on ${SSHDS} loopback sshds, ${KEYS.length} sysctls each, ${CONCURRENCY} hosts at once, ` +
      `${values['real-login'] ? "root's real login (~/.bashrc runs)" : 'clean login (own HOME)'}, ` +
      `${values['internal-sftp'] ? 'internal-sftp' : 'sftp-server'}, ${RUNS} runs, median shown`);
    const results: Record<string, { wall: number[]; client: number[]; server: number[] }> = {};
    for (let r = 0; r < RUNS; r++) {
      // Rotate the order so no mode always runs first (warm caches, background load).
      const names = Object.keys(modes);
      const order = [...names.slice(r % names.length), ...names.slice(0, r % names.length)];
      for (const name of order) {
        const server0 = sshds.reduce((a, d) => a + childCpuMs(d.pid), 0);
        const client0 = name.startsWith('openssh') ? childCpuMs('self') : cpuSelfMs();
        const t0 = performance.now();
        await (modes[name] as () => Promise<void>)();
        const wall = performance.now() - t0;
        await new Promise((res) => setTimeout(res, 300)); // let sshd reap its children so their CPU is counted
        const client = (name.startsWith('openssh') ? childCpuMs('self') : cpuSelfMs()) - client0;
        const server = sshds.reduce((a, d) => a + childCpuMs(d.pid), 0) - server0;
        (results[name] ??= { wall: [], client: [], server: [] }).wall.push(wall);
        results[name].client.push(client);
        results[name].server.push(server);
        console.log(`  run ${r + 1} ${name.padEnd(13)} ${(wall / 1000).toFixed(2)} s wall, client CPU ${(client / HOSTS).toFixed(1)} ms/host, sshd CPU ${(server / HOSTS).toFixed(1)} ms/host`);
      }
    }
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
    console.log('\nmode           wall (median)   client CPU/host   sshd CPU/host');
    for (const [name, r] of Object.entries(results)) {
      console.log(`${name.padEnd(14)} ${`${(med(r.wall) / 1000).toFixed(2)} s`.padStart(13)}   ${`${(med(r.client) / HOSTS).toFixed(1)} ms`.padStart(15)}   ${`${(med(r.server) / HOSTS).toFixed(1)} ms`.padStart(13)}`);
    }
    const ssh = med(results['openssh-exec']?.wall ?? [NaN]);
    for (const k of ['kdrift-exec', 'kdrift-sftp']) console.log(`openssh-exec / ${k}: ${(ssh / med(results[k]?.wall ?? [NaN])).toFixed(2)}x`);
  } finally {
    await Promise.all(sshds.map((d) => d.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}

function cpuSelfMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
});
