import assert from 'node:assert/strict';
import { findRootCauses, planChecks } from '../../core/engine/index.js';
import { fleetBaseline } from '../../stacks/baselines.js';
import type { Finding } from '../../core/finding.js';
import type { HostEntry } from '../../core/inventory.js';
import type { HostReport } from '../../core/report.js';
import { hostStatus, summarise } from '../../core/report.js';

const baseline = fleetBaseline();
const entry = (name: string, address: string, roles: string[]): HostEntry => ({ name, address, port: 22, user: 'root', roles });
const entries = [entry('lb', '10.9.0.10', ['load-balancer']), entry('app1', '10.9.0.11', ['app-node']), entry('app2', '10.9.0.12', ['app-node'])];
const plans = new Map(entries.map((e) => [e.name, planChecks(e, baseline)]));
const WS = 'net.ipv4.tcp_window_scaling';

function sysctl(host: string, layer: 'runtime' | 'persisted', actual: string, extra: Partial<Finding> = {}): Finding {
  return { host, check: 'sysctl', key: WS, layer, status: actual === '1' ? 'ok' : 'drift', expected: '= 1', actual, severity: 'critical', ...extra };
}
function ws(host: string, key: string, direction: 'in' | 'out', n: number, negotiated: number, lackedBy: { local: number; peer: number }, peers: Array<[string, number, number, number]>): Finding {
  return {
    host,
    check: 'tcp.windowScaling',
    key,
    layer: 'behaviour',
    status: negotiated / n >= 0.99 ? 'ok' : 'drift',
    expected: 'share >= 0.99',
    actual: `${(negotiated / n).toFixed(2)} (${negotiated}/${n})`,
    severity: host === 'lb' ? 'critical' : 'high',
    evidence: {
      direction,
      connections: n,
      negotiated,
      lackedBy: { ...lackedBy, unknown: 0 },
      peers: peers.map(([address, c, ok, peer]) => ({ port: Number(/\d+/.exec(key)?.[0]), direction, address, connections: c, negotiated: ok, lackedBy: { local: c - ok - peer, peer, unknown: 0 } })),
      hostAddresses: host === 'lb' ? ['10.9.0.10', '10.9.1.2'] : [],
    },
  };
}
function host(name: string, roles: string[], findings: Finding[]): HostReport {
  return { name, roles, status: hostStatus(findings), findings };
}

describe('root cause across hosts (core/engine/root-cause.ts)', () => {
  it('lb_at_wscale_0_is_one_root_cause_and_app1_app2_are_consequences_naming_lb', () => {
    const hosts = [
      host('app1', ['app-node'], [sysctl('app1', 'runtime', '1'), ws('app1', 'port 8080', 'in', 10, 0, { local: 0, peer: 10 }, [['10.9.0.10', 10, 0, 10]])]),
      host('app2', ['app-node'], [sysctl('app2', 'runtime', '1'), ws('app2', 'port 8080', 'in', 10, 0, { local: 0, peer: 10 }, [['10.9.0.10', 10, 0, 10]])]),
      host('lb', ['load-balancer'], [
        sysctl('lb', 'runtime', '0'),
        sysctl('lb', 'persisted', '0', { source: '/etc/sysctl.d/90-harden.conf:2' }),
        // Client traffic arrives on lb's WAN address: the client is outside the inventory.
        ws('lb', 'port 80', 'in', 20, 0, { local: 20, peer: 0 }, [['10.9.1.1', 20, 0, 0]]),
        ws('lb', 'port 8080 out', 'out', 20, 0, { local: 20, peer: 0 }, [['10.9.0.11', 10, 0, 0], ['10.9.0.12', 10, 0, 0]]),
      ]),
    ];
    const r = findRootCauses({ hosts, entries, plans, selector: ['--stack', 'lab'] });
    assert.equal(r.rootCauses.length, 1);
    const [c] = r.rootCauses;
    assert.equal(c?.host, 'lb');
    assert.equal(c?.key, WS);
    assert.deepEqual(c?.layers, ['runtime', 'persisted']);
    assert.equal(c?.source, '/etc/sysctl.d/90-harden.conf:2');
    assert.deepEqual(c?.explains.hosts, ['app1', 'app2']);
    assert.equal(c?.explains.findings, 2);
    assert.equal(c?.explains.connections, 60);
    assert.deepEqual(c?.explains.ownBehaviour, ['tcp.windowScaling port 80', 'tcp.windowScaling port 8080 out']);
    assert.deepEqual(c?.nextStep, { kind: 'command', argv: ['kdrift', 'fix', '--host', 'lb', '--stack', 'lab', '--dry-run'], text: 'kdrift fix --host lb --stack lab --dry-run' });
    for (const name of ['app1', 'app2']) {
      const f = r.hosts.find((h) => h.name === name)?.findings.find((x) => x.layer === 'behaviour');
      assert.deepEqual(f?.explainedBy, { host: 'lb', key: WS, value: '0', source: '/etc/sysctl.d/90-harden.conf:2', connections: 10 });
    }
    assert.deepEqual(r.hosts.find((h) => h.name === 'lb')?.addresses, ['10.9.0.10', '10.9.1.2']);
    const s = summarise(r.hosts, r.rootCauses);
    assert.equal(s.rootCauses, 1);
    assert.equal(s.consequences, 2);
    // The picture's legs: client → lb (outside peer by address), lb → app1, lb → app2.
    assert.deepEqual(r.legs.map((l) => `${l.from}>${l.to}:${l.port} ${l.negotiated}/${l.connections}`), ['10.9.1.1>lb:80 0/20', 'lb>app1:8080 0/10', 'lb>app2:8080 0/10']);
  });

  it('app1_at_wscale_0_makes_lbs_backend_leg_drift_explained_by_app1', () => {
    const hosts = [
      host('app1', ['app-node'], [sysctl('app1', 'runtime', '0'), ws('app1', 'port 8080', 'in', 10, 0, { local: 10, peer: 0 }, [['10.9.0.10', 10, 0, 0]])]),
      host('app2', ['app-node'], [sysctl('app2', 'runtime', '1'), ws('app2', 'port 8080', 'in', 10, 10, { local: 0, peer: 0 }, [['10.9.0.10', 10, 10, 0]])]),
      host('lb', ['load-balancer'], [
        sysctl('lb', 'runtime', '1'),
        ws('lb', 'port 80', 'in', 20, 20, { local: 0, peer: 0 }, [['10.9.1.1', 20, 20, 0]]),
        ws('lb', 'port 8080 out', 'out', 20, 10, { local: 0, peer: 10 }, [['10.9.0.11', 10, 0, 10], ['10.9.0.12', 10, 10, 0]]),
      ]),
    ];
    const r = findRootCauses({ hosts, entries, plans });
    assert.deepEqual(r.rootCauses.map((c) => `${c.host} ${c.key}`), [`app1 ${WS}`]);
    assert.deepEqual(r.rootCauses[0]?.explains.hosts, ['lb']);
    const leg = r.hosts.find((h) => h.name === 'lb')?.findings.find((f) => f.key === 'port 8080 out');
    assert.equal(leg?.status, 'drift');
    assert.equal(leg?.explainedBy?.host, 'app1');
    assert.equal(leg?.explainedBy?.value, '0');
    assert.deepEqual(r.rootCauses[0]?.nextStep.argv, ['kdrift', 'fix', '--host', 'app1', '--dry-run']);
  });

  it('a_peer_seen_at_an_extra_inventory_address_is_named_as_that_host (the client by its WAN address)', () => {
    const client: HostEntry = { ...entry('client', '10.9.0.13', ['client']), addresses: ['10.9.1.1'] };
    const hosts = [host('lb', ['load-balancer'], [sysctl('lb', 'runtime', '1'), ws('lb', 'port 80', 'in', 20, 20, { local: 0, peer: 0 }, [['10.9.1.1', 20, 20, 0]])])];
    const withoutIt = findRootCauses({ hosts, entries, plans });
    assert.deepEqual(withoutIt.legs.map((l) => l.from), ['10.9.1.1']);
    const r = findRootCauses({ hosts, entries: [...entries, client], plans: new Map([...plans, ['client', planChecks(client, baseline)]]) });
    assert.deepEqual(r.legs.map((l) => `${l.from}>${l.to}:${l.port} ${l.negotiated}/${l.connections}`), ['client>lb:80 20/20']);
  });

  it('a_peer_outside_the_inventory_is_a_root_cause_of_its_own_to_investigate; manual keys say what to change and where', () => {
    const hosts = [
      host('lb', ['load-balancer'], [
        { host: 'lb', check: 'sysctl', key: 'net.ipv4.tcp_tw_reuse', layer: 'persisted', status: 'drift', expected: 'one of 1 | 2', actual: '0', severity: 'low', source: '/etc/sysctl.d/90-harden.conf:3' },
        ws('lb', 'port 80', 'in', 20, 0, { local: 0, peer: 20 }, [['203.0.113.9', 20, 0, 20]]),
      ]),
    ];
    const r = findRootCauses({ hosts, entries: entries.slice(0, 1), plans, selector: ['--inventory', 'hosts.yaml'] });
    assert.deepEqual(r.rootCauses.map((c) => [c.key, c.nextStep.kind]), [['port 80', 'investigate'], ['net.ipv4.tcp_tw_reuse', 'manual']]);
    assert.match(r.rootCauses[0]?.nextStep.text ?? '', /203\.0\.113\.9 \(not in the inventory\)/);
    assert.equal(
      r.rootCauses[1]?.nextStep.text,
      'set net.ipv4.tcp_tw_reuse one of 1 | 2 on lb in /etc/sysctl.d/90-harden.conf:3 — a manual key: change it yourself, or kdrift fix --host lb --inventory hosts.yaml --include-manual --dry-run',
    );
    assert.equal(summarise(r.hosts, r.rootCauses).consequences, 0);
  });
});
