/**
 * Root cause across hosts on a real lab of its own (slot name kdrc, subnet 82): real HAProxy, real kernel, real eBPF
 * probe on every host over real SSH, client traffic from the lab's own load generator during the probe window.
 *   - lb at tcp_window_scaling=0 → one root cause (lb) and two consequences (app1, app2), each naming lb;
 *   - app1 at tcp_window_scaling=0 → lb's backend leg (outgoing to :8080) drifts, explained by app1;
 *   - the share judged on lb's port 80 is exactly the client traffic: the probe's own test connections are apart.
 * Every format the run writes goes through its real consumer (ajv + schema, promtool, xmllint + JUnit XSD).
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { labDown, labExec, labUp, type LabStatus } from '../../lab/index.js';
import { runLoad } from '../../lab/load-run.js';
import type { Report } from '../../core/report.js';
import { promtoolCheck, validateReportJson, xmllintJunit } from '../support/conformance.js';
import { slotName, slotSubnet } from '../support/slot.js';
import { runKdrift } from '../support/fix-lab.js';
import { mdCell } from '../../core/render/markdown.js';

const LAB = slotName('kdrc');
const SUBNET = slotSubnet(82);
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const WS = 'net.ipv4.tcp_window_scaling';
const CLIENT_REQUESTS = 20;
/** Not a file a boot can apply: skipped, and listed as a warning in every format. */
const JUNK = '/etc/sysctl.d/50-junk.conf';

describe('root cause across hosts on the lab (e2e)', function () {
  this.timeout(300_000);
  let lab: LabStatus;
  let tmp: string;

  before(async () => {
    lab = await labUp({ name: LAB, subnet: SUBNET, rttMs: 0 });
    tmp = await mkdtemp(path.join(os.tmpdir(), 'kdrift-rootcause-e2e-'));
  });
  after(async () => {
    try {
      await labDown(LAB);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });
  afterEach(async () => {
    for (const h of ['lb', 'app1', 'app2']) await labExec(LAB, h, ['sysctl', '-q', '-w', `${WS}=1`]);
    await labExec(LAB, 'app2', ['rmdir', JUNK]);
  });

  /** A probed report of the whole lab while the client sends CLIENT_REQUESTS requests through lb; every format checked. */
  async function probedReport(tag: string): Promise<Report & { files: Record<string, string>; text: string }> {
    const files = Object.fromEntries(['json', 'prom', 'junit', 'html', 'md'].map((f) => [f, path.join(tmp, `${tag}.${f}`)]));
    const run = runKdrift(['report', '--inventory', lab.inventoryFile, '--probe', ...Object.entries(files).map(([f, file]) => `--output=${f}=${file}`), '--format', 'text']);
    // Wait for the three agents (lb, app1, app2) to be running and attached, then send the requests: they land inside
    // every 10 s window even on a busy machine.
    await agentsRunning(3);
    await new Promise((r) => setTimeout(r, 2000));
    const load = await runLoad(LAB, { requests: CLIENT_REQUESTS, size: 1024, concurrency: 2, timeoutMs: 10_000 });
    assert.equal(load.errors, 0, `load generator errors: ${load.errorSamples.join('; ')}`);
    const res = await run;
    assert.equal(res.code, 2, `exit 2 on drift: ${res.stderr}\n${res.stdout}`);
    const json = await readFile(files.json as string, 'utf8');
    assert.deepEqual(await validateReportJson(json), []);
    const prom = await promtoolCheck(await readFile(files.prom as string, 'utf8'));
    assert.equal(prom.code, 0, prom.stdout + prom.stderr);
    const junit = await xmllintJunit(await readFile(files.junit as string, 'utf8'));
    assert.equal(junit.code, 0, junit.stderr);
    return { ...(JSON.parse(json) as Report), files, text: res.stdout };
  }

  /** Waits until `n` probe agents of this lab's inventory run (their argv names the lab's own kdrift checkout). */
  async function agentsRunning(n: number): Promise<void> {
    for (let i = 0; i < 300; i++) {
      const res = await labExec(LAB, 'lb', ['pgrep', '-f', `${REPO}/bin/kdrift.js probe --json`]);
      if (res.stdout.trim().split('\n').filter(Boolean).length >= n) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${n} probe agents did not start within 30 s`);
  }

  const finding = (r: Report, host: string, key: string) => r.hosts.find((h) => h.name === host)?.findings.find((f) => f.key === key && f.check === 'tcp.windowScaling');

  it('lb_at_wscale_0_is_one_root_cause_and_app1_app2_are_consequences_naming_lb; port 80 judges exactly the client traffic', async () => {
    await labExec(LAB, 'lb', ['sysctl', '-q', '-w', `${WS}=0`]);
    const r = await probedReport('lb-wscale0');
    assert.deepEqual(r.rootCauses.map((c) => `${c.host} ${c.key}`), [`lb ${WS}`], JSON.stringify(r.rootCauses, null, 1));
    const cause = r.rootCauses[0];
    assert.deepEqual(cause?.explains.hosts.sort(), ['app1', 'app2']);
    assert.equal(cause?.nextStep.text, `kdrift fix --host lb --inventory ${lab.inventoryFile} --dry-run`);
    assert.equal(r.summary.rootCauses, 1);
    assert.equal(r.summary.consequences, 2);
    for (const app of ['app1', 'app2']) {
      const f = finding(r, app, 'port 8080');
      assert.equal(f?.status, 'drift', `${app}: ${JSON.stringify(f)}`);
      assert.equal(f?.explainedBy?.host, 'lb');
      assert.equal(f?.explainedBy?.key, WS);
      assert.equal(f?.explainedBy?.value, '0');
    }
    // Real traffic only: the client's requests, not the probe's own loopback test connections (reported apart).
    const front = finding(r, 'lb', 'port 80');
    assert.equal(front?.actual, `0.00 (0/${CLIENT_REQUESTS})`);
    const own = (front?.evidence as { own: { connections: number } }).own;
    assert.ok(own.connections > 0, 'the probe drove (and tagged) its own test connections');
    assert.equal(finding(r, 'lb', 'port 8080 out')?.explainedBy?.host, 'lb');
    // The picture's legs: lb → app1 and lb → app2 seen, none negotiated.
    for (const app of ['app1', 'app2']) {
      const leg = r.legs?.find((l) => l.from === 'lb' && l.to === app && l.port === 8080);
      assert.ok(leg && leg.connections > 0 && leg.negotiated === 0, `${app} leg: ${JSON.stringify(r.legs)}`);
    }
  });

  it('app1_at_wscale_0_makes_lbs_backend_leg_drift_explained_by_app1', async () => {
    await labExec(LAB, 'app1', ['sysctl', '-q', '-w', `${WS}=0`]);
    await labExec(LAB, 'app2', ['mkdir', '-p', JUNK]);
    const r = await probedReport('app1-wscale0');
    // The skipped file, in every format.
    const why = 'a directory named *.conf: a boot reads nothing from it';
    assert.deepEqual(r.hosts.find((h) => h.name === 'app2')?.warnings, [{ file: JUNK, reason: why }]);
    const line = `app2: skipped ${JUNK}: ${why}`;
    assert.ok(r.text.includes(`warning: ${line}`), r.text);
    assert.ok((await readFile(r.files.md as string, 'utf8')).includes(`> Warning: ${mdCell(line)}`));
    assert.ok((await readFile(r.files.html as string, 'utf8')).includes(`Warning: ${line}`));
    assert.match(await readFile(r.files.prom as string, 'utf8'), /^kdrift_skipped_files\{host="app2"\} 1$/m);
    assert.ok((await readFile(r.files.junit as string, 'utf8')).includes(`<system-err>warning: skipped ${line.slice('app2: skipped '.length)}</system-err>`));
    assert.equal(r.rootCauses[0]?.host, 'app1', JSON.stringify(r.rootCauses, null, 1));
    assert.equal(r.rootCauses[0]?.key, WS);
    assert.ok(r.rootCauses[0]?.explains.hosts.includes('lb'));
    const leg = finding(r, 'lb', 'port 8080 out');
    assert.equal(leg?.status, 'drift', JSON.stringify(leg));
    assert.equal(leg?.explainedBy?.host, 'app1');
    assert.equal(leg?.explainedBy?.value, '0');
    assert.equal(finding(r, 'lb', 'port 80')?.actual, `1.00 (${CLIENT_REQUESTS}/${CLIENT_REQUESTS})`);
    const bad = r.legs?.find((l) => l.from === 'lb' && l.to === 'app1');
    const good = r.legs?.find((l) => l.from === 'lb' && l.to === 'app2');
    assert.ok(bad && bad.negotiated === 0 && bad.connections > 0, JSON.stringify(r.legs));
    assert.ok(good && good.negotiated === good.connections && good.connections > 0, JSON.stringify(r.legs));
  });
});
