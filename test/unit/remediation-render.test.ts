import assert from 'node:assert/strict';
import { renderPlan, renderOutcome } from '../../remediation/render.js';
import type { RemediationPlan, HostOutcome } from '../../remediation/host.js';
import type { SysctlPlan } from '../../remediation/sysctl.js';

const sysctlPlan: SysctlPlan = {
  kind: 'sysctl',
  runtime: [{ key: 'net.ipv4.tcp_rmem', from: '4096\t87380\t4194304', to: '4096 131072 6291456' }],
  files: [{ path: '/etc/sysctl.d/90-kdrift.conf', before: null, after: 'x\n', diff: '--- /dev/null\n+++ b/etc/sysctl.d/90-kdrift.conf\n@@ -0,0 +1 @@\n+x\n', why: 'persist' }],
  skipped: [{ key: 'net.ipv4.ip_local_port_range', reason: 'policy "manual"' }],
  keys: ['net.ipv4.tcp_rmem'],
  details: [
    {
      key: 'net.ipv4.tcp_rmem',
      expected: '>= 4096 131072 6291456',
      target: '4096 131072 6291456',
      runtime: '4096\t87380\t4194304',
      persisted: null,
      runtimeChanges: true,
      persistedChanges: true,
      neutralised: [],
    },
  ],
};
const plan: RemediationPlan = { host: 'lb', createdAt: '2026-11-25T12:00:00Z', plans: [sysctlPlan] };

describe('remediation text output', () => {
  it('a plan names each key with its runtime and persisted change, the skipped keys with why, and the diffs', () => {
    const text = renderPlan(plan);
    assert.match(text, /^lb: 1 runtime change, 1 file change$/m);
    assert.match(text, /net\.ipv4\.tcp_rmem {2}runtime 4096 87380 4194304 → 4096 131072 6291456; persisted nothing → 4096 131072 6291456/);
    assert.match(text, /skipped net\.ipv4\.ip_local_port_range: policy "manual"/);
    assert.match(text, /^ {2}\+\+\+ b\/etc\/sysctl\.d\/90-kdrift\.conf$/m);
  });

  it('an outcome says verified with the behaviours, or rolled back with the reasons and the journal', () => {
    const verified: HostOutcome = { host: 'lb', status: 'verified', plan, reasons: [], behaviours: ['tcp.windowScaling port 80'], journal: '/j.json', timings: { totalMs: 3100 } };
    assert.match(renderOutcome(verified), /^lb: applied and VERIFIED in 3\.1 s\n {2}net\.ipv4\.tcp_rmem: ok in runtime and persisted\n {2}behaviour ok: tcp\.windowScaling port 80\n/);
    const rolled: HostOutcome = { host: 'lb', status: 'rolled-back', reasons: ['apply failed: x'], journal: '/j.json', timings: { totalMs: 900 } };
    assert.match(renderOutcome(rolled), /NOT fixed: ROLLED BACK \(as it was\) in 0\.9 s\n {2}apply failed: x\n {2}journal: \/j\.json/);
  });

  it('fix names the keys the report leaves unknown (and changes nothing for them), in every outcome', () => {
    const unknownSysctl: SysctlPlan = { ...sysctlPlan, runtime: [], files: [], keys: [], details: [], skipped: [{ key: 'net.ipv4.tcp_sack', reason: 'left unknown, not changed: persisted: not persisted', unknown: true }] };
    const unknownPlan: RemediationPlan = { host: 'lb', createdAt: '2026-11-25T12:00:00Z', plans: [unknownSysctl] };
    const nothing: HostOutcome = { host: 'lb', status: 'nothing-to-do', plan: unknownPlan, reasons: [], timings: { totalMs: 5 } };
    assert.match(renderOutcome(nothing), /^lb: nothing to do\n {2}left unknown net\.ipv4\.tcp_sack: left unknown, not changed: persisted: not persisted\n/);
  });
});
