/**
 * The nightly report at fleet shape: 50 real loopback sshd endpoints (lab/loopback-fleet.ts), the lb baseline, the
 * CLI run as a user runs it. One host is drifted (its role declares a window-scaling value this machine does not have:
 * the endpoints read this machine's /proc/sys, so the role is what differs), one is down (nothing listens at its
 * port), one presents a host key other than the known one. Every other host's 22 findings are present and say
 * what this machine's /proc/sys and sysctl.d say. Then `--every` rescans the same hosts over kept connections and
 * serves /metrics.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, makeKey } from '../../lab/loopback-sshd.js';
import { startLoopbackFleet, type LoopbackFleet } from '../../lab/loopback-fleet.js';
import { declaredRoles } from '../../stacks/baselines.js';
import { sysctlProcPath } from '../../core/sysctl-key.js';
import type { Report } from '../../core/report.js';
import { kdriftArgv, runKdrift } from '../support/run-cli.js';

const N = 50;
const WS = 'net.ipv4.tcp_window_scaling';

describe('kdrift report on a 50-host loopback fleet (e2e)', function () {
  this.timeout(300_000);
  let dir: string;
  let fleet: LoopbackFleet;
  let inventoryFile: string;
  let report: Report;
  const drifted = 'h7';
  const down = 'h13';
  const rekeyed = 'h21';
  const lb = declaredRoles['load-balancer'];
  const keys = Object.keys(lb.sysctls);
  const machineWs = readFileSync(sysctlProcPath(WS), 'utf8').trim();
  const otherWs = machineWs === '1' ? 0 : 1;

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'kdrift-fleet-e2e-'));
    fleet = await startLoopbackFleet({ dir, hosts: N, roles: ['load-balancer'] });
    const hosts = fleet.hosts.map(({ identityFile: _k, ...h }) => ({ ...h }));
    const byName = (n: string) => hosts.find((h) => h.name === n) as (typeof hosts)[number];
    byName(drifted).roles = ['load-balancer-drifted'];
    byName(down).port = await freePort(); // nothing listens there
    const baseline = {
      roles: {
        'load-balancer': { ...lb, behaviours: [] },
        'load-balancer-drifted': { ...lb, behaviours: [], sysctls: { ...lb.sysctls, [WS]: { ...lb.sysctls[WS], equals: otherWs } } },
      },
    };
    writeFileSync(path.join(dir, 'baseline.json'), JSON.stringify(baseline));
    // rekeyed: known_hosts holds another key for it (as after a reinstall, or a man in the middle)
    const other = makeKey(path.join(dir, 'other_host_key'));
    const r = byName(rekeyed);
    const kh = readFileSync(fleet.knownHostsPath, 'utf8').replace(`[${r.address}]:${r.port} ${fleet.hostKey.pub}\n`, `[${r.address}]:${r.port} ${other.pub}\n`);
    assert.notEqual(kh, readFileSync(fleet.knownHostsPath, 'utf8'));
    writeFileSync(fleet.knownHostsPath, kh);
    inventoryFile = path.join(dir, 'inventory.json');
    writeFileSync(inventoryFile, JSON.stringify({ hosts, knownHosts: fleet.knownHostsPath, identityFile: fleet.clientKey.privateKeyPath, baseline: path.join(dir, 'baseline.json') }));
    const res = await runKdrift(['report', '--inventory', inventoryFile, '--format', 'json', '--concurrency', '50']);
    assert.equal(res.code, 1, `hosts errored → exit 1: ${res.stderr}`);
    report = JSON.parse(res.stdout) as Report;
  });
  after(async () => {
    await fleet?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('every_host_is_in_the_report_and_the_summary_counts_them', () => {
    assert.equal(report.hosts.length, N);
    assert.deepEqual(new Set(report.hosts.map((h) => h.name)), new Set(fleet.hosts.map((h) => h.name)));
    assert.equal(report.summary.hosts, N);
    assert.equal(report.summary.errors, 2);
  });

  it('every_reachable_host_has_its_22_findings_with_this_machines_values', () => {
    for (const h of report.hosts.filter((x) => x.name !== down && x.name !== rekeyed)) {
      assert.notEqual(h.status, 'error', `${h.name}: ${h.error}`);
      assert.equal(h.findings.length, keys.length * 2, h.name);
      for (const key of keys) {
        const rt = h.findings.find((f) => f.key === key && f.layer === 'runtime');
        const want = readFileSync(sysctlProcPath(key), 'utf8').trim().split(/\s+/).join(' ');
        assert.equal(rt?.actual?.split(/\s+/).join(' '), want, `${h.name} ${key}`);
        assert.ok(h.findings.some((f) => f.key === key && f.layer === 'persisted'), `${h.name} ${key} persisted`);
        assert.match(rt?.id ?? '', /^[0-9a-f]{16}$/);
      }
    }
    // the same machine behind every endpoint: every ordinary host has the same statuses
    const shape = (name: string) => JSON.stringify(report.hosts.find((h) => h.name === name)?.findings.map((f) => [f.key, f.layer, f.status, f.actual, f.source ?? null]));
    for (const h of report.hosts) if (![drifted, down, rekeyed].includes(h.name)) assert.equal(shape(h.name), shape('h0'), h.name);
  });

  it('the_drifted_host_drifts_on_window_scaling_at_runtime', () => {
    const h = report.hosts.find((x) => x.name === drifted);
    assert.equal(h?.status, 'drift');
    const f = h?.findings.find((x) => x.key === WS && x.layer === 'runtime');
    assert.equal(f?.status, 'drift');
    assert.equal(f?.actual, machineWs);
    assert.equal(f?.expected, `= ${otherWs}`);
    assert.equal(f?.severity, 'critical');
    // on an ordinary host the same key is ok
    assert.equal(report.hosts.find((x) => x.name === 'h0')?.findings.find((x) => x.key === WS && x.layer === 'runtime')?.status, machineWs === '1' ? 'ok' : 'drift');
  });

  it('the_down_host_and_the_rekeyed_host_are_errors_that_say_why', () => {
    const d = report.hosts.find((x) => x.name === down);
    assert.equal(d?.status, 'error');
    assert.match(d?.error ?? '', /ECONNREFUSED|refused/i);
    const k = report.hosts.find((x) => x.name === rekeyed);
    assert.equal(k?.status, 'error');
    assert.match(k?.error ?? '', /host key for h21 .* CHANGED/);
    assert.deepEqual(d?.findings, []);
  });

  it('every_rescans_over_kept_connections_and_serves_metrics_that_promtool_accepts', async () => {
    const port = await freePort();
    const [cmd, ...args] = kdriftArgv(['report', '--inventory', inventoryFile, '--every', '1s', '--listen', `127.0.0.1:${port}`, '--format', 'json', '--fail-on', 'none']) as [string, ...string[]];
    // sshd logs "Connection from A port P on B port Q" per accepted TCP connection, on any of its addresses
    const accepted = () => fleet.sshds.reduce((a, d) => a + (d.log().match(/Connection from 127\.0\.0\.\d+ port \d+ on 127\.0\.0\.\d+ port \d+/g) ?? []).length, 0);
    const before = accepted();
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    try {
      let stderr = '';
      await new Promise<void>((resolve, reject) => {
        child.stderr.on('data', (d: Buffer) => {
          stderr += d.toString();
          if ((stderr.match(/run \d+: /g) ?? []).length >= 3) resolve();
        });
        child.on('close', () => reject(new Error(stderr)));
      });
      assert.match(stderr, new RegExp(`run 3: 50 hosts in [\\d.]+ s \\([\\d.]+ s CPU\\), ${report.summary.drifted} drifted, 2 errors`));
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      assert.match(metrics, new RegExp(`^kdrift_drift\\{host="${drifted}",role="load-balancer-drifted",check="sysctl",key="${WS.replaceAll('.', '\\.')}",layer="runtime",severity="critical"\\} 1$`, 'm'));
      assert.match(metrics, /^kdrift_host_up\{host="h13",role="load-balancer"\} 0$/m);
      const promtool = spawn('promtool', ['check', 'metrics']);
      promtool.stdin.end(metrics);
      assert.equal(await new Promise((resolve) => promtool.on('close', resolve)), 0);
      // Kept connections: three runs, yet each of the 49 listening hosts was connected to once (+ the rekeyed one's retries).
      const n = accepted() - before;
      assert.ok(n >= N - 1 && n <= N - 1 + 3 * 2, `connections accepted over 3 runs: ${n}`);
    } finally {
      child.kill('SIGTERM');
      assert.equal(await exited, 0, 'SIGTERM ends --every cleanly');
    }
  });
});
