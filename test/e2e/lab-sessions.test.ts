/**
 * kdrift's own HostSessions (ssh2, known_hosts verification) against the lab fleet (lab name kdss, 10.75/16):
 * read a sysctl on every host, change it on one host only, refuse a host whose key changed while the others answer,
 * and turn a stopped host into a per-host error within its connect timeout.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { labDown, labExecOk, labUp, type LabStatus } from '../../lab/index.js';
import { loadInventory, type Inventory } from '../../core/inventory.js';
import { openSession } from '../../core/sessions.js';
import type { HostSession } from '../../core/session.js';
import { runChecks } from '../../core/engine/index.js';
import { fleetBaseline } from '../../stacks/baselines.js';
import { slotName, slotSubnet } from '../support/slot.js';

const LAB = slotName('kdss');
const SUBNET = slotSubnet(75);
const WS = '/proc/sys/net/ipv4/tcp_window_scaling';

async function sshdPid(host: string): Promise<number> {
  const out = await labExecOk(LAB, host, ['ss', '-Hltnp', 'sport', '=', ':22']);
  const m = /sshd",pid=(\d+)/.exec(out);
  assert.ok(m, `no sshd listening on ${host}: ${out}`);
  return Number(m[1]);
}

describe('kdrift HostSessions on the lab fleet (kdss, 10.75.0.0/16)', function () {
  this.timeout(120_000);
  let lab: LabStatus;
  let inv: Inventory;
  let tmp: string;
  const sessions: HostSession[] = [];
  let stopped: number | undefined;

  before(async function () {
    if (process.geteuid?.() !== 0) this.skip();
    lab = await labUp({ name: LAB, subnet: SUBNET, rttMs: 0 });
    inv = await loadInventory({ inventory: lab.inventoryFile });
    tmp = mkdtempSync(path.join(os.tmpdir(), 'kdss-'));
  });
  after(async () => {
    if (stopped !== undefined) process.kill(stopped, 'SIGCONT');
    await Promise.allSettled(sessions.map((s) => s.close()));
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    await labDown(LAB);
  });

  it('reads net.ipv4.tcp_window_scaling on every host through verified SSH sessions', async () => {
    for (const host of inv.hosts) {
      const s = await openSession(host, { knownHostsPath: lab.knownHosts, connectTimeoutMs: 10_000 });
      sessions.push(s);
      assert.equal((await s.readFile(WS)).toString().trim(), '1', host.name);
    }
  });

  it('setting it to 0 on lb changes lb only: the other hosts and the root namespace keep 1', async () => {
    const rootBefore = readFileSync(WS, 'utf8').trim();
    const lb = sessions.find((s) => s.host === 'lb');
    assert.ok(lb);
    const res = await lb.exec(['sysctl', '-q', '-w', 'net.ipv4.tcp_window_scaling=0']);
    assert.equal(res.code, 0, res.stderr.toString());
    try {
      for (const s of sessions) assert.equal((await s.readFile(WS)).toString().trim(), s.host === 'lb' ? '0' : '1', s.host);
      assert.equal(readFileSync(WS, 'utf8').trim(), rootBefore, 'root namespace unchanged');
    } finally {
      await lb.exec(['sysctl', '-q', '-w', 'net.ipv4.tcp_window_scaling=1']);
    }
  });

  it("a host whose key changed is refused (CHANGED, naming the host) while the other hosts still report", async () => {
    // known_hosts with lb's line carrying another ed25519 key: what a re-imaged or impersonated host presents.
    const other = path.join(tmp, 'other');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    const otherKey = readFileSync(`${other}.pub`, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
    const lbAddr = inv.hosts.find((h) => h.name === 'lb')?.address;
    const lines = readFileSync(lab.knownHosts, 'utf8').trim().split('\n');
    const tampered = lines.map((l) => (l.split(/\s+/)[0]?.split(',').some((n) => n === lbAddr || n.startsWith(`[${lbAddr}]`)) ? `${l.split(/\s+/)[0]} ${otherKey}` : l));
    assert.notDeepEqual(tampered, lines, 'lb has a known_hosts line to tamper with');
    const kh = path.join(tmp, 'known_hosts');
    writeFileSync(kh, `${tampered.join('\n')}\n`);

    const report = await runChecks({ inventory: inv, baseline: fleetBaseline(), hosts: inv.hosts, sessionOptions: { knownHostsPath: kh, acceptNewHostKeys: true }, concurrency: 4 });
    const lb = report.hosts.find((h) => h.name === 'lb');
    assert.equal(lb?.status, 'error');
    assert.match(lb?.error ?? '', /lb/);
    assert.match(lb?.error ?? '', /CHANGED/);
    for (const h of report.hosts.filter((x) => x.name !== 'lb')) assert.equal(h.status, 'ok', `${h.name}: ${h.error ?? ''}`);
    assert.equal(readFileSync(kh, 'utf8'), `${tampered.join('\n')}\n`, 'accept-new never rewrites a changed key');
  });

  it('a stopped host gives a per-host error within its connect timeout; the others still report', async () => {
    stopped = await sshdPid('app2');
    process.kill(stopped, 'SIGSTOP'); // the TCP handshake completes (kernel), the SSH handshake never starts
    try {
      const t0 = Date.now();
      const report = await runChecks({ inventory: inv, baseline: fleetBaseline(), hosts: inv.hosts, sessionOptions: { knownHostsPath: lab.knownHosts, connectTimeoutMs: 2_000 }, concurrency: 4 });
      const ms = Date.now() - t0;
      const app2 = report.hosts.find((h) => h.name === 'app2');
      assert.equal(app2?.status, 'error');
      assert.match(app2?.error ?? '', /time/i);
      assert.ok(ms < 2_000 + 3_000, `the run ended ${ms} ms after start; the connect timeout is 2000 ms`);
      for (const h of report.hosts.filter((x) => x.name !== 'app2')) assert.equal(h.status, 'ok', `${h.name}: ${h.error ?? ''}`);
    } finally {
      process.kill(stopped, 'SIGCONT');
      stopped = undefined;
    }
  });
});
