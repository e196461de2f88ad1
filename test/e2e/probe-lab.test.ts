/**
 * The probe on the lab fleet (its own lab "kdbp", 10.73.0.0/16, no WAN delay): client → lb (HAProxy :80) → app (:8080).
 * The agent runs on lb through a real SSH session, as the report runs it, while the client sends HTTP requests through
 * lb. Which side lacks window scaling must follow whose netns has net.ipv4.tcp_window_scaling=0.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { labDown, labExecOk, labUp, type LabStatus } from '../../lab/index.js';
import { loadInventory, type HostEntry } from '../../core/inventory.js';
import { openSession } from '../../core/sessions.js';
import type { HostSession } from '../../core/session.js';
import { windowScalingSpec } from '../../checks/tcp-window-scaling.schema.js';
import { collectBehaviours } from '../../checks/agent-run.js';
import type { ProbeObservation } from '../../probe/observation.js';
import { portTotals } from '../../checks/evidence.js';
import { REPO } from '../support/probe-netns.js';
import { slotName, slotSubnet } from '../support/slot.js';

const LAB = slotName('kdbp');
const KEY = 'net.ipv4.tcp_window_scaling';

describe('probe on the lab: client → lb (HAProxy) → app', function () {
  this.timeout(300_000);
  let lab: LabStatus;
  let lb: HostEntry;
  let session: HostSession | undefined;
  let knownHosts: string | undefined;

  before(async () => {
    lab = await labUp({ name: LAB, subnet: slotSubnet(73), rttMs: 0 });
    const inv = await loadInventory({ inventory: lab.inventoryFile });
    lb = inv.hosts.find((h) => h.name === 'lb') as HostEntry;
    knownHosts = inv.knownHosts;
    session = await openSession(lb, { ...(knownHosts ? { knownHostsPath: knownHosts } : {}) });
  });
  after(async () => {
    await session?.close();
    await labDown(LAB);
  });

  async function setScaling(values: Record<string, number>): Promise<void> {
    for (const h of ['lb', 'app1', 'app2', 'client']) await labExecOk(LAB, h, ['sysctl', '-qw', `${KEY}=${values[h] ?? 1}`]);
  }

  /** The agent on lb watches ports 80 and 8080 for 6 s while the client sends requests through lb from 2 s on. */
  async function observeLb(): Promise<ProbeObservation> {
    const lbAddr = lab.hosts.find((h) => h.name === 'lb')?.address as string;
    const specs = [80, 8080].map((port) => windowScalingSpec.parse({ check: 'tcp.windowScaling', port, minShare: 0.99, window: '6s' }));
    const observed = collectBehaviours(session as HostSession, specs, { host: lb }, { drive: false });
    const traffic = (async () => {
      await new Promise((r) => setTimeout(r, 2000));
      for (let i = 0; i < 6; i++) {
        await labExecOk(LAB, 'client', ['curl', '-s', '-o', '/dev/null', '--max-time', '3', `http://${lbAddr}/`]);
        await new Promise((r) => setTimeout(r, 300));
      }
    })();
    const [obs] = await Promise.all([observed, traffic]);
    return obs;
  }

  it('sees every client-facing and backend connection of lb negotiated when every host has tcp_window_scaling=1', async () => {
    await setScaling({});
    const obs = await observeLb();
    const front = portTotals(obs, 80);
    const back = portTotals(obs, 8080);
    assert.ok(front.connections >= 4, JSON.stringify(obs.summary));
    assert.equal(front.negotiated, front.connections);
    assert.ok(back.connections >= 4, JSON.stringify(obs.summary));
    assert.equal(back.negotiated, back.connections);
    assert.deepEqual(front.byDirection.map((d) => d.direction), ['in']);
    assert.deepEqual(back.byDirection.map((d) => d.direction), ['out']);
  });

  it('blames lb itself for both legs when only lb has tcp_window_scaling=0', async () => {
    await setScaling({ lb: 0 });
    const obs = await observeLb();
    for (const port of [80, 8080]) {
      const t = portTotals(obs, port);
      assert.ok(t.connections >= 4, `port ${port}: ${JSON.stringify(obs.summary)}`);
      assert.equal(t.negotiated, 0);
      assert.deepEqual(t.lackedBy, { local: t.connections, peer: 0, unknown: 0 });
    }
  });

  it('blames the peer on lb\'s client-facing leg when only the client has tcp_window_scaling=0', async () => {
    await setScaling({ client: 0 });
    const obs = await observeLb();
    const front = portTotals(obs, 80);
    assert.ok(front.connections >= 4, JSON.stringify(obs.summary));
    assert.deepEqual(front.lackedBy, { local: 0, peer: front.connections, unknown: 0 });
    const back = portTotals(obs, 8080);
    assert.equal(back.negotiated, back.connections, 'the backend leg (lb → app) still negotiates');
  });

  it('reports the config drift and the behaviour drift for lb side by side (verdict "both")', async function () {
    await setScaling({ lb: 0 });
    // Client requests during the probe window: a report judges real traffic, not the probe's own test connections.
    const lbAddr = lab.hosts.find((x) => x.name === 'lb')?.address as string;
    const report$ = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, ['bin/kdrift.js', 'report', '--inventory', lab.inventoryFile, '--probe', '--format', 'json'], { cwd: REPO, encoding: 'utf8', timeout: 120_000 }, (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
    await new Promise((r) => setTimeout(r, 4000));
    for (let i = 0; i < 6; i++) await labExecOk(LAB, 'client', ['curl', '-s', '-o', '/dev/null', '--max-time', '3', `http://${lbAddr}/`]);
    const res = await report$;
    assert.equal(res.code, 2, `report exits 2 on drift: ${res.stderr}`);
    const out = res.stdout;
    const report = JSON.parse(out) as { hosts: Array<{ name: string; verdict?: string; findings: Array<{ check: string; key: string; layer: string; status: string; reason?: string }> }> };
    const h = report.hosts.find((x) => x.name === 'lb');
    assert.ok(h, 'lb is in the report');
    assert.ok(h.findings.some((f) => f.key === KEY && f.layer === 'runtime' && f.status === 'drift'), 'config finding');
    const beh = h.findings.find((f) => f.check === 'tcp.windowScaling' && f.layer === 'behaviour');
    assert.equal(beh?.status, 'drift');
    assert.match(beh?.reason ?? '', /lacked by this host/);
    assert.equal(h.verdict, 'both');
  });
});
