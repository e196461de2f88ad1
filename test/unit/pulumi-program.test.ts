import assert from 'node:assert/strict';
import * as pulumi from '@pulumi/pulumi';

/** The Pulumi program, run under Pulumi's mocks (no CLI here): hosts from stack config, state from stacks/baselines. */
describe('Pulumi program (stacks/index.ts)', () => {
  const registered: { type: string; name: string }[] = [];

  before(async () => {
    await pulumi.runtime.setMocks(
      {
        newResource: (args) => {
          registered.push({ type: args.type, name: args.name });
          return { id: `${args.name}-id`, state: args.inputs };
        },
        call: (args) => args.inputs,
      },
      'kdrift',
      'unit',
    );
    pulumi.runtime.setAllConfig({
      'kdrift:hosts': JSON.stringify([
        { name: 'lb1', address: '10.0.0.1', roles: ['load-balancer'] },
        { name: 'app1', address: '10.0.0.2', roles: ['app-node'] },
      ]),
    });
  });

  it('declares one HostKernelState per host, holding its role baseline', async () => {
    const program = await import('../../stacks/index.js');
    const lb = await new Promise<Record<string, string>>((resolve) => program.declared.lb1!.apply(resolve));
    // A component's URN resolves once the engine (here: the mocks) registered it.
    await Promise.all(program.hostUrns.map((u) => new Promise((resolve) => u.apply(resolve))));
    assert.deepEqual(
      registered.filter((r) => r.type === 'kdrift:fleet:HostKernelState').map((r) => r.name).sort(),
      ['app1', 'lb1'],
    );
    assert.equal(lb['net.ipv4.tcp_window_scaling'], '= 1');
    assert.equal(lb['net.ipv4.tcp_rmem'], '>= 4096 131072 6291456');
  });
});
