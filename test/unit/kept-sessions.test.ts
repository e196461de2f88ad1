/**
 * report --every's kept connections (core/engine/kept-sessions.ts) through the engine: a second run reuses each
 * host's session, a session that died between runs is replaced (the host is checked, not reported down), and
 * closeAll closes them. Local sessions on sysctl fixture trees, as in engine.test.ts.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseBaseline } from '../../core/baseline.js';
import { KeptSessions, runChecks } from '../../core/engine/index.js';
import type { HostEntry } from '../../core/inventory.js';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/sysctl');
const baseline = parseBaseline({ roles: { lb: { sysctls: { 'net.ipv4.tcp_window_scaling': { equals: 1, severity: 'critical' } } } } }, 'kept-sessions.test baseline');
const host = (name: string): HostEntry => ({ name, address: '127.0.0.1', port: 22, user: 'root', roles: ['lb'], local: true });
const hosts = [host('lb1'), host('lb2')];
const run = (kept: KeptSessions) =>
  runChecks({ inventory: {}, baseline, hosts, sessionOptions: {}, concurrency: 2, keptSessions: kept, sysctlRoot: (h) => path.join(FIXTURES, h.name === 'lb1' ? 'correct_value.ok' : 'wrong_runtime.drift') });

describe('kept sessions (report --every)', () => {
  it('second_run_reuses_sessions_and_a_dead_one_is_replaced_not_reported_down', async () => {
    const kept = new KeptSessions({});
    try {
      const first = await run(kept);
      assert.deepEqual(first.hosts.map((h) => h.status), ['ok', 'drift']);
      assert.equal(kept.size, 2);
      const s1 = (await kept.get(hosts[0] as HostEntry)).session;
      const again = await kept.get(hosts[0] as HostEntry);
      assert.equal(again.session, s1);
      assert.equal(again.fresh, false);
      await s1.close(); // the connection dropped between runs
      const second = await run(kept);
      assert.deepEqual(second.hosts.map((h) => [h.name, h.status]), [['lb1', 'ok'], ['lb2', 'drift']]);
      const now = await kept.get(hosts[0] as HostEntry);
      assert.notEqual(now.session, s1, 'the dead session was replaced');
      assert.equal(kept.size, 2);
    } finally {
      await kept.closeAll();
    }
    assert.equal(kept.size, 0);
  });
});
