import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as pulumi from '@pulumi/pulumi';
import { ensureDist, REPO } from '../support/dist.js';

/**
 * The Pulumi program under Pulumi's mocks (no CLI here): hosts from stack config, declarations from
 * stacks/baselines.ts, one kdrift:index:HostKernelState per host under a kdrift:index:Role component per role.
 */
const SIG_KEY = '4dabf18193072939515e22adb298388d';
const SECRET_SIG = '1b47061264138c4ac30d75fd1eb44270';

interface Registered {
  type: string;
  name: string;
  custom: boolean;
  inputs: Record<string, unknown>;
}

const registered: Registered[] = [];
const HOSTS = [
  { name: 'lb1', address: '10.0.0.1', roles: ['load-balancer'] },
  { name: 'app1', address: '10.0.0.2', roles: ['app-node'] },
  { name: 'app2', address: '10.0.0.3', port: 2222, user: 'ops', roles: ['app-node'] },
];

async function value<T>(o: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => o.apply(resolve));
}

/** Each import runs the program afresh (a query string is a new module). */
let runs = 0;
function runProgram(): Promise<typeof import('../../stacks/index.js')> {
  runs += 1;
  return import(`../../stacks/index.ts?run=${runs}`) as Promise<typeof import('../../stacks/index.js')>;
}

describe('Pulumi program (stacks/index.ts) under mocks', () => {
  before(async () => {
    await pulumi.runtime.setMocks(
      {
        newResource: (args) => {
          registered.push({ type: args.type, name: args.name, custom: args.custom ?? false, inputs: args.inputs });
          // What the provider would answer: the inputs echoed and a verdict.
          return { id: args.custom ? args.name : undefined, state: args.custom ? { ...args.inputs, verdict: 'ok' } : {} };
        },
        call: (args) => args.inputs,
      },
      'kdrift',
      'unit',
    );
  });

  beforeEach(() => {
    registered.length = 0;
  });

  it('one HostKernelState per host, under the component of its role, with the role declarations as inputs', async () => {
    pulumi.runtime.setAllConfig({ 'kdrift:hosts': JSON.stringify(HOSTS) });
    const program = await runProgram();
    const urns = await Promise.all(program.hostUrns.map(value));
    assert.deepEqual(await value(program.verdicts), { lb1: 'ok', app1: 'ok', app2: 'ok' });

    assert.deepEqual(registered.filter((r) => r.type === 'kdrift:index:Role').map((r) => r.name).sort(), ['app-node', 'load-balancer']);
    const states = registered.filter((r) => r.type === 'kdrift:index:HostKernelState');
    assert.deepEqual(states.map((r) => r.name).sort(), ['app1', 'app2', 'lb1']);
    assert.ok(states.every((s) => s.custom), 'HostKernelState is a custom resource (the provider applies it)');
    // The URN carries the parent's type: each host hangs under a Role component.
    for (const name of ['lb1', 'app1', 'app2']) assert.ok(urns.some((u) => u.endsWith(`::kdrift:index:Role$kdrift:index:HostKernelState::${name}`)), `${name}: ${urns.join(' ')}`);

    const lb = states.find((s) => s.name === 'lb1')?.inputs as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    assert.equal(lb.host, 'lb1');
    assert.equal(lb.address, '10.0.0.1');
    assert.equal(lb.port, 22);
    assert.deepEqual(lb.roles, ['load-balancer']);
    assert.deepEqual(lb.sysctls['net.ipv4.tcp_window_scaling'], { severity: 'critical', remediation: 'auto', reason: 'without it every connection is capped at a 64 KiB window: throughput collapses with RTT', equals: '1' });
    assert.deepEqual(lb.sysctls['net.ipv4.tcp_rmem'].min, '4096 131072 6291456');
    assert.deepEqual(lb.behaviours[0], { check: 'tcp.windowScaling', port: 80, direction: 'in', minShare: 0.99, window: '10000ms', severity: 'critical', dependsOn: ['net.ipv4.tcp_window_scaling'] });
    assert.equal(lb.privateKey, undefined, 'no key configured: the provider uses its identityFile or ssh-agent');
    const app2 = states.find((s) => s.name === 'app2')?.inputs as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    assert.equal(app2.port, 2222);
    assert.equal(app2.user, 'ops');
    assert.equal(app2.sysctls['net.core.somaxconn'].min, '1024');
  });

  it('kdrift:privateKey from secret config is sent to the engine for every host as a secret', async () => {
    pulumi.runtime.setAllConfig({ 'kdrift:hosts': JSON.stringify(HOSTS.slice(0, 1)), 'kdrift:privateKey': '-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n' }, ['kdrift:privateKey']);
    const program = await runProgram();
    await Promise.all(program.hostUrns.map(value));
    const lb = registered.find((r) => r.name === 'lb1');
    assert.ok(lb);
    const key = lb.inputs.privateKey as Record<string, unknown>;
    assert.equal(key[SIG_KEY], SECRET_SIG, `sent to the engine as a secret: ${JSON.stringify(key)}`);
  });

  it('a key the program passes in plain text is made secret by HostKernelState itself', async () => {
    const { HostKernelState } = await import('../../stacks/host-kernel-state.js');
    const h = new HostKernelState('plain', { host: 'plain', address: '10.0.0.9', roles: ['app-node'], privateKey: 'KEY', sysctls: { 'net.core.somaxconn': { min: 1024 } } });
    const out = (h as unknown as { privateKey: pulumi.Output<string> }).privateKey;
    assert.equal(await pulumi.isSecret(out), true);
    const sent = registered.find((r) => r.name === 'plain')?.inputs.privateKey as Record<string, unknown>;
    assert.equal(sent[SIG_KEY], SECRET_SIG);
  });

  it('bad stack config fails with one readable error naming the stack file, the host and the field', async () => {
    pulumi.runtime.setAllConfig({ 'kdrift:hosts': JSON.stringify([{ name: 'lb1', address: '10.0.0.1; rm -rf /', roles: [] }]) });
    await assert.rejects(runProgram(), (err: Error) => {
      assert.equal(err.name, 'KdriftError');
      assert.match(err.message, /^Pulumi\.unit\.yaml config\.kdrift:hosts: /);
      assert.match(err.message, /0\.address: an address is a host name/);
      assert.match(err.message, /0\.roles: a host needs at least one role/);
      assert.doesNotMatch(err.message, /\n\s+at /, 'no stack trace in the message');
      return true;
    });
    pulumi.runtime.setAllConfig({ 'kdrift:hosts': JSON.stringify([HOSTS[0], HOSTS[0]]) });
    await assert.rejects(runProgram(), /duplicate host name lb1/);
    pulumi.runtime.setAllConfig({ 'kdrift:hosts': JSON.stringify([{ name: 'db1', address: '10.0.0.5', roles: ['database'] }]) });
    await assert.rejects(runProgram(), /host db1: has role "database", which the baseline does not declare/);
  });
});

describe("kdrift/pulumi: the typed class as a user's program imports it", function () {
  this.timeout(120_000);
  it('plain node resolves kdrift/pulumi (package exports) to HostKernelState, Role and the type token', () => {
    ensureDist();
    const code = "import * as kdrift from 'kdrift/pulumi'; process.stdout.write(JSON.stringify([typeof kdrift.HostKernelState, typeof kdrift.Role, typeof kdrift.hostDeclaration, kdrift.HOST_KERNEL_STATE]));";
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', code], { cwd: REPO, encoding: 'utf8' });
    assert.deepEqual(JSON.parse(out), ['function', 'function', 'function', 'kdrift:index:HostKernelState']);
  });
});
