import assert from 'node:assert/strict';
import { sysctlExpectationSchema } from '../../core/baseline.js';
import { targetValue, sameSysctlValue } from '../../remediation/target.js';

const exp = (raw: unknown) => sysctlExpectationSchema.parse(raw);

describe('remediation target values', () => {
  it('equals targets the declared value', () => {
    assert.equal(targetValue(exp({ equals: 1 }), '0'), '1');
  });

  it('oneOf targets the first listed value when the current one is not listed', () => {
    assert.equal(targetValue(exp({ oneOf: [1, 2] }), '0'), '1');
  });

  it('oneOf keeps a current value that is listed (nothing to change)', () => {
    assert.equal(targetValue(exp({ oneOf: [1, 2] }), '2'), '2');
  });

  it('min raises only the fields below their bound (tuples per field)', () => {
    assert.equal(targetValue(exp({ min: [4096, 131072, 6291456] }), '4096\t131072\t4194304'), '4096 131072 6291456');
    assert.equal(targetValue(exp({ min: [4096, 131072, 6291456] }), '8192 87380 16777216'), '8192 131072 16777216');
  });

  it('max lowers a scalar to the bound', () => {
    assert.equal(targetValue(exp({ max: 30 }), '60'), '30');
  });

  it('min and max clamp each field of a range into its bounds', () => {
    assert.equal(targetValue(exp({ min: [1024, 60000], max: [32768, 65535] }), '40000 50000'), '32768 60000');
  });

  it('without a usable current value, min/max targets the min bound (or max when only max)', () => {
    assert.equal(targetValue(exp({ min: [4096, 131072, 6291456] }), 'garbage'), '4096 131072 6291456');
    assert.equal(targetValue(exp({ max: 30 }), null), '30');
  });

  it('a preferred value that meets the expectation wins (runtime and boot end up agreeing)', () => {
    assert.equal(targetValue(exp({ min: 4096 }), '128', ['8192']), '8192');
    assert.equal(targetValue(exp({ min: 4096 }), '128', ['1024']), '4096');
  });

  it('sameSysctlValue compares field by field, tabs and spaces alike', () => {
    assert.equal(sameSysctlValue('4096\t131072\t6291456', '4096 131072 6291456'), true);
    assert.equal(sameSysctlValue('1', '0'), false);
    assert.equal(sameSysctlValue(null, '0'), false);
  });
});
