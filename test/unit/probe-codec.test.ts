import assert from 'node:assert/strict';
import {
  decodeCounterKey,
  decodeStallValues,
  decodeWscaleEvent,
  encodeConfig,
  decodeWscaleSlot,
  endpoint,
  formatAddr,
  sumPerCpuU64,
} from '../../probe/codec.js';
import { findCgroup2Mount } from '../../probe/cgroup.js';
import { parseConnectTarget } from '../../probe/connect.js';

/** Builds a struct kd_ws_event the way the kernel lays it out (bpf/tcp_wscale.h). */
function wsEvent(f: { family: 4 | 6; dir: number; ok: number; snd: number; rcv: number; lo: number; po: number; out: number; lport: number; rport: number; laddr: number[]; raddr: number[] }): Buffer {
  const b = Buffer.alloc(64);
  b.writeBigUInt64LE(4097n, 0);
  b.writeBigUInt64LE(123456789n, 8);
  b.writeUInt8(f.family, 16);
  b.writeUInt8(f.dir, 17);
  b.writeUInt8(f.ok, 18);
  b.writeUInt8(f.snd, 19);
  b.writeUInt8(f.rcv, 20);
  b.writeUInt8(f.lo, 21);
  b.writeUInt8(f.po, 22);
  b.writeUInt8(f.out, 23);
  b.writeUInt16LE(f.lport, 24);
  b.writeUInt16LE(f.rport, 26);
  Buffer.from(f.laddr).copy(b, 32);
  Buffer.from(f.raddr).copy(b, 48);
  return b;
}

describe('probe codec (byte layouts shared with bpf/*.h)', () => {
  it('decodes an IPv4 passive connection that the local side refused to scale', () => {
    const e = decodeWscaleEvent(wsEvent({ family: 4, dir: 2, ok: 0, snd: 0, rcv: 0, lo: 0, po: 1, out: 1, lport: 80, rport: 51234, laddr: [10, 73, 1, 1], raddr: [10, 73, 1, 2] }));
    assert.equal(e.netnsCookie, 4097n);
    assert.equal(e.direction, 'in');
    assert.equal(e.wscaleOk, false);
    assert.equal(e.localOffered, 'no');
    assert.equal(e.peerOffered, 'yes');
    assert.equal(e.outcome, 'local');
    assert.equal(endpoint(e.localAddr, e.localPort), '10.73.1.1:80');
    assert.equal(endpoint(e.remoteAddr, e.remotePort), '10.73.1.2:51234');
  });

  it('decodes an IPv6 active connection with shifts and an unknown peer offer', () => {
    const lo6 = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    const e = decodeWscaleEvent(wsEvent({ family: 6, dir: 1, ok: 1, snd: 7, rcv: 10, lo: 1, po: 2, out: 0, lport: 40000, rport: 443, laddr: lo6, raddr: lo6 }));
    assert.equal(e.direction, 'out');
    assert.equal(e.sndWscale, 7);
    assert.equal(e.rcvWscale, 10);
    assert.equal(e.peerOffered, 'unknown');
    assert.equal(e.outcome, 'negotiated');
    assert.equal(endpoint(e.remoteAddr, e.remotePort), '[::1]:443');
  });

  it('rejects a truncated event instead of reading garbage', () => {
    assert.throws(() => decodeWscaleEvent(Buffer.alloc(40)), /40 bytes, expected 64/);
  });

  it('formats v4-mapped and compressed IPv6 addresses', () => {
    assert.equal(formatAddr(Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1]), 6), '10.0.0.1');
    assert.equal(formatAddr(Buffer.from([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]), 6), '2001:db8::1');
    assert.equal(formatAddr(Buffer.from([0xfe, 0x80, 0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7]), 6), 'fe80:1:2:3:4:5:6:7');
  });

  it('decodes counter keys and sums per-CPU values', () => {
    const k = Buffer.alloc(16);
    k.writeBigUInt64LE(99n, 0);
    k.writeUInt16LE(8080, 8);
    k.writeUInt8(2, 10);
    k.writeUInt8(2, 11);
    assert.deepEqual(decodeCounterKey(k), { netnsCookie: 99n, port: 8080, direction: 'in', outcome: 'peer', own: false });
    k.writeUInt8(1, 12);
    assert.equal(decodeCounterKey(k).own, true, "byte 12 tags the agent's own test connections");
    const v = Buffer.alloc(24);
    v.writeBigUInt64LE(1n, 0);
    v.writeBigUInt64LE(2n, 8);
    v.writeBigUInt64LE(40n, 16);
    assert.equal(sumPerCpuU64(v), 43n);
  });

  it('sums stall counters field by field across CPUs', () => {
    const v = Buffer.alloc(128);
    for (let f = 0; f < 8; f++) {
      v.writeBigUInt64LE(BigInt(f + 1), f * 8);
      v.writeBigUInt64LE(BigInt(10 * (f + 1)), 64 + f * 8);
    }
    assert.deepEqual(decodeStallValues(v), {
      zeroWindowSent: 11,
      zeroWindowReceived: 22,
      zeroWindowProbesSent: 33,
      zeroWindowProbesReceived: 44,
      retransmits: 55,
      dataSegmentsOut: 66,
      segmentsIn: 77,
    });
  });

  it('encodes the filter config as struct kd_cfg, clamping the sample shift', () => {
    const b = encodeConfig({ netnsCookie: 0x1122n, ports: [80, 8080], events: 2, sampleShift: 99, ownFilter: true });
    assert.equal(b.length, 32);
    assert.deepEqual([...b.subarray(0, 8)], [1, 1, 2, 15, 1, 2, 0, 0]);
    assert.equal(b.readBigUInt64LE(8), 0x1122n);
    assert.deepEqual([b.readUInt16LE(16), b.readUInt16LE(18), b.readUInt16LE(20)], [80, 8080, 0]);
  });

  it('decodes a kd_ws_slots index as KD_WS_SLOT(port index, passive, outcome, own) lays it out', () => {
    const slot = (portIdx: number, passive: number, outcome: number, own: number) => (((portIdx * 2 + passive) * 4 + outcome) * 2) + own;
    assert.deepEqual(decodeWscaleSlot(slot(1, 1, 2, 1), [80, 8080], 7n), { netnsCookie: 7n, port: 8080, direction: 'in', outcome: 'peer', own: true });
    assert.deepEqual(decodeWscaleSlot(slot(0, 0, 0, 0), [80, 8080], 7n), { netnsCookie: 7n, port: 80, direction: 'out', outcome: 'negotiated', own: false });
    assert.deepEqual(decodeWscaleSlot(slot(0, 1, 1, 0), [443], 7n)?.outcome, 'local');
    assert.equal(decodeWscaleSlot(slot(2, 0, 0, 0), [80, 8080], 7n), undefined);
  });

  it('leaves more ports than fit inline to the port map, and no filter for every netns and port', () => {
    const many = encodeConfig({ ports: [1, 2, 3, 4, 5, 6, 7, 8, 9], events: 0, sampleShift: 0 });
    assert.deepEqual([...many.subarray(0, 8)], [0, 2, 0, 0, 0, 0, 0, 0]);
    assert.ok(many.subarray(8).every((x) => x === 0));
    const none = encodeConfig({ ports: [], events: 3, sampleShift: 0 });
    assert.deepEqual([...none.subarray(0, 8)], [0, 0, 3, 0, 0, 0, 0, 0]);
  });
});

describe('probe host discovery and arguments', () => {
  it('finds the cgroup v2 mount wherever /proc/mounts puts it, decoding escapes', () => {
    const mounts = [
      'tmpfs /sys/fs/cgroup tmpfs rw 0 0',
      'cgroup /sys/fs/cgroup/cpu cgroup rw,cpu 0 0',
      'cgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0',
    ].join('\n');
    assert.equal(findCgroup2Mount(mounts), '/sys/fs/cgroup/unified');
    assert.equal(findCgroup2Mount('none /mnt/my\\040cg cgroup2 rw 0 0\n'), '/mnt/my cg');
    assert.equal(findCgroup2Mount('cgroup /sys/fs/cgroup/cpu cgroup rw 0 0\n'), undefined);
  });

  it('parses --connect targets and refuses malformed ones', () => {
    assert.deepEqual(parseConnectTarget('127.0.0.1:80'), { host: '127.0.0.1', port: 80 });
    assert.deepEqual(parseConnectTarget('[::1]:8080'), { host: '::1', port: 8080 });
    assert.deepEqual(parseConnectTarget('app1.lab:8080'), { host: 'app1.lab', port: 8080 });
    for (const bad of ['127.0.0.1', '127.0.0.1:0', 'host:70000', '::1:80', 'a b:80', '-x:1']) {
      assert.throws(() => parseConnectTarget(bad), /is not HOST:PORT/, bad);
    }
  });
});
