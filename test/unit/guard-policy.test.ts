/** The declared baseline → the sysctl guard's kernel rules, and the byte layouts shared with bpf/sysctl_guard.h. */
import assert from 'node:assert/strict';
import { sysctlExpectationSchema } from '../../core/baseline.js';
import { compilePolicy, compileRule } from '../../gate/policy.js';
import { decodeGuardEvent, encodeRule, encodeSysctlName, EVENT_SIZE, INT64_MAX, INT64_MIN, RULE_SIZE } from '../../probe/guard-codec.js';

const exp = (raw: unknown) => sysctlExpectationSchema.parse(raw);

describe('guard policy compiler', () => {
  it('compiles equals and oneOf of integers into sets, tuples field by field', () => {
    assert.deepEqual(compileRule(exp({ equals: 1 })), { kind: 'set', alternatives: [[1n]] });
    assert.deepEqual(compileRule(exp({ oneOf: [1, 2] })), { kind: 'set', alternatives: [[1n], [2n]] });
    assert.deepEqual(compileRule(exp({ equals: [4096, 131072, 6291456] })), { kind: 'set', alternatives: [[4096n, 131072n, 6291456n]] });
  });

  it('compiles min/max into per-field ranges, an open side as the 64-bit extreme', () => {
    assert.deepEqual(compileRule(exp({ min: [1024, 60000], max: [32768, 65535] })), { kind: 'range', min: [1024n, 60000n], max: [32768n, 65535n] });
    assert.deepEqual(compileRule(exp({ max: 30 })), { kind: 'range', min: [INT64_MIN], max: [30n] });
    assert.deepEqual(compileRule(exp({ min: 4096 })), { kind: 'range', min: [4096n], max: [INT64_MAX] });
  });

  it('compiles non-integer values into texts in the forms writers use, and says what it cannot enforce', () => {
    assert.deepEqual(compileRule(exp({ equals: 'bbr' })), { kind: 'text', texts: ['bbr', 'bbr\n'] });
    assert.match((compileRule(exp({ oneOf: ['a', 'b', 'c'] })) as { why: string }).why, /at most 2 non-integer values/);
    assert.match((compileRule(exp({ oneOf: [1, 2, 3, 4, 5] })) as { why: string }).why, /at most 4/);
    assert.match((compileRule(exp({ equals: 'x'.repeat(70) })) as { why: string }).why, /longer than/);
    assert.match((compileRule(exp({ min: '99999999999999999999' })) as { why: string }).why, /within 64 bits/);
    const p = compilePolicy(new Map([['net.ipv4.tcp_sack', exp({ equals: 1 })], ['kernel.core_pattern', exp({ equals: 'y'.repeat(80) })]]));
    assert.deepEqual(p.rules.map((r) => r.name), ['net/ipv4/tcp_sack']);
    assert.deepEqual(p.notEnforced.map((n) => n.key), ['kernel.core_pattern']);
  });

  it('names keys as bpf_sysctl_get_name does: relative to /proc/sys, slashed, NUL-padded to 128 bytes', () => {
    const p = compilePolicy(new Map([['net/ipv4/conf/eth0.1/rp_filter', exp({ equals: 1 })]]));
    assert.equal(p.rules[0]?.name, 'net/ipv4/conf/eth0.1/rp_filter');
    const b = encodeSysctlName('net/ipv4/tcp_sack');
    assert.equal(b.length, 128);
    assert.equal(b.subarray(0, 17).toString(), 'net/ipv4/tcp_sack');
    assert.ok(b.subarray(17).every((x) => x === 0));
  });

  it('lays rules out as struct kd_sg_rule', () => {
    const b = encodeRule({ kind: 'set', alternatives: [[1n, 2n], [3n, 4n]] });
    assert.equal(b.length, RULE_SIZE);
    assert.deepEqual([b[0], b[1], b[2]], [2, 2, 2]);
    assert.equal(b.readBigInt64LE(8 + 64 + 0), 1n);
    assert.equal(b.readBigInt64LE(8 + 64 + 8), 2n);
    assert.equal(b.readBigInt64LE(8 + 64 + 32), 3n); // alternative 1 starts after MAX_FIELDS slots
    assert.equal(b.readBigInt64LE(8), INT64_MIN); // a set never trips the range test
    const t = encodeRule({ kind: 'text', texts: ['bbr', 'bbr\n'] });
    assert.equal(t.subarray(8 + 64 + 128, 8 + 64 + 128 + 3).toString(), 'bbr');
    assert.equal(t.subarray(8 + 64 + 128 + 64, 8 + 64 + 128 + 68).toString(), 'bbr\n');
  });

  it('decodes struct kd_sg_event', () => {
    const b = Buffer.alloc(EVENT_SIZE);
    b.writeBigUInt64LE(5n, 0);
    b.writeBigUInt64LE(77n, 8);
    b.writeUInt32LE(11, 16);
    b.writeUInt32LE(10, 20);
    b.writeUInt32LE(9, 24);
    b.writeUInt32LE(4026531840, 28);
    b.writeUInt8(1, 36); // policy
    b.writeUInt8(8 | 16, 37); // protected, denied
    b.write('sysctl', 48);
    b.write('harden.sh', 64);
    b.write('net/ipv4/tcp_window_scaling', 80);
    b.write('1\n', 208);
    b.write('0\n', 336);
    const e = decodeGuardEvent(b);
    assert.deepEqual(
      { pid: e.pid, tgid: e.tgid, ppid: e.ppid, netns: e.netns, verdict: e.verdict, denied: e.denied, prot: e.protected, comm: e.comm, p: e.parentComm, name: e.name, o: e.oldValue, n: e.newValue, cg: e.cgroupId },
      { pid: 11, tgid: 10, ppid: 9, netns: 4026531840, verdict: 'policy', denied: true, prot: true, comm: 'sysctl', p: 'harden.sh', name: 'net/ipv4/tcp_window_scaling', o: '1\n', n: '0\n', cg: 77n },
    );
    b.writeUInt8(2, 37);
    assert.equal(decodeGuardEvent(b).oldValue, null);
  });
});
