import { zeroCounters } from '../../probe/counters.js';
import assert from 'node:assert/strict';
import type { ProbeObservation, PortSummary, ConnectionSample } from '../../probe/observation.js';
import { windowScalingCheck } from '../../checks/tcp-window-scaling.js';
import { zeroWindowCheck } from '../../checks/tcp-zero-window.js';
import { retransmitsCheck } from '../../checks/tcp-retransmits.js';
import { windowScalingSpec } from '../../checks/tcp-window-scaling.schema.js';
import { zeroWindowSpec } from '../../checks/tcp-zero-window.schema.js';
import { retransmitsSpec } from '../../checks/tcp-retransmits.schema.js';
import { agentArgv, parseObservation } from '../../checks/agent-run.js';
import { renderMetrics } from '../../probe/metrics.js';
import type { HostEntry } from '../../core/inventory.js';
import { HostError } from '../../core/errors.js';

const host: HostEntry = { name: 'lb', address: '10.0.0.1', port: 22, user: 'root', roles: ['load-balancer'] };
const ctx = { host, roles: host.roles };

function row(p: Partial<PortSummary> & Pick<PortSummary, 'port' | 'direction'>): PortSummary {
  return {
    netnsCookie: '4097',
    ...zeroCounters(),
    share: null,
    retransmitRate: null,
    ...p,
  };
}
function sample(local: string, remote: string, direction: 'in' | 'out', ok: boolean): ConnectionSample {
  return { netnsCookie: '4097', direction, local, remote, wscaleOk: ok, sndWscale: ok ? 7 : 0, rcvWscale: ok ? 7 : 0, localOffered: 'yes', peerOffered: ok ? 'yes' : 'no', outcome: ok ? 'negotiated' : 'peer', atMs: 1, own: false };
}
function obs(summary: PortSummary[], samples: ConnectionSample[] = []): ProbeObservation {
  return { version: 1, host: 'lb', netns: 'self', netnsCookie: '4097', ports: [80], startedAt: '2026-01-01T00:00:00.000Z', durationMs: 10_000, observed: ['wscale', 'stalls'], retransmitHook: 'tp_btf', connect: null, summary, samples, peers: [], peersComplete: true, addresses: [], dropped: { events: 0, counterKeys: 0 } };
}
const ws = new Map([['port 80', windowScalingSpec.parse({ check: 'tcp.windowScaling', port: 80, minShare: 0.99 })]]);

describe('behaviour checks judge the agent observation', () => {
  it('tcp.windowScaling: drift blamed on the peer, with per-direction evidence and at most 5 samples of that port', () => {
    const samples = [...Array.from({ length: 7 }, (_, i) => sample('10.0.0.1:80', `10.0.9.${i}:5000${i}`, 'in', false)), sample('10.0.0.1:40000', '10.0.0.5:8080', 'out', true)];
    const o = obs([row({ port: 80, direction: 'in', connections: 12, negotiated: 0, lackedBy: { local: 0, peer: 12, unknown: 0 } }), row({ port: 8080, direction: 'out', connections: 12, negotiated: 12 })], samples);
    const [f] = windowScalingCheck.judge(o, ws, ctx);
    assert.ok(f);
    assert.equal(f.status, 'drift');
    assert.equal(f.layer, 'behaviour');
    assert.equal(f.key, 'port 80');
    assert.equal(f.expected, 'share >= 0.99');
    assert.equal(f.actual, '0.00 (0/12)');
    assert.equal(f.severity, 'high');
    assert.match(f.reason ?? '', /12 of 12 new connections on port 80 did not negotiate window scaling: 12 lacked by the peer/);
    const ev = f.evidence as { connections: number; negotiated: number; lackedBy: object; samples: ConnectionSample[]; byDirection: unknown[] };
    assert.equal(ev.connections, 12);
    assert.deepEqual(ev.lackedBy, { local: 0, peer: 12, unknown: 0 });
    assert.equal(ev.samples.length, 5);
    assert.ok(ev.samples.every((s) => s.local.endsWith(':80')));
    assert.equal(ev.byDirection.length, 1);
  });

  it('tcp.windowScaling: ok at the threshold, judging only the declared leg (in on port 80; out to port 80 apart)', () => {
    const o = obs([
      row({ port: 80, direction: 'in', connections: 100, negotiated: 99, lackedBy: { local: 0, peer: 1, unknown: 0 } }),
      row({ port: 80, direction: 'out', connections: 1, negotiated: 0, lackedBy: { local: 1, peer: 0, unknown: 0 } }),
    ]);
    const [f] = windowScalingCheck.judge(o, ws, ctx);
    assert.equal(f?.actual, '0.99 (99/100)');
    assert.equal(f?.status, 'ok');
    assert.equal(f?.reason, undefined);
    const out = new Map([['port 80 out', windowScalingSpec.parse({ check: 'tcp.windowScaling', port: 80, direction: 'out', minShare: 0.99 })]]);
    const [g] = windowScalingCheck.judge(o, out, ctx);
    assert.equal(g?.status, 'drift');
    assert.equal(g?.actual, '0.00 (0/1)');
    assert.match(g?.reason ?? '', /to peers' port 80/);
  });

  it("tcp.windowScaling: the probe's own test connections are not real traffic; verification may judge them when nothing real was seen", () => {
    const o = obs([row({ port: 80, direction: 'in', connections: 20, negotiated: 0, lackedBy: { local: 20, peer: 0, unknown: 0 }, own: { connections: 6, negotiated: 6, lackedBy: { local: 0, peer: 0, unknown: 0 } } })]);
    const [f] = windowScalingCheck.judge(o, ws, ctx);
    assert.equal(f?.actual, '0.00 (0/20)');
    const quiet = obs([row({ port: 80, direction: 'in', own: { connections: 3, negotiated: 3, lackedBy: { local: 0, peer: 0, unknown: 0 } } })]);
    const [u] = windowScalingCheck.judge(quiet, ws, ctx);
    assert.equal(u?.status, 'unknown');
    assert.match(u?.reason ?? '', /own 3 test connections are not judged/);
    const [v] = windowScalingCheck.judge(quiet, ws, { ...ctx, ownTraffic: true });
    assert.equal(v?.status, 'ok');
    assert.match(v?.actual ?? '', /^1\.00 \(3\/3\) — the probe's own test connections$/);
  });

  it('tcp.windowScaling: unknown, saying so, when no connection was seen on the port', () => {
    const [f] = windowScalingCheck.judge(obs([row({ port: 8080, direction: 'in', connections: 5, negotiated: 5 })]), ws, ctx);
    assert.equal(f?.status, 'unknown');
    assert.equal(f?.actual, null);
    assert.match(f?.reason ?? '', /no new real TCP connections on port 80 during the 10\.0 s window/);
  });

  it('tcp.zeroWindow: drift above max, naming which side stalled', () => {
    const zw = new Map([['port 80', zeroWindowSpec.parse({ check: 'tcp.zeroWindow', port: 80, max: 100 })]]);
    const o = obs([row({ port: 80, direction: 'in', connections: 3, zeroWindow: { sent: 150, received: 2 }, segmentsIn: 1000 })]);
    const [f] = zeroWindowCheck.judge(o, zw, ctx);
    assert.equal(f?.status, 'drift');
    assert.equal(f?.expected, 'zero-window advertisements <= 100');
    assert.equal(f?.actual, '152 (sent 150, received 2)');
    assert.match(f?.reason ?? '', /this host could not take data/);
    const [u] = zeroWindowCheck.judge(obs([]), zw, ctx);
    assert.equal(u?.status, 'unknown');
    const [n] = zeroWindowCheck.judge({ ...o, observed: ['wscale'] }, zw, ctx);
    assert.equal(n?.status, 'unknown');
    assert.match(n?.reason ?? '', /did not observe zero windows/);
  });

  it('tcp.retransmits: rate against maxRate; unknown without data or with too few segments', () => {
    const rt = new Map([['port 8080', retransmitsSpec.parse({ check: 'tcp.retransmits', port: 8080, maxRate: 0.02 })]]);
    const bad = retransmitsCheck.judge(obs([row({ port: 8080, direction: 'in', connections: 2, retransmits: 10, dataSegmentsOut: 320 })]), rt, ctx)[0];
    assert.equal(bad?.status, 'drift');
    assert.equal(bad?.actual, '0.0313 (10/320)');
    assert.equal(bad?.expected, 'rate <= 0.02');
    const good = retransmitsCheck.judge(obs([row({ port: 8080, direction: 'in', connections: 2, retransmits: 1, dataSegmentsOut: 1000 })]), rt, ctx)[0];
    assert.equal(good?.status, 'ok');
    assert.equal(retransmitsCheck.judge(obs([]), rt, ctx)[0]?.status, 'unknown');
    // 1 retransmission in 5 segments is noise, not a 20 % rate.
    const few = retransmitsCheck.judge(obs([row({ port: 8080, direction: 'in', connections: 1, retransmits: 1, dataSegmentsOut: 5 })]), rt, ctx)[0];
    assert.equal(few?.status, 'unknown');
    assert.match(few?.reason ?? '', /fewer than the 200 a rate needs/);
  });
});

describe('agent invocation and output parsing', () => {
  it('builds one argv for all specs of a host: agentCommand, longest window, each port once, loopback test connections', () => {
    const specs = [
      windowScalingSpec.parse({ check: 'tcp.windowScaling', port: 80, minShare: 0.99, window: '10s' }),
      zeroWindowSpec.parse({ check: 'tcp.zeroWindow', port: 80, max: 100, window: '15s' }),
      retransmitsSpec.parse({ check: 'tcp.retransmits', port: 8080, maxRate: 0.02, window: '5s' }),
    ];
    const h = { host: { ...host, agentCommand: ['/usr/bin/node', '/opt/kdrift/bin/kdrift.js'] } };
    assert.deepEqual(agentArgv(specs, h, { drive: true }), [
      '/usr/bin/node', '/opt/kdrift/bin/kdrift.js', 'probe', '--json', '--duration', '15000ms',
      '--port', '80', '--port', '8080', '--connect', '127.0.0.1:80', '--connect', '127.0.0.1:8080', '--connect-count', '3',
    ]);
    // The agent's defaults (wscale, stalls) need no flag; anything else is named, in the registry's order.
    assert.deepEqual(agentArgv(specs.slice(0, 1), { host }, { drive: false, observe: ['wscale'] }), ['kdrift', 'probe', '--json', '--duration', '10000ms', '--port', '80', '--observe', 'wscale']);
    assert.deepEqual(agentArgv(specs.slice(2), { host }, { drive: false, observe: ['stalls'] }).slice(-2), ['--observe', 'stalls']);
    assert.deepEqual(agentArgv(specs, { host }, { drive: false, observe: new Set(['congestion', 'wscale'] as const) }).slice(-2), ['--observe', 'wscale,congestion']);
  });

  it('refuses output that is not an observation with a HostError naming the host', () => {
    assert.throws(() => parseObservation('kdrift: oops', 'lb'), (e: unknown) => e instanceof HostError && /host lb: probe agent printed no JSON/.test(e.message));
    assert.throws(() => parseObservation('{"version":2}', 'lb'), (e: unknown) => e instanceof HostError && /does not match this kdrift version/.test(e.message));
    const good = obs([row({ port: 80, direction: 'in', connections: 1, negotiated: 1 })]);
    assert.deepEqual(parseObservation(JSON.stringify(good) + '\n', 'lb'), good);
  });
});

describe('probe Prometheus metrics', () => {
  it('uses bounded labels only (port, direction, outcome/side) and merges netns unless asked per netns', () => {
    const rows = [
      row({ port: 80, direction: 'in', connections: 3, negotiated: 1, lackedBy: { local: 2, peer: 0, unknown: 0 }, retransmits: 4 }),
      row({ port: 80, direction: 'in', netnsCookie: '5000', connections: 2, negotiated: 2, retransmits: 1 }),
    ];
    const text = renderMetrics(rows, { perNetns: false, droppedEvents: 0 });
    assert.match(text, /^kdrift_tcp_connections_total\{port="80",direction="in",outcome="negotiated"\} 3$/m);
    assert.match(text, /^kdrift_tcp_connections_total\{port="80",direction="in",outcome="lacked_local"\} 2$/m);
    assert.match(text, /^kdrift_tcp_retransmits_total\{port="80",direction="in"\} 5$/m);
    assert.doesNotMatch(text, /netns=|remote|local_addr/);
    const per = renderMetrics(rows, { perNetns: true, droppedEvents: 1 });
    assert.match(per, /kdrift_tcp_retransmits_total\{port="80",direction="in",netns="5000"\} 1/);
    assert.match(per, /^kdrift_probe_dropped_events_total 1$/m);
  });
});
