/**
 * The CrossGuard pack (stacks/policy): every rule with a violating and a compliant HostKernelState, first through each
 * policy's validateResource as the analyzer calls it, then through the analyzer server @pulumi/policy starts (the
 * pack run as the CLI runs it, its printed port, pulumirpc.Analyzer messages from @pulumi/pulumi).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import analyzerRpc from '@pulumi/pulumi/proto/analyzer_grpc_pb.js';
import analyzerPb from '@pulumi/pulumi/proto/analyzer_pb.js';
import emptyPb from 'google-protobuf/google/protobuf/empty_pb.js';
import structPb from 'google-protobuf/google/protobuf/struct_pb.js';
import type { ResourceValidationArgs } from '@pulumi/policy';
import { policies } from '../../stacks/policy/policies.js';
import { fleetBaseline } from '../../stacks/baselines.js';
import { hostDeclaration } from '../../stacks/declaration.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const TYPE = 'kdrift:index:HostKernelState';
type Props = Record<string, unknown>;

/** The program's own declaration of a host of `role` (what `pulumi preview` would hand the pack). */
function declared(name: string, role: string): Props {
  return { host: name, address: '10.0.0.1', port: 22, user: 'root', ...hostDeclaration({ name, address: '10.0.0.1', port: 22, user: 'root', roles: [role] }, fleetBaseline()) };
}
function withSysctl(p: Props, key: string, exp: unknown): Props {
  return { ...p, sysctls: { ...(p.sysctls as Props), [key]: exp } };
}

/** Runs one policy's validateResource as the analyzer does; returns the messages it reported. */
async function validate(policyName: string, props: Props, config: Props = {}, type = TYPE): Promise<string[]> {
  const policy = policies.find((p) => p.name === policyName);
  assert.ok(policy, policyName);
  const messages: string[] = [];
  const args = { type, props, urn: `urn:pulumi:s::p::${type}::x`, name: 'x', getConfig: () => config } as unknown as ResourceValidationArgs;
  const fns = Array.isArray(policy.validateResource) ? policy.validateResource : [policy.validateResource];
  for (const fn of fns) if (fn) await fn(args, (m) => messages.push(m));
  return messages;
}

const lb = declared('lb1', 'load-balancer');
const app = declared('app1', 'app-node');

describe('CrossGuard pack (stacks/policy): each rule, violating and compliant', () => {
  it('the program\'s own declarations pass every policy', async () => {
    for (const p of policies) {
      assert.deepEqual(await validate(p.name, lb), [], p.name);
      assert.deepEqual(await validate(p.name, app), [], p.name);
    }
  });

  it('kdrift-lb-tcp-features (mandatory): window scaling, SACK or timestamps allowed off on a load balancer', async () => {
    const ws = await validate('kdrift-lb-tcp-features', withSysctl(lb, 'net.ipv4.tcp_window_scaling', { equals: 0 }));
    assert.equal(ws.length, 1);
    assert.match(ws[0] as string, /lb1 \(load-balancer\) declares net\.ipv4\.tcp_window_scaling so that 0 \(off\) passes.*Fix: declare net\.ipv4\.tcp_window_scaling: \{ equals: 1 \} in stacks\/roles\/load-balancer\.ts/);
    assert.match((await validate('kdrift-lb-tcp-features', withSysctl(lb, 'net.ipv4.tcp_sack', { oneOf: [1, 0] })))[0] ?? '', /net\.ipv4\.tcp_sack/);
    assert.match((await validate('kdrift-lb-tcp-features', withSysctl(lb, 'net.ipv4.tcp_timestamps', { max: 1 })))[0] ?? '', /net\.ipv4\.tcp_timestamps/);
    // The same declaration on an app node is not this rule's business; `{ oneOf: [1, 2] }` keeps the feature on.
    assert.deepEqual(await validate('kdrift-lb-tcp-features', withSysctl(app, 'net.ipv4.tcp_sack', { equals: 0 })), []);
    assert.deepEqual(await validate('kdrift-lb-tcp-features', withSysctl(lb, 'net.ipv4.tcp_timestamps', { oneOf: [1, 2] })), []);
  });

  it('kdrift-somaxconn-floor (mandatory): a somaxconn declaration that admits a short accept queue', async () => {
    const low = await validate('kdrift-somaxconn-floor', withSysctl(app, 'net.core.somaxconn', { min: 128 }));
    assert.match(low[0] ?? '', /app1 declares net\.core\.somaxconn that admits 128, below the floor of 1024.*Fix: declare net\.core\.somaxconn: \{ min: 1024 \}/);
    assert.match((await validate('kdrift-somaxconn-floor', withSysctl(app, 'net.core.somaxconn', { max: 65535 })))[0] ?? '', /has no lower bound/);
    assert.equal((await validate('kdrift-somaxconn-floor', withSysctl(app, 'net.core.somaxconn', { min: 2048 }), { floor: 4096 })).length, 1, 'the floor is configurable');
    assert.deepEqual(await validate('kdrift-somaxconn-floor', withSysctl(app, 'net.core.somaxconn', { equals: 4096 })), []);
  });

  it('kdrift-behaviour-depends-on-declared (mandatory): a behaviour whose dependsOn key is not declared', async () => {
    const sysctls = { ...(lb.sysctls as Props) };
    delete sysctls['net.ipv4.tcp_window_scaling'];
    const msgs = await validate('kdrift-behaviour-depends-on-declared', { ...lb, sysctls });
    assert.equal(msgs.length, 2, 'the client-facing leg and the backend leg both depend on it');
    assert.match(msgs[1] as string, /lb1: behaviours\[1\] \(tcp\.windowScaling port 8080\) depends on net\.ipv4\.tcp_window_scaling/);
    assert.match(msgs[0] as string, /lb1: behaviours\[0\] \(tcp\.windowScaling port 80\) depends on net\.ipv4\.tcp_window_scaling, which the host does not declare\. Fix: declare net\.ipv4\.tcp_window_scaling/);
    assert.deepEqual(await validate('kdrift-behaviour-depends-on-declared', lb), []);
  });

  it('kdrift-serving-role-behaviour-check (advisory): a serving role with no behaviour check', async () => {
    const msgs = await validate('kdrift-serving-role-behaviour-check', { ...app, behaviours: [] });
    assert.match(msgs[0] ?? '', /app1 serves traffic \(app-node\) but declares no behaviour check.*Fix: add/);
    assert.deepEqual(await validate('kdrift-serving-role-behaviour-check', { ...declared('c1', 'client'), behaviours: [] }), [], 'the client role serves nothing');
    assert.deepEqual(await validate('kdrift-serving-role-behaviour-check', { ...declared('c1', 'client'), behaviours: [] }, { servingRoles: ['client'] }).then((m) => m.length), 1);
    assert.equal(policies.find((p) => p.name === 'kdrift-serving-role-behaviour-check')?.enforcementLevel, 'advisory');
  });

  it('other resource types are left alone', async () => {
    for (const p of policies) assert.deepEqual(await validate(p.name, withSysctl(lb, 'net.ipv4.tcp_window_scaling', { equals: 0 }), {}, 'aws:s3/bucket:Bucket'), []);
  });
});

describe('CrossGuard pack through the analyzer server @pulumi/policy starts', function () {
  this.timeout(60_000);
  let child: ChildProcess;
  let client: analyzerRpc.AnalyzerClient;

  before(async () => {
    // As the CLI runs a local pack: in its directory (PolicyPack reads the version from ./package.json).
    child = spawn(process.execPath, ['--import', 'tsx', 'index.ts'], { cwd: path.join(REPO, 'stacks', 'policy'), stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr?.on('data', (b: Buffer) => (err += b.toString()));
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      child.stdout?.on('data', (b: Buffer) => {
        out += b.toString();
        const m = /^(\d+)\n/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      child.on('exit', (c) => reject(new Error(`policy pack exited (${c}): ${err}`)));
    });
    client = new analyzerRpc.AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  });

  after(async () => {
    client?.close();
    if (child && child.exitCode === null) {
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await gone;
    }
  });

  function analyze(props: Props): Promise<{ policy: string; message: string; level: string }[]> {
    const req = new analyzerPb.AnalyzeRequest().setType(TYPE).setUrn(`urn:pulumi:lab::kdrift::kdrift:index:Role$${TYPE}::x`).setName('x').setOptions(new analyzerPb.AnalyzerResourceOptions().setAdditionalsecretoutputsList(['privateKey'])).setProperties(structPb.Struct.fromJavaScript(JSON.parse(JSON.stringify(props))));
    const level = Object.fromEntries(Object.entries(analyzerPb.EnforcementLevel).map(([k, v]) => [v, k.toLowerCase()]));
    return new Promise((resolve, reject) =>
      client.analyze(req, (e, res) => (e ? reject(e) : resolve(res.getDiagnosticsList().map((d) => ({ policy: d.getPolicyname(), message: d.getMessage(), level: level[d.getEnforcementlevel()] as string }))))),
    );
  }

  it('lists the four policies with their enforcement levels', async () => {
    const info = await new Promise<analyzerPb.AnalyzerInfo>((resolve, reject) => client.getAnalyzerInfo(new emptyPb.Empty(), (e, r) => (e ? reject(e) : resolve(r))));
    assert.equal(info.getName(), 'kdrift');
    assert.deepEqual(info.getPoliciesList().map((p) => p.getName()).sort(), policies.map((p) => p.name).sort());
  });

  it('a compliant load balancer: no diagnostics; a violating one: mandatory diagnostics naming the fix', async () => {
    assert.deepEqual(await analyze(lb), []);
    const sysctls: Props = { ...(lb.sysctls as Props), 'net.ipv4.tcp_window_scaling': { equals: 0 }, 'net.core.somaxconn': { min: 128 } };
    delete sysctls['net.ipv4.tcp_sack'];
    const diags = await analyze({ ...lb, sysctls, behaviours: [{ check: 'tcp.windowScaling', port: 80, minShare: 0.99, dependsOn: ['net.ipv4.tcp_sack'] }] });
    const by = (name: string) => diags.filter((d) => d.policy === name);
    assert.equal(by('kdrift-lb-tcp-features')[0]?.level, 'mandatory');
    assert.match(by('kdrift-lb-tcp-features')[0]?.message ?? '', /Fix: declare net\.ipv4\.tcp_window_scaling: \{ equals: 1 \}/);
    assert.match(by('kdrift-somaxconn-floor')[0]?.message ?? '', /below the floor of 1024/);
    assert.match(by('kdrift-behaviour-depends-on-declared')[0]?.message ?? '', /depends on net\.ipv4\.tcp_sack/);
    const advisory = await analyze({ ...app, behaviours: [] });
    assert.deepEqual(advisory.map((d) => [d.policy, d.level]), [['kdrift-serving-role-behaviour-check', 'advisory']]);
  });
});
