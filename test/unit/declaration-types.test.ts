/**
 * A bad declaration is a compile error where TypeScript can see it: each `@ts-expect-error` below must meet an error,
 * or `npm run typecheck` (tsconfig.test.json) fails. At run time the same values are refused by the provider's Check
 * (core/baseline.ts schemas), which this file checks too, so the two stay in step.
 */
import assert from 'node:assert/strict';
import type { RoleDeclaration, SysctlExpectationArgs, BehaviourArgs } from '../../stacks/roles/types.js';
import { parseHostInputs } from '../../stacks/provider/inputs.js';

const bad: { name: string; sysctls?: Record<string, unknown>; behaviours?: unknown[] }[] = [];

// @ts-expect-error equals and min together
const both: SysctlExpectationArgs = { equals: 1, min: 4 };
bad.push({ name: 'equals and min', sysctls: { 'net.core.somaxconn': both } });
// @ts-expect-error a severity that does not exist
const urgent: SysctlExpectationArgs = { min: 4096, severity: 'urgent' };
bad.push({ name: 'severity', sysctls: { 'net.core.somaxconn': urgent } });
// @ts-expect-error a remediation policy that does not exist
const sometimes: SysctlExpectationArgs = { equals: 1, remediation: 'sometimes' };
bad.push({ name: 'remediation', sysctls: { 'net.ipv4.tcp_sack': sometimes } });
// @ts-expect-error tcp.windowScaling takes minShare, not max
const wrongThreshold: BehaviourArgs = { check: 'tcp.windowScaling', port: 80, max: 3 };
bad.push({ name: 'threshold', behaviours: [wrongThreshold] });
// @ts-expect-error a check kind that does not exist
const noSuchCheck: BehaviourArgs = { check: 'tcp.latency', port: 80, minShare: 0.9 };
bad.push({ name: 'check kind', behaviours: [noSuchCheck] });
const role = {
  // @ts-expect-error a key that is not a sysctl key (no dot or slash)
  sysctls: { somaxconn: { min: 4096 } },
  behaviours: [],
} satisfies RoleDeclaration;
bad.push({ name: 'key', sysctls: role.sysctls });

const good = {
  sysctls: { 'net.ipv4.tcp_window_scaling': { equals: 1, severity: 'critical', remediation: 'auto' }, 'net.ipv4.tcp_rmem': { min: [4096, 131072, 6291456] } },
  behaviours: [{ check: 'tcp.windowScaling', port: 80, minShare: 0.99, window: '10s', dependsOn: ['net.ipv4.tcp_window_scaling'] }],
} as const satisfies RoleDeclaration;

describe('declaration types (stacks/roles/types.ts) and the provider Check agree', () => {
  const base = { host: 'lb1', address: '10.0.0.1', roles: ['load-balancer'] };

  it('what compiles is accepted', () => {
    const res = parseHostInputs(JSON.parse(JSON.stringify({ ...base, ...good })));
    assert.equal(res.ok, true, JSON.stringify(res));
  });

  for (const b of bad) {
    it(`what does not compile is refused at run time too: ${b.name}`, () => {
      const res = parseHostInputs(JSON.parse(JSON.stringify({ ...base, sysctls: b.sysctls ?? good.sysctls, behaviours: b.behaviours ?? [] })));
      assert.equal(res.ok, false);
    });
  }
});
