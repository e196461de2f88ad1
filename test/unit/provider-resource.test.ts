/**
 * The provider's decisions that need no host: Check (schemas, property paths, secrets, unknowns), Diff (per sysctl key,
 * never a replacement), Configure/CheckConfig (variables and typed args as the engine sends them). The same operations
 * over gRPC against a real lab are in test/e2e/provider.test.ts.
 */
import assert from 'node:assert/strict';
import { HostKernelStateProvider } from '../../stacks/provider/host-kernel-state.js';
import { settingsInput } from '../../stacks/provider/settings.js';
import { SIG_KEY, SECRET_SIG, UNKNOWN, type Props } from '../../stacks/provider/wire.js';
import { hostDeclaration } from '../../stacks/declaration.js';
import { fleetBaseline } from '../../stacks/baselines.js';

const WS = 'net.ipv4.tcp_window_scaling';
const inputs: Props = JSON.parse(
  JSON.stringify({
    host: 'lb1',
    address: '10.0.0.10',
    port: 22,
    user: 'root',
    privateKey: { [SIG_KEY]: SECRET_SIG, value: 'KEY' },
    ...hostDeclaration({ name: 'lb1', address: '10.0.0.10', port: 22, user: 'root', roles: ['load-balancer'] }, fleetBaseline()),
  }),
);
/** What a create or refresh stored: the inputs and the observation. */
function stored(drift: Record<string, string[]> = {}): Props {
  return { ...inputs, applied: { [WS]: drift[WS] ? '0' : '1' }, persisted: {}, drift, verdict: Object.keys(drift).length ? 'config drift' : 'ok', verified: [], journal: '' };
}

describe('kdrift provider: Check, Diff, settings', () => {
  const provider = new HostKernelStateProvider();

  it('Check: good inputs pass and come back with defaults; the private key stays (or becomes) a secret', () => {
    const { port: _p, user: _u, ...minimal } = inputs;
    const res = provider.check({ ...minimal, privateKey: 'PLAIN' });
    assert.deepEqual(res.failures, []);
    assert.equal(res.inputs.port, 22);
    assert.equal(res.inputs.user, 'root');
    assert.deepEqual(res.inputs.privateKey, { [SIG_KEY]: SECRET_SIG, value: 'PLAIN' });
    assert.deepEqual(provider.check(inputs).inputs.privateKey, inputs.privateKey);
  });

  it('Check: every failure names its property path', () => {
    const res = provider.check({ ...inputs, user: 'Root!', roles: [], sysctls: { ...(inputs.sysctls as Props), [WS]: { equals: 1, min: 0 } } });
    const props = res.failures.map((f) => f.property).sort();
    assert.deepEqual(props, ['roles', 'user']);
    const decl = provider.check({ ...inputs, sysctls: { ...(inputs.sysctls as Props), [WS]: { equals: 1, min: 0 }, '/proc/sys/x': { equals: 1 } } });
    const byProp = Object.fromEntries(decl.failures.map((f) => [f.property, f.reason]));
    assert.match(byProp[`sysctls["${WS}"]`] ?? '', /exactly one of equals, oneOf, or min\/max/);
    assert.match(byProp['sysctls["/proc/sys/x"]'] ?? '', /absolute path/);
  });

  it('Check: a value not known during preview is not judged yet', () => {
    assert.deepEqual(provider.check({ ...inputs, address: UNKNOWN }).failures, []);
  });

  it('Diff: nothing when the declaration is unchanged and nothing drifted', () => {
    assert.deepEqual(provider.diff(stored(), inputs), { changes: false, replaces: [], diffs: [], detailedDiff: {} });
  });

  it('Diff: a key a refresh found drifting is an update of that key (not an input change)', () => {
    const d = provider.diff(stored({ [WS]: ['net.ipv4.tcp_window_scaling (runtime): expected = 1, found 0'] }), inputs);
    assert.deepEqual(d.detailedDiff, { [`sysctls["${WS}"]`]: { kind: 'UPDATE', inputDiff: false } });
    assert.deepEqual(d.replaces, []);
    assert.deepEqual(d.diffs, ['sysctls']);
  });

  it('Diff: changed, added and removed declarations, and connection changes, never replace', () => {
    const sysctls = { ...(inputs.sysctls as Props), 'net.core.somaxconn': { min: 8192, severity: 'medium', remediation: 'auto' }, 'net.ipv4.tcp_ecn': { equals: 1 } };
    delete (sysctls as Record<string, unknown>)['net.ipv4.tcp_fin_timeout'];
    const d = provider.diff(stored(), { ...inputs, sysctls, address: '10.0.0.99', privateKey: { [SIG_KEY]: SECRET_SIG, value: 'NEWKEY' } });
    assert.deepEqual(d.detailedDiff, {
      address: { kind: 'UPDATE', inputDiff: true },
      privateKey: { kind: 'UPDATE', inputDiff: true },
      'sysctls["net.core.somaxconn"]': { kind: 'UPDATE', inputDiff: true },
      'sysctls["net.ipv4.tcp_ecn"]': { kind: 'ADD', inputDiff: true },
      'sysctls["net.ipv4.tcp_fin_timeout"]': { kind: 'DELETE', inputDiff: true },
    });
    assert.deepEqual(d.replaces, []);
  });

  it('Configure: kdrift:config:* variables (strings) and typed args give the same settings; CheckConfig names bad ones', () => {
    const vars = new Map([
      ['kdrift:config:knownHosts', '/k'],
      ['kdrift:config:agentCommand', '["node","/x/bin/kdrift.js"]'],
      ['kdrift:config:concurrency', '8'],
      ['kdrift:config:acceptNewHostKeys', 'true'],
      ['kdrift:config:hosts', '[{"name":"lb"}]'],
    ]);
    provider.configure(settingsInput(vars, undefined));
    const fromVars = { ...provider.currentSettings };
    provider.configure(settingsInput(new Map(), { knownHosts: '/k', agentCommand: ['node', '/x/bin/kdrift.js'], concurrency: 8, acceptNewHostKeys: true }));
    assert.deepEqual(provider.currentSettings, fromVars);
    assert.deepEqual(fromVars, { knownHosts: '/k', agentCommand: ['node', '/x/bin/kdrift.js'], concurrency: 8, acceptNewHostKeys: true });
    const bad = provider.checkConfig({ concurrency: '0', journalDir: 'relative', connectTimeout: 'soon' });
    assert.deepEqual(bad.map((f) => f.property).sort(), ['concurrency', 'connectTimeout', 'journalDir']);
    assert.throws(() => provider.configure({ concurrency: 'many' }), /provider kdrift configuration: concurrency/);
  });
});
