/**
 * The kdrift provider plugin driven exactly as the Pulumi engine drives it (lab/pulumi-engine.ts: the real
 * bin/pulumi-resource-kdrift, its printed port, pulumirpc messages from @pulumi/pulumi) against this file's own lab
 * (`kdpv`): Create on a drifted lb fixes and behaviour-verifies; Read after `sysctl -w` on lb returns the drifted value
 * and Diff names the key; an Update whose behaviour cannot follow (the client's window scaling is off, so lb's
 * negotiated share stays low) fails with the evidence and leaves lb exactly as it was; Delete restores lb's files
 * byte for byte and its runtime values.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { labDown, labExec, type LabStatus } from '../../lab/index.js';
import { measureConnect } from '../../lab/load-run.js';
import { fleetBaseline } from '../../stacks/baselines.js';
import { hostDeclaration } from '../../stacks/declaration.js';
import { slotName, slotSubnet } from '../support/slot.js';
import { ensureDist } from '../support/dist.js';
import { WS, HARDENING_FILE, upLab, hostShot, restoreShot, injectOutage, labInventory, type HostShot } from '../support/fix-lab.js';
import { EnginePlugin, ProviderCallError, SIG_KEY, SECRET_SIG, UNKNOWN, secretValue, type Props } from '../../lab/pulumi-engine.js';

const LAB = slotName('kdpv');
const SUBNET = slotSubnet(80);
const KEYS = [WS, 'net.ipv4.tcp_sack', 'net.core.somaxconn', 'net.ipv4.tcp_fin_timeout'];

describe('pulumi-resource-kdrift over gRPC, as the engine drives it, on the lab (kdpv)', function () {
  this.timeout(300_000);
  let status: LabStatus;
  let plugin: EnginePlugin;
  let clean: HostShot;
  let clientClean: HostShot;
  /** This file's own journal directory (provider setting journalDir): no other test's cleanup can touch it. */
  let journalDir: string;
  let inputs: Props;
  let agentCommand: string[];
  // The rollout below runs in order on one resource (create → read/diff → failed update → delete), as `pulumi up`,
  // `pulumi refresh`, `pulumi up` and `pulumi destroy` would: each step starts from the state the previous one left.
  let drifted: HostShot;
  let id: string;
  let outs: Props;
  let read: { outs: Props; inputs: Props };

  before(async () => {
    // The plugin runs from dist/ (as an installed plugin would): it must be built from these sources.
    ensureDist();
    status = await upLab(LAB, SUBNET);
    clean = await hostShot('lb', KEYS, LAB);
    clientClean = await hostShot('client', [WS], LAB);
    journalDir = mkdtempSync(path.join(os.tmpdir(), `${LAB}-journal-`));
    const inv = await labInventory(status);
    const lb = inv.hosts.find((h) => h.name === 'lb');
    assert.ok(lb);
    agentCommand = inv.agentCommand ?? [];
    const decl = hostDeclaration(lb, fleetBaseline());
    inputs = {
      host: 'lb',
      address: lb.address,
      port: lb.port,
      user: lb.user,
      roles: lb.roles,
      privateKey: secretValue(readFileSync(status.identityFile, 'utf8')),
      knownHosts: status.knownHosts,
      sysctls: decl.sysctls,
      behaviours: decl.behaviours,
    };
    plugin = await EnginePlugin.start();
  });

  after(async () => {
    await plugin?.stop();
    if (clean) await restoreShot('lb', clean, LAB);
    if (clientClean) await restoreShot('client', clientClean, LAB);
    if (journalDir) rmSync(journalDir, { recursive: true, force: true });
    await labDown(LAB);
  });

  it('handshake, schema, CheckConfig and Configure answer as the engine expects', async () => {
    const hs = await plugin.handshake();
    assert.equal(hs.getAcceptSecrets(), true);
    const schema = (await plugin.getSchema()) as { name: string; resources: Record<string, { inputProperties: Record<string, { secret?: boolean }>; properties: Record<string, unknown> }> };
    assert.equal(schema.name, 'kdrift');
    const res = schema.resources['kdrift:index:HostKernelState'];
    assert.ok(res, 'the schema has the resource');
    assert.equal(res.inputProperties.privateKey?.secret, true);
    for (const out of ['applied', 'persisted', 'drift', 'verified', 'journal', 'verdict']) assert.ok(out in res.properties, out);

    const bad = await plugin.checkConfig({ concurrency: 'zero', acceptNewHostKeys: 'perhaps', hosts: '[]' });
    assert.deepEqual(bad.failures.map((f) => f.property).sort(), ['acceptNewHostKeys', 'concurrency']);
    const good = await plugin.checkConfig({ knownHosts: status.knownHosts, concurrency: '4' });
    assert.deepEqual(good.failures, []);

    const conf = await plugin.configure({ knownHosts: status.knownHosts, agentCommand, concurrency: 4, acceptNewHostKeys: false, journalDir });
    assert.equal(conf.getAcceptsecrets(), true);
    assert.equal(conf.getSupportspreview(), true);
  });

  it('Check names the property that is wrong; good inputs come back with the private key still secret', async () => {
    const wrong = await plugin.check('lb', {
      ...inputs,
      port: 70000,
      sysctls: { ...(inputs.sysctls as Props), 'net.core.somaxconn': { min: 'lots' }, 'net..bad': { equals: 1 } },
      behaviours: [{ check: 'tcp.windowScaling', port: 80, minShare: 0.99, dependsOn: ['net.ipv4.tcp_ecn'] }],
    });
    const props = wrong.failures.map((f) => f.property);
    assert.ok(props.includes('port'), JSON.stringify(wrong.failures));
    const again = await plugin.check('lb', { ...inputs, sysctls: { ...(inputs.sysctls as Props), 'net.core.somaxconn': { min: 'lots' } }, behaviours: [{ check: 'tcp.windowScaling', port: 80, minShare: 0.99, dependsOn: ['net.ipv4.tcp_ecn'] }] });
    const byProp = Object.fromEntries(again.failures.map((f) => [f.property, f.reason]));
    assert.match(byProp['sysctls["net.core.somaxconn"].min'] ?? '', /not an integer/);
    assert.match(byProp['behaviours[0].dependsOn'] ?? '', /net\.ipv4\.tcp_ecn/);

    const ok = await plugin.check('lb', { ...inputs, privateKey: (inputs.privateKey as Props).value });
    assert.deepEqual(ok.failures, []);
    const key = ok.inputs.privateKey as Props;
    assert.equal(key[SIG_KEY], SECRET_SIG, 'a plain private key is made secret');
  });

  it('Create (preview) touches nothing; Create on a drifted lb fixes it and verifies window scaling by behaviour; the key stays secret', async () => {
    await injectOutage('lb', LAB);
    drifted = await hostShot('lb', KEYS, LAB);
    const preview = await plugin.create('lb', inputs, true);
    assert.equal(preview.outs.applied, UNKNOWN);
    assert.deepEqual(await hostShot('lb', KEYS, LAB), drifted, 'a preview changes nothing');

    ({ id, outs } = await plugin.create('lb', inputs));
    assert.equal(id, 'lb');
    assert.equal((outs.applied as Props)[WS], '1');
    assert.equal((outs.persisted as Props)[WS], '1');
    assert.deepEqual(outs.drift, {});
    assert.equal(outs.verdict, 'ok');
    assert.equal(path.dirname(String(outs.journal)), journalDir);
    assert.ok(readdirSync(journalDir).includes(path.basename(String(outs.journal))), 'the journal is on the host');
    const verified = outs.verified as { check: string; key: string; status: string; evidence: { own: { connections: number; negotiated: number } } }[];
    const ws = verified.find((v) => v.check === 'tcp.windowScaling' && v.key === 'port 80');
    assert.ok(ws, JSON.stringify(verified));
    assert.equal(ws.status, 'ok');
    // A quiet lab: verification judges the probe's own test connections (reported apart from real traffic).
    assert.ok(ws.evidence.own.connections > 0 && ws.evidence.own.negotiated === ws.evidence.own.connections, JSON.stringify(ws.evidence));
    assert.equal((outs.privateKey as Props)[SIG_KEY], SECRET_SIG, 'the private key stays secret in the outputs');

    const now = await hostShot('lb', KEYS, LAB);
    assert.equal(now.runtime[WS], '1');
    const hardening = now.files[`sysctl.d/${HARDENING_FILE}`];
    assert.ok(hardening && 'b64' in hardening);
    assert.match(Buffer.from(hardening.b64, 'base64').toString(), /# kdrift .*disabled.*net\.ipv4\.tcp_window_scaling=0/);

  });

  it('Read after `sysctl -w` on lb returns the drifted value; Diff names that key as an update, never a replacement', async () => {
    assert.ok(id, 'needs the resource created above');
    const w = await labExec(LAB, 'lb', ['sysctl', '-q', '-w', `${WS}=0`]);
    assert.equal(w.code, 0, w.stderr);
    read = await plugin.read('lb', id, outs, inputs);
    assert.equal((read.outs.applied as Props)[WS], '0');
    assert.equal((read.outs.persisted as Props)[WS], '1');
    assert.ok(WS in (read.outs.drift as Props), JSON.stringify(read.outs.drift));
    assert.equal(read.outs.verdict, 'config drift');
    assert.deepEqual(read.inputs.sysctls, inputs.sysctls, 'refresh keeps the inputs');
    const diff = await plugin.diff('lb', id, read.outs, inputs, inputs);
    assert.equal(diff.changes, 'some');
    assert.deepEqual(diff.replaces, []);
    assert.deepEqual(diff.detailedDiff[`sysctls["${WS}"]`], { kind: 'UPDATE', inputDiff: false });
    assert.equal(Object.keys(diff.detailedDiff).length, 1, JSON.stringify(diff.detailedDiff));
    const moved = await plugin.diff('lb', id, read.outs, { ...inputs, port: 2222, sysctls: { ...(inputs.sysctls as Props), 'net.core.somaxconn': { min: 8192, severity: 'medium', remediation: 'auto' } } }, inputs);
    assert.deepEqual(moved.replaces, [], 'connection and sysctl changes never replace');
    assert.equal(moved.detailedDiff.port?.kind, 'UPDATE');
    assert.equal(moved.detailedDiff['sysctls["net.core.somaxconn"]']?.kind, 'UPDATE');
    // An unchanged, undrifted resource diffs to nothing.
    assert.equal((await plugin.diff('lb', id, outs, inputs, inputs)).changes, 'none');

  });

  it('an Update whose behaviour cannot follow fails with the probe evidence and leaves lb exactly as it was', async () => {
    assert.ok(read, 'needs the refreshed state above');
    // The client's own window scaling is off and it keeps connecting to lb, so lb's negotiated share stays low
    // whatever lb holds.
    const beforeUpdate = await hostShot('lb', KEYS, LAB);
    const c = await labExec(LAB, 'client', ['sysctl', '-q', '-w', `${WS}=0`]);
    assert.equal(c.code, 0, c.stderr);
    const traffic = measureConnect(LAB, { count: 400, target: 'wan' }).catch(() => undefined);
    let failure: ProviderCallError | undefined;
    try {
      await plugin.update('lb', id, read.outs, inputs, inputs);
    } catch (err) {
      failure = err as ProviderCallError;
    }
    await restoreShot('client', clientClean, LAB);
    await traffic;
    assert.ok(failure instanceof ProviderCallError, 'the update fails');
    assert.match(failure.message, /rolled-back/);
    assert.match(failure.message, /verification evidence:\n\s+tcp\.windowScaling port 80: drift/);
    assert.match(failure.message, /did not negotiate window scaling: \d+ lacked by the peer/);
    assert.deepEqual(await hostShot('lb', KEYS, LAB), beforeUpdate, 'lb is exactly as it was before the update');

  });

  it('Delete restores what was there before kdrift first applied: files byte for byte, runtime values, no kdrift file', async () => {
    assert.ok(read, 'needs the resource above');
    await plugin.delete('lb', id, read.outs, inputs);
    assert.deepEqual(await hostShot('lb', KEYS, LAB), drifted);
    assert.ok(!('sysctl.d/90-kdrift.conf' in drifted.files));
  });
});
