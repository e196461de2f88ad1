import assert from 'node:assert/strict';
import type { ProbeObservation } from '../../probe/observation.js';
import type { CongestionRow, CongestionSample } from '../../probe/observers/congestion.schema.js';
import { congestionControlCheck } from '../../checks/tcp-congestion-control.js';
import { congestionControlSpec } from '../../checks/tcp-congestion-control.schema.js';
import { behaviourSpecSchema } from '../../checks/registry.js';
import { decodeCongestionEvent, decodeCongestionKey, CC_EVENT_SIZE, CC_KEY_SIZE } from '../../probe/observers/congestion-codec.js';
import type { HostEntry } from '../../core/inventory.js';
import { execFileSync } from 'node:child_process';
import { renderMetrics } from '../../probe/metrics.js';
import { congestionObserver } from '../../probe/observers/congestion.js';

const host: HostEntry = { name: 'lb', address: '10.0.0.1', port: 22, user: 'root', roles: ['load-balancer'] };
const ctx = { host, roles: host.roles };
const cubic80 = new Map([['port 80', congestionControlSpec.parse({ check: 'tcp.congestionControl', port: 80, algorithm: 'cubic', dependsOn: ['net.ipv4.tcp_congestion_control'] })]]);

function cc(port: number, direction: 'in' | 'out', algorithm: string, connections: number): CongestionRow {
  return { netnsCookie: '4097', port, direction, algorithm, connections };
}
function sample(local: string, remote: string, direction: 'in' | 'out', algorithm: string): CongestionSample {
  return { netnsCookie: '4097', direction, local, remote, algorithm, atMs: 1 };
}
function obs(rows: CongestionRow[], samples: CongestionSample[] = [], observed: ProbeObservation['observed'] = ['congestion']): ProbeObservation {
  return {
    version: 1, host: 'lb', netns: 'self', netnsCookie: '4097', ports: [80], startedAt: '2026-01-01T00:00:00.000Z', durationMs: 10_000, observed,
    retransmitHook: 'none', connect: { target: '127.0.0.1:80', attempted: 3, succeeded: 3, errors: [] }, summary: [], samples: [], dropped: { events: 0, counterKeys: 0 },
    peers: [], peersComplete: true, addresses: [],
    congestion: { rows, samples },
  };
}

describe('tcp.congestionControl judges the algorithms connections used against the declared one', () => {
  it('ok when every connection on the port used the declared algorithm (both directions summed, other ports ignored)', () => {
    const [f] = congestionControlCheck.judge(obs([cc(80, 'in', 'cubic', 3), cc(80, 'out', 'cubic', 3), cc(8080, 'out', 'reno', 4)]), cubic80, ctx);
    assert.equal(f?.status, 'ok');
    assert.equal(f?.check, 'tcp.congestionControl');
    assert.equal(f?.key, 'port 80');
    assert.equal(f?.layer, 'behaviour');
    assert.equal(f?.expected, 'algorithm = cubic');
    assert.equal(f?.actual, 'cubic (6/6)');
    assert.equal(f?.reason, undefined);
    const ev = f?.evidence as { connections: number; byAlgorithm: Record<string, number>; window: string; testConnections: unknown };
    assert.equal(ev.connections, 6);
    assert.deepEqual(ev.byAlgorithm, { cubic: 6 });
    assert.equal(ev.window, '10.0 s');
    assert.ok(ev.testConnections, 'the agent said it opened its own test connections');
  });

  it('drift naming both algorithms when the connections used reno, with those connections first among the samples', () => {
    const samples = [
      sample('10.0.0.1:80', '10.0.0.13:50000', 'in', 'cubic'),
      ...Array.from({ length: 6 }, (_, i) => sample('10.0.0.1:80', `10.0.0.13:5000${i + 1}`, 'in', 'reno')),
      sample('10.0.0.1:40000', '10.0.0.11:8080', 'out', 'reno'),
    ];
    const [f] = congestionControlCheck.judge(obs([cc(80, 'in', 'reno', 10), cc(80, 'in', 'cubic', 2)], samples), cubic80, ctx);
    assert.equal(f?.status, 'drift');
    assert.equal(f?.actual, 'reno (10/12), cubic (2/12)');
    assert.match(f?.reason ?? '', /^10 of 12 new connections on port 80 did not use the declared cubic: 10 used reno /);
    assert.match(f?.reason ?? '', /net\.ipv4\.tcp_congestion_control/);
    const ev = f?.evidence as { samples: CongestionSample[]; byDirection: unknown[] };
    assert.equal(ev.samples.length, 5);
    assert.ok(ev.samples.every((s) => s.algorithm === 'reno' && s.local.endsWith(':80')), JSON.stringify(ev.samples));
    assert.deepEqual(ev.byDirection, [
      { direction: 'in', algorithm: 'reno', connections: 10 },
      { direction: 'in', algorithm: 'cubic', connections: 2 },
    ]);
  });

  it('unknown without connections on the port, saying so', () => {
    const [f] = congestionControlCheck.judge(obs([cc(8080, 'in', 'cubic', 5)]), cubic80, ctx);
    assert.equal(f?.status, 'unknown');
    assert.equal(f?.actual, null);
    assert.match(f?.reason ?? '', /no new TCP connections on port 80 during the 10\.0 s window/);
  });

  it('connections whose algorithm the kernel did not name are neither ok nor drift', () => {
    const [u] = congestionControlCheck.judge(obs([cc(80, 'in', 'unknown', 4)]), cubic80, ctx);
    assert.equal(u?.status, 'unknown');
    assert.match(u?.reason ?? '', /did not name the algorithm of any of the 4/);
    const [ok] = congestionControlCheck.judge(obs([cc(80, 'in', 'unknown', 1), cc(80, 'in', 'cubic', 3)]), cubic80, ctx);
    assert.equal(ok?.status, 'ok');
    assert.equal(ok?.actual, 'cubic (3/3)');
  });

  it('unknown when the agent ran without the congestion observer', () => {
    const [f] = congestionControlCheck.judge(obs([], [], ['wscale', 'stalls']), cubic80, ctx);
    assert.equal(f?.status, 'unknown');
    assert.equal(f?.reason, 'the agent did not observe congestion control (it ran without --observe congestion)');
  });

  it('the baseline accepts the declaration and refuses an algorithm name the kernel could not have', () => {
    assert.equal(behaviourSpecSchema.parse({ check: 'tcp.congestionControl', port: 80, algorithm: 'bbr' }).check, 'tcp.congestionControl');
    assert.equal(congestionControlSpec.safeParse({ check: 'tcp.congestionControl', port: 80, algorithm: 'Cubic; rm' }).success, false);
    assert.equal(congestionControlSpec.safeParse({ check: 'tcp.congestionControl', port: 80, algorithm: 'a'.repeat(16) }).success, false);
    assert.equal(congestionControlSpec.safeParse({ check: 'tcp.congestionControl', port: 80 }).success, false);
  });
});

describe('congestion observer byte layouts (bpf/tcp_cc.h)', () => {
  it('decodes a counter key and an event, the name up to its NUL, an empty name as unknown', () => {
    const key = Buffer.alloc(CC_KEY_SIZE);
    key.writeBigUInt64LE(4097n, 0);
    key.writeUInt16LE(80, 8);
    key.writeUInt8(2, 10);
    key.write('cubic', 16, 'latin1');
    assert.deepEqual(decodeCongestionKey(key), { netnsCookie: 4097n, port: 80, direction: 'in', algorithm: 'cubic' });
    key.fill(0, 16);
    assert.equal(decodeCongestionKey(key).algorithm, 'unknown');

    const ev = Buffer.alloc(CC_EVENT_SIZE);
    ev.writeBigUInt64LE(4097n, 0);
    ev.writeBigUInt64LE(123n, 8);
    ev.writeUInt8(4, 16);
    ev.writeUInt8(1, 17);
    ev.writeUInt16LE(40000, 18);
    ev.writeUInt16LE(80, 20);
    ev.write('reno', 24, 'latin1');
    Buffer.from([10, 0, 0, 1]).copy(ev, 40);
    Buffer.from([10, 0, 0, 10]).copy(ev, 56);
    assert.deepEqual(decodeCongestionEvent(ev), {
      netnsCookie: 4097n, tsNs: 123n, direction: 'out', localPort: 40000, remotePort: 80, algorithm: 'reno', localAddr: '10.0.0.1', remoteAddr: '10.0.0.10',
    });
    assert.throws(() => decodeCongestionEvent(ev.subarray(0, 40)), /expected 72/);
  });
});

describe('congestion observer metrics', () => {
  it('one counter per port, direction and algorithm (netns merged unless asked per netns), valid for promtool', () => {
    const o = obs([cc(80, 'in', 'reno', 3), { ...cc(80, 'in', 'reno', 2), netnsCookie: '5000' }, cc(80, 'out', 'cubic', 1)]);
    const text = renderMetrics([], { perNetns: false, droppedEvents: 0, parts: (w) => congestionObserver.metrics?.(o, w) });
    assert.match(text, /^# TYPE kdrift_tcp_congestion_connections_total counter$/m);
    assert.match(text, /^kdrift_tcp_congestion_connections_total\{port="80",direction="in",algorithm="reno"\} 5$/m);
    assert.match(text, /^kdrift_tcp_congestion_connections_total\{port="80",direction="out",algorithm="cubic"\} 1$/m);
    const per = renderMetrics([], { perNetns: true, droppedEvents: 0, parts: (w) => congestionObserver.metrics?.(o, w) });
    assert.match(per, /^kdrift_tcp_congestion_connections_total\{port="80",direction="in",algorithm="reno",netns="5000"\} 2$/m);
    // promtool lints the exposition (exit 0; it prints lint findings, none expected).
    assert.equal(execFileSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' }).trim(), '');
  });
});
