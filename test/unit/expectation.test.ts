import assert from 'node:assert/strict';
import { sysctlExpectationSchema } from '../../core/baseline.js';
import { meetsExpectation, describeExpectation } from '../../core/sysctl-rules/index.js';
import { normaliseSysctlKey, sysctlProcPath, parseSysctlKey } from '../../core/sysctl-key.js';

const exp = (raw: unknown) => sysctlExpectationSchema.parse(raw);

describe('sysctl expectations', () => {
  it('equals on a tuple sysctl compares every field, ignoring whitespace differences', () => {
    const e = exp({ equals: [4096, 131072, 6291456] });
    assert.equal(meetsExpectation(e, '4096\t131072   6291456\n'), true);
    assert.equal(meetsExpectation(e, '4096 131072'), false);
    assert.equal(meetsExpectation(e, '4096 87380 6291456'), false);
  });

  it('min on a tuple fails when any single field is below its bound', () => {
    const e = exp({ min: [4096, 131072, 6291456] });
    assert.equal(meetsExpectation(e, '4096 131072 6291456'), true);
    assert.equal(meetsExpectation(e, '8192 262144 16777216'), true);
    assert.equal(meetsExpectation(e, '4096 87380 16777216'), false);
  });

  it('min and max together bound each field of a range', () => {
    const e = exp({ min: [1024, 60000], max: [32768, 65535] });
    assert.equal(meetsExpectation(e, '32768 60999'), true);
    assert.equal(meetsExpectation(e, '1024 65535'), true);
    assert.equal(meetsExpectation(e, '40000 60999'), false);
    assert.equal(meetsExpectation(e, '1024 59999'), false);
  });

  it('a non-numeric actual never meets a numeric bound', () => {
    assert.equal(meetsExpectation(exp({ min: 1 }), 'abc'), false);
  });

  it('oneOf accepts any listed value', () => {
    const e = exp({ oneOf: [1, 2] });
    assert.equal(meetsExpectation(e, '2'), true);
    assert.equal(meetsExpectation(e, '0'), false);
    assert.equal(describeExpectation(e), 'one of 1 | 2');
  });

  it('describes bounds the way reports print them', () => {
    assert.equal(describeExpectation(exp({ min: [1024, 60000], max: [32768, 65535] })), '>= 1024 60000 and <= 32768 65535');
    assert.equal(describeExpectation(exp({ equals: '1' })), '= 1');
  });

  it('min greater than max is refused', () => {
    assert.throws(() => exp({ min: 10, max: 5 }), /min is greater than max/);
  });
});

describe('sysctl keys', () => {
  it('dotted and slashed forms normalise to the same key', () => {
    assert.equal(normaliseSysctlKey('net/ipv4/tcp_sack'), 'net.ipv4.tcp_sack');
    assert.equal(normaliseSysctlKey('net.ipv4.tcp_sack'), 'net.ipv4.tcp_sack');
  });

  it('a slashed key with a dotted interface name keeps the slashed form and the right /proc path', () => {
    assert.equal(normaliseSysctlKey('net/ipv4/conf/eth0.100/rp_filter'), 'net/ipv4/conf/eth0.100/rp_filter');
    assert.equal(sysctlProcPath('net/ipv4/conf/eth0.100/rp_filter'), '/proc/sys/net/ipv4/conf/eth0.100/rp_filter');
  });

  for (const [bad, why] of [
    ['/proc/sys/net/ipv4/tcp_sack', /absolute path/],
    ['net/../../etc/passwd', /contains "\.\."/],
    ['net.ipv4.TCP_SACK', /outside \[a-z0-9_.-\]/],
    ['net.ipv4.tcp sack', /outside/],
    ['net..ipv4', /contains "\.\."/],
    ['somaxconn', /at least two segments/],
    ['net/ipv4/', /empty segment/],
  ] as const) {
    it(`"${bad}" is refused with a reason`, () => {
      const r = parseSysctlKey(bad);
      assert.ok('error' in r, `expected an error for ${bad}`);
      assert.match(r.error, why);
    });
  }
});
