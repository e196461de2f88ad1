/**
 * Report and fix agree key by key: every scenario of the persisted-sysctl fixture corpus (test/fixtures/sysctl), read
 * by the real collection script, goes through report's judge (checks/sysctl.ts) and fix's planner
 * (remediation/sysctl-plan.ts). fix plans a key only when report calls it drift (or says why it cannot: could-not-fix),
 * names every key report leaves unknown, and never touches a key report calls ok. A planned fix, applied to the tree,
 * makes both boot appliers give the target and report say ok.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalSession } from '../../core/session-local.js';
import { parseBaseline } from '../../core/baseline.js';
import { normaliseSysctlValue } from '../../core/sysctl-key.js';
import type { HostEntry } from '../../core/inventory.js';
import { collectSysctlState, type SysctlState } from '../../checks/sysctl-persisted.js';
import { judgeSysctl, observeSysctl } from '../../checks/sysctl.js';
import { declaredKeys, planSysctlFix } from '../../remediation/sysctl-plan.js';
import type { KindPlan } from '../../remediation/kind.js';
import { bytesFromText, withFileContents, type SysctlTree } from '../../core/sysctl-rules/index.js';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/sysctl');
const NOW = new Date('2026-11-25T12:00:00Z');
const host: HostEntry = { name: 'fixture', address: '127.0.0.1', port: 22, user: 'root', roles: ['r'] };

/** The tree a boot would read after the plan's file writes. */
function applyPlan(tree: SysctlTree, plan: KindPlan): SysctlTree {
  return withFileContents(tree, new Map(plan.files.map((f) => [bytesFromText(f.path), bytesFromText(f.after)])));
}

describe('report and fix agree on the fixture corpus, key by key (unknown included)', () => {
  const names = readdirSync(FIXTURES).filter((n) => !n.startsWith('.')).sort();
  for (const name of names) {
    it(name, async () => {
      const sc = JSON.parse(readFileSync(path.join(FIXTURES, name, 'scenario.json'), 'utf8')) as { key: string; expectation: Record<string, unknown> };
      const baseline = parseBaseline({ roles: { r: { sysctls: { [sc.key]: { ...sc.expectation, remediation: 'auto' } } } } }, name);
      const declared = declaredKeys(host, baseline);
      const session = new LocalSession('fixture');
      let state: SysctlState;
      try {
        state = await collectSysctlState(session, [sc.key], { root: path.join(FIXTURES, name) });
      } finally {
        await session.close();
      }
      const specs = new Map([...declared].map(([k, d]) => [k, d.exp]));
      const report = judgeSysctl(observeSysctl(state, specs.keys()), specs, host.name);
      const { plan } = planSysctlFix({ declared, state, host: host.name }, NOW);

      const statuses = report.filter((f) => f.key === sc.key).map((f) => f.status);
      const drift = statuses.includes('drift');
      const unknown = !drift && statuses.includes('unknown');
      const planned = plan.keys.includes(sc.key);
      const skipped = plan.skipped.find((s) => s.key === sc.key);
      const touched = planned || plan.runtime.some((r) => r.key === sc.key) || plan.files.length > 0;

      if (drift) assert.ok(planned || skipped?.blocked, `report says drift: fix must plan it or say it cannot (${JSON.stringify(plan.skipped)})`);
      else assert.ok(!touched, `report says ${statuses.join('/')}: fix must change nothing, planned ${JSON.stringify(plan)}`);
      if (unknown) assert.ok(skipped && !skipped.blocked, `report leaves it unknown: fix must name it (${JSON.stringify(plan.skipped)})`);
      if (!drift && !unknown) assert.equal(skipped, undefined);

      if (planned) {
        const target = normaliseSysctlValue(plan.runtime.find((r) => r.key === sc.key)?.to ?? (state.runtime.get(sc.key) as string));
        const fixed = observeSysctl({ ...state, runtime: new Map([[sc.key, target]]), tree: applyPlan(state.tree, plan) }, [sc.key]);
        const boot = fixed.boot.get(sc.key);
        assert.equal(boot?.['systemd-sysctl'].value, target, 'systemd-sysctl gives the target after the fix');
        assert.equal(boot?.['sysctl --system'].value, target, 'sysctl --system gives the target after the fix');
        assert.deepEqual(judgeSysctl(fixed, specs, host.name).map((f) => f.status), ['ok', 'ok'], 'report says ok after the fix');
        const again = planSysctlFix({ declared, state: { ...state, runtime: new Map([[sc.key, target]]), tree: applyPlan(state.tree, plan) }, host: host.name }, NOW);
        assert.deepEqual([again.plan.runtime, again.plan.files], [[], []], 'a second fix changes nothing');
      }
    });
  }
});
