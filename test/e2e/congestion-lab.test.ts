/**
 * tcp.congestionControl on the lab (its own lab "kdcc", 10.78.0.0/16 in slot 0, no WAN delay): `kdrift report --probe`
 * as a user runs it, against a baseline file that declares lb's algorithm. The agent on lb opens its own test
 * connections to the watched port and reports the algorithm each connection used (bpf_getsockopt TCP_CONGESTION).
 *
 * This kernel lets a network namespace make only the *allowed* algorithms its default
 * (/proc/sys/net/ipv4/tcp_allowed_congestion_control; cubic is not among them here, so `sysctl -w ...=cubic` in a
 * netns is EPERM), while root may still pick any available algorithm per socket. So lb's netns default goes to reno;
 * the drift case declares cubic, the agreeing case declares reno, and a listener that sets TCP_CONGESTION itself
 * shows what the sysctl alone cannot: connections on another algorithm while the config says all is well.
 */
import assert from 'node:assert/strict';
import { execFile, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { labDown, labExecOk, labUp, type LabStatus } from '../../lab/index.js';
import type { Finding } from '../../core/finding.js';
import type { Report } from '../../core/report.js';
import { REPO, killGroup, spawnIn, waitForLine } from '../support/probe-netns.js';
import { slotName, slotSubnet } from '../support/slot.js';

const LAB = slotName('kdcc');
const KEY = 'net.ipv4.tcp_congestion_control';
const OVERRIDE_PORT = 9000;

/** `kdrift report` from the build (the lab's agentCommand runs the build too); resolves with exit code and report. */
function report(args: string[]): Promise<{ code: number; report: Report; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['bin/kdrift.js', 'report', '--format', 'json', ...args], { cwd: REPO, timeout: 120_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      try {
        resolve({ code, report: JSON.parse(stdout) as Report, stderr });
      } catch {
        reject(new Error(`report printed no JSON (exit ${code}): ${stderr}`));
      }
    });
  });
}

function lbRole(algorithm: string, port: number, opts: { sysctl: boolean }) {
  return {
    roles: {
      'load-balancer': {
        sysctls: opts.sysctl ? { [KEY]: { equals: algorithm, severity: 'medium' } } : {},
        behaviours: [{ check: 'tcp.congestionControl', port, algorithm, window: '2s', severity: 'medium', dependsOn: opts.sysctl ? [KEY] : [] }],
      },
    },
  };
}

describe('tcp.congestionControl on the lab: the algorithm lb\'s connections use against the declared one', function () {
  this.timeout(240_000);
  let lab: LabStatus;
  let tmp: string;
  let server: ChildProcess | undefined;

  before(async () => {
    lab = await labUp({ name: LAB, subnet: slotSubnet(78), rttMs: 0 });
    tmp = await mkdtemp(path.join(os.tmpdir(), 'kdrift-cc-e2e-'));
    await labExecOk(LAB, 'lb', ['sysctl', '-qw', `${KEY}=reno`]);
  });
  after(async () => {
    if (server) killGroup(server);
    try {
      await labDown(LAB);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });

  async function reportLb(baseline: unknown, name: string): Promise<{ code: number; lb: Report['hosts'][number]; cc: Finding }> {
    const file = path.join(tmp, `${name}.yaml`);
    await writeFile(file, YAML.stringify(baseline));
    const res = await report(['--inventory', lab.inventoryFile, '--role', 'load-balancer', '--probe', '--baseline', file]);
    const lb = res.report.hosts.find((h) => h.name === 'lb');
    assert.ok(lb, `lb is in the report: ${res.stderr}`);
    const cc = lb.findings.find((f) => f.check === 'tcp.congestionControl');
    assert.ok(cc, JSON.stringify(lb.findings));
    return { code: res.code, lb, cc };
  }

  it('declared cubic while lb\'s netns makes reno the default: config drift and behaviour drift naming both (verdict both)', async () => {
    const { code, lb, cc } = await reportLb(lbRole('cubic', 80, { sysctl: true }), 'cubic');
    assert.equal(code, 2);
    assert.equal(lb.verdict, 'both');
    const runtime = lb.findings.find((f) => f.key === KEY && f.layer === 'runtime');
    assert.equal(runtime?.status, 'drift');
    assert.equal(runtime?.actual, 'reno');
    assert.equal(cc.status, 'drift', JSON.stringify(cc));
    assert.equal(cc.layer, 'behaviour');
    assert.equal(cc.key, 'port 80');
    assert.equal(cc.expected, 'algorithm = cubic');
    // The agent's 3 test connections, seen from both ends (the agent's connect and HAProxy's accept).
    assert.equal(cc.actual, 'reno (6/6)');
    assert.match(cc.reason ?? '', /6 of 6 new connections on port 80 did not use the declared cubic: 6 used reno/);
    const ev = cc.evidence as { byAlgorithm: Record<string, number>; samples: Array<{ algorithm: string; local: string; remote: string }> };
    assert.deepEqual(ev.byAlgorithm, { reno: 6 });
    assert.ok(ev.samples.length > 0 && ev.samples.every((s) => s.algorithm === 'reno'), JSON.stringify(ev.samples));
  });

  it('declared reno, which lb\'s connections use: config and behaviour ok (verdict ok, exit 0)', async () => {
    const { code, lb, cc } = await reportLb(lbRole('reno', 80, { sysctl: true }), 'reno');
    assert.equal(code, 0, JSON.stringify(lb));
    assert.equal(lb.verdict, 'ok');
    assert.equal(cc.status, 'ok', JSON.stringify(cc));
    assert.equal(cc.actual, 'reno (6/6)');
  });

  it('a listener that sets TCP_CONGESTION itself: the sysctl says reno as declared, its accepted connections do not (behaviour drift)', async () => {
    // Root may pick any available algorithm per socket; accepted connections keep their listener's choice.
    const available = (await labExecOk(LAB, 'lb', ['cat', '/proc/sys/net/ipv4/tcp_available_congestion_control'])).trim().split(/\s+/);
    const other = available.find((a) => a !== 'reno');
    assert.ok(other, `this kernel has a second algorithm besides reno: ${available.join(' ')}`);
    const script = `
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, sys.argv[1].encode())
s.bind(('0.0.0.0', int(sys.argv[2]))); s.listen(64)
print('ready', flush=True)
while True:
    c, _ = s.accept(); c.close()
`;
    server = spawnIn(`${LAB}-lb`, ['python3', '-c', script, other, String(OVERRIDE_PORT)]);
    await waitForLine(server, 'stdout', /^ready/);
    const { code, lb, cc } = await reportLb(lbRole('reno', OVERRIDE_PORT, { sysctl: true }), 'override');
    assert.equal(code, 2);
    assert.equal(lb.verdict, 'behaviour drift');
    assert.equal(lb.findings.find((f) => f.key === KEY && f.layer === 'runtime')?.status, 'ok');
    assert.equal(cc.status, 'drift', JSON.stringify(cc));
    // Our test connections' own ends use the netns default; the listener's accepted ends use its algorithm.
    assert.deepEqual((cc.evidence as { byDirection: unknown[] }).byDirection, [
      { direction: 'in', algorithm: other, connections: 3 },
      { direction: 'out', algorithm: 'reno', connections: 3 },
    ]);
    assert.match(cc.reason ?? '', new RegExp(`3 of 6 new connections on port ${OVERRIDE_PORT} did not use the declared reno: 3 used ${other}`));
  });
});
