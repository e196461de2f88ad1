/**
 * bench/fleet-scale.ts — the nightly report at fleet scale (issue 17, P1 and P1b), side by side in one run:
 *
 *   npx tsx bench/fleet-scale.ts [--hosts 200] [--concurrency 50] [--runs 1] [--peers kdrift,ssh2,openssh,ansible,every]
 *
 * The bench brings its own fleet (lab/loopback-fleet.ts): N loopback sshd endpoints, a known_hosts line each, root with
 * a /bin/sh login. Peers, each a child process of its own, measured by wait4's rusage (wall, CPU of the process and its
 * children, peak RSS of the largest process):
 *   kdrift   `node bin/kdrift.js report` (dist/), the lb baseline (11 sysctls → 22 findings per host), JSON checked
 *   ssh2     bare ssh2 fan-out of the same reads: one connection + one exec of `head` over the same files per host
 *   openssh  OpenSSH `ssh` per host, same command
 *   ansible  Debian's ansible-core, `ansible all -m command -f CONCURRENCY`, same command
 *   every    P1b: `kdrift report --every 1s --listen`: the first run connects, later runs rescan over the kept
 *            connections; /metrics is fetched and checked with `promtool check metrics`
 * "Same reads": the lb keys' /proc/sys files and every sysctl.d/sysctl.conf file this machine has (the endpoints are
 * this machine), listed once here. Targets: kdrift ≤ 1.05× ssh2, ≤ 4 ms controller CPU per host, ≤ 150 MB RSS,
 * ≥ 4× faster than openssh, ≥ 30× faster than ansible; every rescan ≤ 2 s at 1,000 hosts.
 * Leaves nothing behind: the sshds (and their sessions) are killed, the temp dir removed, even on failure or Ctrl-C.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { sysctlProcPath } from '../core/sysctl-key.js';
import { freePort } from '../lab/loopback-sshd.js';
import { startLoopbackFleet, type LoopbackFleet } from '../lab/loopback-fleet.js';
import { declaredRoles } from '../stacks/baselines.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    hosts: { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '50' },
    runs: { type: 'string', default: '1' },
    peers: { type: 'string', default: 'kdrift,ssh2,openssh,ansible,every' },
    'every-runs': { type: 'string', default: '4' },
    /** Write kdrift's V8 CPU profile here and print its top functions by self time. */
    'cpu-prof': { type: 'string' },
  },
});
const HOSTS = Number(values.hosts);
const CONCURRENCY = Number(values.concurrency);
const RUNS = Number(values.runs);
const PEERS = values.peers.split(',');
const SYSCTL_DIRS = ['/etc/sysctl.d', '/run/sysctl.d', '/usr/local/lib/sysctl.d', '/usr/lib/sysctl.d', '/lib/sysctl.d'];

interface Measured {
  wallS: number;
  cpuS: number;
  /** Of cpuS, in the kernel (loopback sends are processed in the sender's syscalls). */
  sysS: number;
  maxRssKb: number;
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs argv under a python wait4 wrapper: wall, user+sys of the whole process tree (reaped), peak RSS. */
function measure(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<Measured> {
  const py =
    'import resource, subprocess, sys, json, time\n' +
    't = time.monotonic()\n' +
    'p = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE)\n' +
    'w = time.monotonic() - t\n' +
    'r = resource.getrusage(resource.RUSAGE_CHILDREN)\n' +
    'sys.stderr.buffer.write(p.stderr)\n' +
    'sys.stdout.write(json.dumps({"wall": w, "cpu": r.ru_utime + r.ru_stime, "sys": r.ru_stime, "rss": r.ru_maxrss, "code": p.returncode, "out": p.stdout.decode("utf8", "replace")}))\n';
  return new Promise((resolve, reject) => {
    const c = spawn('python3', ['-c', py, ...argv], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    c.on('error', reject);
    c.on('close', () => {
      try {
        const j = JSON.parse(out) as { wall: number; cpu: number; sys: number; rss: number; code: number; out: string };
        resolve({ wallS: j.wall, cpuS: j.cpu, sysS: j.sys, maxRssKb: j.rss, code: j.code, stdout: j.out, stderr: err });
      } catch {
        reject(new Error(`measuring ${argv.join(' ')} failed: ${err}`));
      }
    });
  });
}

/** The files kdrift reads on a host with the lb baseline, as this machine (= every endpoint) has them. */
function sameReads(keys: string[]): string[] {
  const files = keys.map((k) => sysctlProcPath(k));
  for (const d of SYSCTL_DIRS) {
    if (!existsSync(d)) continue;
    for (const f of readdirSync(d).sort()) if (f.endsWith('.conf')) files.push(`${d}/${f}`);
  }
  if (existsSync('/etc/sysctl.conf')) files.push('/etc/sysctl.conf');
  for (const f of files) if (!/^[A-Za-z0-9_./-]+$/.test(f)) throw new Error(`unexpected file name ${f}`);
  return files;
}

function localOutput(argv: string[]): Promise<string> {
  return new Promise((resolve) => {
    const c = spawn(argv[0] as string, argv.slice(1), { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.on('close', () => resolve(out));
  });
}

interface Row {
  peer: string;
  wallS: number;
  cpuMsPerHost: number;
  sysMsPerHost: number;
  rssMb: number;
  serverMsPerHost: number;
  note: string;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'kdrift-bench-fleet-'));
  let fleet: LoopbackFleet | undefined;
  const stopAll = async () => {
    await fleet?.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  const onSignal = () => void stopAll().finally(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    if (!existsSync(path.join(REPO, 'dist/cli/main.js'))) throw new Error('dist/ is missing: npm run build first');
    const t0 = performance.now();
    fleet = await startLoopbackFleet({ dir, hosts: HOSTS, roles: ['load-balancer'] });
    const f = fleet;
    const lb = declaredRoles['load-balancer'];
    const keys = Object.keys(lb.sysctls);
    // the lb baseline without behaviours (a config-only nightly run), as a JSON baseline file
    const baselineFile = path.join(dir, 'baseline.json');
    writeFileSync(baselineFile, JSON.stringify({ roles: { 'load-balancer': { ...lb, behaviours: [] } } }));
    const inventoryFile = path.join(dir, 'inventory.json');
    writeFileSync(inventoryFile, JSON.stringify({ hosts: f.hosts.map(({ identityFile: _k, ...h }) => h), knownHosts: f.knownHostsPath, identityFile: f.clientKey.privateKeyPath, baseline: baselineFile }));
    const readArgv = ['head', '-n', '1000', ...sameReads(keys)];
    const expected = await localOutput(readArgv);
    const job = path.join(dir, 'job.json');
    writeFileSync(
      job,
      JSON.stringify({
        hosts: f.hosts.map((h) => ({ address: h.address, port: h.port })),
        user: 'root',
        key: f.clientKey.privateKeyPath,
        knownHosts: f.knownHostsPath,
        hostKeyBase64: f.hostKey.blob.toString('base64'),
        argv: readArgv,
        expected,
        concurrency: CONCURRENCY,
        ssh2Path: path.join(REPO, 'node_modules/ssh2/lib/index.js'),
      }),
    );
    const ansibleInv = path.join(dir, 'ansible.ini');
    writeFileSync(
      ansibleInv,
      `${f.hosts.map((h) => `${h.name} ansible_host=${h.address} ansible_port=${h.port}`).join('\n')}\n[all:vars]\nansible_user=root\n` +
        `ansible_ssh_private_key_file=${f.clientKey.privateKeyPath}\nansible_python_interpreter=/usr/bin/python3\n` +
        `ansible_ssh_common_args=-o UserKnownHostsFile=${f.knownHostsPath} -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes\n`,
    );
    const ansibleEnv = {
      ...process.env,
      ANSIBLE_CONFIG: path.join(dir, 'no-ansible.cfg'),
      ANSIBLE_HOME: path.join(dir, 'ansible-home'),
      ANSIBLE_LOCAL_TEMP: path.join(dir, 'ansible-tmp'),
      ANSIBLE_REMOTE_TEMP: path.join(dir, 'ansible-remote-tmp'),
      // One task per host: a ControlPersist master would only outlive the run; pipelining = one ssh per host.
      ANSIBLE_SSH_ARGS: '-o ControlMaster=no',
      ANSIBLE_PIPELINING: 'True',
      ANSIBLE_HOST_KEY_CHECKING: 'True',
      ANSIBLE_NOCOLOR: '1',
      ANSIBLE_FORKS: String(CONCURRENCY),
    };
    console.log(`fleet: ${HOSTS} loopback sshd endpoints on ${f.sshds.length} sshds in ${((performance.now() - t0) / 1000).toFixed(1)} s; ` +
      `${keys.length} lb sysctls (${keys.length * 2} findings per host) + ${readArgv.length - 3 - keys.length} sysctl.d files; ${CONCURRENCY} at once; ` +
      `load average before: ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);

    const peers: Record<string, () => Promise<Row>> = {
      kdrift: async () => {
        const s0 = f.serverCpuMs();
        const prof = values['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', path.resolve(values['cpu-prof'])] : [];
        const m = await measure([process.execPath, ...prof, path.join(REPO, 'bin/kdrift.js'), 'report', '--inventory', inventoryFile, '--format', 'json', '--concurrency', String(CONCURRENCY), '--fail-on', 'none']);
        const server = f.serverCpuMs() - s0;
        const report = JSON.parse(m.stdout) as { hosts: { name: string; status: string; findings: unknown[]; error?: string }[] };
        const bad = report.hosts.filter((h) => h.status === 'error' || h.findings.length !== keys.length * 2);
        if (m.code !== 0 || report.hosts.length !== HOSTS || bad.length > 0) throw new Error(`kdrift: exit ${m.code}, ${bad.length} bad hosts, e.g. ${JSON.stringify(bad[0])} ${m.stderr}`);
        return row('kdrift report', m, server, `${HOSTS}×${keys.length * 2} findings`);
      },
      ssh2: async () => peer('ssh2', 'bare ssh2'),
      openssh: async () => peer('openssh', 'OpenSSH ssh'),
      ansible: async () => {
        const s0 = f.serverCpuMs();
        const m = await measure(['ansible', 'all', '-i', ansibleInv, '-f', String(CONCURRENCY), '-o', '-m', 'ansible.builtin.command', '-a', readArgv.join(' ')], ansibleEnv);
        const server = f.serverCpuMs() - s0;
        const ok = (m.stdout.match(/ \| CHANGED \| rc=0 \|/g) ?? []).length;
        if (ok !== HOSTS) throw new Error(`ansible: ${ok}/${HOSTS} hosts answered: ${m.stdout.split('\n').find((l) => !/CHANGED/.test(l)) ?? ''} ${m.stderr.slice(0, 300)}`);
        return row('Ansible', m, server, `command module, forks ${CONCURRENCY}, pipelining`);
      },
    };
    async function peer(mode: 'ssh2' | 'openssh', label: string): Promise<Row> {
      const s0 = f.serverCpuMs();
      const m = await measure([process.execPath, path.join(REPO, 'bench/fleet-peer.cjs'), mode, job]);
      const server = f.serverCpuMs() - s0;
      const r = JSON.parse(m.stdout) as { ok: number; failed: string[] };
      if (m.code !== 0 || r.ok !== HOSTS) throw new Error(`${label}: ${r.ok}/${HOSTS} right answers: ${r.failed.join('; ')} ${m.stderr}`);
      return row(label, m, server, 'one connection + one exec per host');
    }
    function row(peerName: string, m: Measured, serverMs: number, note: string): Row {
      return { peer: peerName, wallS: m.wallS, cpuMsPerHost: (m.cpuS * 1000) / HOSTS, sysMsPerHost: (m.sysS * 1000) / HOSTS, rssMb: m.maxRssKb / 1024, serverMsPerHost: serverMs / HOSTS, note };
    }

    const rows: Row[][] = [];
    for (let r = 0; r < RUNS; r++) {
      const order = PEERS.filter((p) => p in peers);
      // rotate so no peer always runs first
      const rotated = [...order.slice(r % order.length), ...order.slice(0, r % order.length)];
      const got: Row[] = [];
      for (const p of rotated) {
        await new Promise((res) => setTimeout(res, 500)); // let sshd reap the previous peer's sessions
        const x = await (peers[p] as () => Promise<Row>)();
        console.log(`  run ${r + 1} ${x.peer.padEnd(14)} ${x.wallS.toFixed(2)} s wall, ${x.cpuMsPerHost.toFixed(2)} ms CPU/host (${x.sysMsPerHost.toFixed(2)} sys), ${x.rssMb.toFixed(0)} MB peak RSS, sshd ${x.serverMsPerHost.toFixed(1)} ms/host`);
        got.push(x);
      }
      rows.push(got);
    }
    printTable(rows);
    if (values['cpu-prof']) printProfile(path.resolve(values['cpu-prof']));
    if (PEERS.includes('every')) await every(f, inventoryFile);
    console.log(`load average after: ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await stopAll();
  }
}

/** Top functions by self time over the .cpuprofile files in dir (V8's format: nodes + samples + timeDeltas). */
function printProfile(dir: string): void {
  const self = new Map<string, number>();
  let total = 0;
  for (const file of readdirSync(dir).filter((x) => x.endsWith('.cpuprofile'))) {
    const p = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as {
      nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
      samples: number[];
      timeDeltas: number[];
    };
    const byId = new Map(p.nodes.map((n) => [n.id, n]));
    p.samples.forEach((id, i) => {
      const n = byId.get(id);
      const dt = p.timeDeltas[i] ?? 0;
      total += dt;
      if (!n) return;
      const where = `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/^.*\/(node_modules|dist)\//, '$1/')}:${n.callFrame.lineNumber + 1}`;
      self.set(where, (self.get(where) ?? 0) + dt);
    });
  }
  console.log(`\nkdrift CPU profile (${dir}), top self time of ${(total / 1000).toFixed(0)} ms sampled:`);
  for (const [where, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 20)) console.log(`  ${(us / 1000).toFixed(0).padStart(6)} ms  ${where}`);
}

const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

function printTable(runs: Row[][]): void {
  const by = new Map<string, Row[]>();
  for (const run of runs) for (const r of run) by.set(r.peer, [...(by.get(r.peer) ?? []), r]);
  console.log(`\n${HOSTS} hosts, ${CONCURRENCY} at once, median of ${runs.length} run(s):`);
  console.log('peer            wall      controller CPU/host   peak RSS   sshd CPU/host   ');
  const m = new Map<string, { wall: number; cpu: number; rss: number }>();
  for (const [peer, rs] of by) {
    const x = { wall: med(rs.map((r) => r.wallS)), cpu: med(rs.map((r) => r.cpuMsPerHost)), rss: med(rs.map((r) => r.rssMb)) };
    m.set(peer, x);
    console.log(`${peer.padEnd(14)} ${`${x.wall.toFixed(2)} s`.padStart(8)}   ${`${x.cpu.toFixed(2)} ms`.padStart(18)}   ${`${x.rss.toFixed(0)} MB`.padStart(8)}   ${`${med(rs.map((r) => r.serverMsPerHost)).toFixed(1)} ms`.padStart(13)}   ${rs[0]?.note ?? ''}`);
  }
  const k = m.get('kdrift report');
  if (!k) return;
  const verdict = (ok: boolean) => (ok ? 'MET' : 'NOT MET');
  const targets: string[] = [];
  const ssh2 = m.get('bare ssh2');
  if (ssh2) targets.push(`kdrift / bare ssh2 wall        ${(k.wall / ssh2.wall).toFixed(2)}×  (target ≤ 1.05×)  ${verdict(k.wall / ssh2.wall <= 1.05)}`);
  targets.push(`kdrift controller CPU per host  ${k.cpu.toFixed(2)} ms  (target ≤ 4 ms)  ${verdict(k.cpu <= 4)}`);
  targets.push(`kdrift peak RSS                 ${k.rss.toFixed(0)} MB  (target ≤ 150 MB)  ${verdict(k.rss <= 150)}`);
  const ossh = m.get('OpenSSH ssh');
  if (ossh) targets.push(`OpenSSH / kdrift wall           ${(ossh.wall / k.wall).toFixed(2)}×  (target ≥ 4×)  ${verdict(ossh.wall / k.wall >= 4)}`);
  const ans = m.get('Ansible');
  if (ans) targets.push(`Ansible / kdrift wall           ${(ans.wall / k.wall).toFixed(2)}×  (target ≥ 30×)  ${verdict(ans.wall / k.wall >= 30)}`);
  console.log(`\nP1 targets:\n  ${targets.join('\n  ')}`);
}

/** P1b: `kdrift report --every 1s --listen`: first run connects, later runs rescan over the kept connections. */
async function every(f: LoopbackFleet, inventoryFile: string): Promise<void> {
  const port = await freePort();
  const wanted = Number(values['every-runs']);
  const child = spawn(process.execPath, [path.join(REPO, 'bin/kdrift.js'), 'report', '--inventory', inventoryFile, '--concurrency', String(CONCURRENCY), '--every', '1s', '--listen', `127.0.0.1:${port}`, '--format', 'prom', '--fail-on', 'none'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const times: number[] = [];
  const cpus: number[] = [];
  let stderr = '';
  const s0 = f.serverCpuMs();
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  try {
    await new Promise<void>((resolve, reject) => {
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        for (const m of d.toString().matchAll(/run \d+: (\d+) hosts in ([\d.]+) s \(([\d.]+) s CPU\), \d+ drifted, (\d+) errors/g)) {
          if (Number(m[4]) > 0) reject(new Error(`every: ${m[4]} host errors`));
          times.push(Number(m[2]));
          cpus.push(Number(m[3]));
          if (times.length >= wanted) resolve();
        }
      });
      child.on('close', (code) => reject(new Error(`kdrift --every exited ${code}: ${stderr}`)));
    });
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const promtool = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const p = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      p.stdout.on('data', (d: Buffer) => (out += d.toString()));
      p.stderr.on('data', (d: Buffer) => (out += d.toString()));
      p.on('close', (code) => resolve({ code, out }));
      p.stdin.end(metrics);
    });
    const upHosts = (metrics.match(/^kdrift_host_up\{.*\} 1$/gm) ?? []).length;
    const rescans = times.slice(1);
    console.log(`\nP1b: kdrift report --every over kept connections (${HOSTS} hosts): first run (connects) ${times[0]?.toFixed(2)} s, ` +
      `rescans ${rescans.map((t) => t.toFixed(2)).join(', ')} s (median ${med(rescans).toFixed(2)} s; target ≤ 2 s at 1,000 hosts: ${med(rescans) <= 2 ? 'MET' : 'NOT MET'}); ` +
      `controller CPU per rescan ${med(cpus.slice(1)).toFixed(2)} s = ${((med(cpus.slice(1)) * 1000) / HOSTS).toFixed(2)} ms/host (first run ${((cpus[0] ?? 0) * 1000 / HOSTS).toFixed(2)} ms/host); ` +
      `sshd CPU ${((f.serverCpuMs() - s0) / HOSTS / times.length).toFixed(1)} ms/host/run (reaped sessions only); ` +
      `/metrics: ${upHosts}/${HOSTS} hosts up, promtool check metrics ${promtool.code === 0 ? 'ok' : `FAILED: ${promtool.out}`}`);
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
});
