/**
 * The role merge has one owner (core/sysctl-rules/merge.ts): two roles of one host declaring one key differently are
 * an error naming both roles and the key — for the report (engine planHost), fix (remediation declaredKeys) and the
 * lab's provisioning alike, in either role order. Identical declarations merge. Never "last role wins".
 */
import assert from 'node:assert/strict';
import { parseBaseline } from '../../core/baseline.js';
import { KdriftError } from '../../core/errors.js';
import type { HostEntry } from '../../core/inventory.js';
import { planChecks } from '../../core/engine/index.js';
import { mergeRoleSysctls } from '../../core/sysctl-rules/index.js';
import { declaredKeys } from '../../remediation/sysctl-plan.js';
import { declaredSysctls } from '../../lab/provision.js';

const WS = 'net.ipv4.tcp_window_scaling';
const baseline = parseBaseline(
  {
    roles: {
      lb: { sysctls: { [WS]: { equals: 1, severity: 'critical' }, 'net.core.somaxconn': { min: 4096 } } },
      app: { sysctls: { [WS]: { equals: 1, severity: 'critical' } } },
      hardened: { sysctls: { [WS]: { equals: 0, severity: 'critical' } } },
    },
  },
  'test',
);
const host = (roles: string[]): HostEntry => ({ name: 'h1', address: '10.0.0.1', port: 22, user: 'root', roles });

function conflict(a: string, b: string) {
  return (e: unknown) => {
    assert.ok(e instanceof KdriftError, String(e));
    assert.match(e.message, new RegExp(`roles "${a}" and "${b}" declare ${WS.replaceAll('.', '\\.')} differently: "= 1" .* vs "= 0"|roles "${a}" and "${b}" declare ${WS.replaceAll('.', '\\.')} differently: "= 0" .* vs "= 1"`));
    return true;
  };
}

describe('role merge (one rule for report, fix and lab)', () => {
  it('two_roles_declaring_a_key_differently_is_an_error_naming_both_roles_and_the_key', () => {
    assert.throws(() => mergeRoleSysctls(['lb', 'hardened'], baseline, 'host h1'), conflict('lb', 'hardened'));
    assert.throws(() => mergeRoleSysctls(['hardened', 'lb'], baseline, 'host h1'), conflict('hardened', 'lb'), 'never last-wins, whatever the order');
  });
  it('report (engine), fix (remediation) and the lab all refuse it the same way', () => {
    assert.throws(() => planChecks(host(['lb', 'hardened']), baseline), conflict('lb', 'hardened'));
    assert.throws(() => declaredKeys(host(['lb', 'hardened']), baseline), conflict('lb', 'hardened'));
    assert.throws(() => declaredSysctls(['lb', 'hardened'], baseline), conflict('lb', 'hardened'));
  });
  it('identical_declarations_merge_into_one_key_naming_both_roles', () => {
    const merged = mergeRoleSysctls(['lb', 'app'], baseline, 'host h1');
    assert.deepEqual(merged.get(WS)?.roles, ['lb', 'app']);
    assert.equal(planChecks(host(['lb', 'app']), baseline).sysctls.size, 2);
    assert.deepEqual([...declaredSysctls(['lb', 'app'], baseline)], [[WS, '1'], ['net.core.somaxconn', '4096']]);
  });
  it('a role the baseline lacks is an error naming the host', () => {
    assert.throws(() => mergeRoleSysctls(['db'], baseline, 'host h1'), /host h1: has role "db", which the baseline does not declare/);
  });
});
