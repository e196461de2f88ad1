import assert from 'node:assert/strict';
import { parseBaseline } from '../../core/baseline.js';
import type { HostEntry } from '../../core/inventory.js';
import type { SysctlState } from '../../checks/sysctl-persisted.js';
import { planSysctlFix, declaredKeys, renderKdriftConf, neutralisedLine, KDRIFT_CONF } from '../../remediation/sysctl-plan.js';
import { resolveBoot, shapeOf } from '../../core/sysctl-rules/index.js';
import { treeOf, type TreeFile } from '../support/sysctl-tree.js';

const NOW = new Date('2026-11-25T12:00:00Z');
const host: HostEntry = { name: 'lb', address: '10.0.0.1', port: 22, user: 'root', roles: ['load-balancer'] };

function baselineWith(sysctls: Record<string, unknown>) {
  return parseBaseline({ roles: { 'load-balancer': { sysctls } } }, 'test');
}

function state(runtime: Record<string, string | null>, files: TreeFile[]): SysctlState {
  return { runtime: new Map(Object.entries(runtime)), runtimeErrors: new Map(), tree: treeOf(files) };
}

function plan(sysctls: Record<string, unknown>, st: SysctlState, opts: { includeManual?: boolean } = {}) {
  const declared = declaredKeys(host, baselineWith(sysctls));
  return planSysctlFix({ declared, state: st, ...opts }, NOW);
}

/** The files after the plan's writes, as a boot would read them (the plan's paths are the real files). */
function afterPlan(files: TreeFile[], p: ReturnType<typeof plan>['plan']): TreeFile[] {
  const out = files.map((f) => {
    const c = p.files.find((x) => x.path === (f.target ?? f.path));
    return c ? { ...f, content: c.after } : f;
  });
  for (const c of p.files) if (!out.some((f) => (f.target ?? f.path) === c.path)) out.push({ path: c.path, content: c.after });
  return out;
}

function bootValues(files: TreeFile[], key: string, runtime: string) {
  const b = resolveBoot(treeOf(files), new Map([[key, shapeOf(runtime)]])).get(key);
  return [b?.['systemd-sysctl'].value, b?.['sysctl --system'].value];
}

const WS = 'net.ipv4.tcp_window_scaling';

describe('remediation sysctl planning', () => {
  it('the outage: runtime 0 and a later hardening file → runtime write, kdrift file created, hardening line commented', () => {
    const hardening = { path: '/etc/sysctl.d/99-hardening.conf', content: `# hardening\n${WS}=0\nnet.ipv4.tcp_syncookies = 1` };
    const st = state({ [WS]: '0' }, [{ path: '/etc/sysctl.d/60-fleet.conf', content: `${WS} = 1` }, hardening]);
    const { plan: p } = plan({ [WS]: { equals: 1, remediation: 'auto' } }, st);
    assert.deepEqual(p.runtime, [{ key: WS, from: '0', to: '1' }]);
    assert.deepEqual(p.keys, [WS]);
    const kd = p.files.find((f) => f.path === KDRIFT_CONF);
    assert.ok(kd, 'kdrift file planned');
    assert.equal(kd.before, null);
    assert.match(kd.after, new RegExp(`^# Managed by kdrift[^\\n]*\\n(#[^\\n]*\\n)*${WS.replace(/\./g, '\\.')} = 1\\n$`));
    const hf = p.files.find((f) => f.path === hardening.path);
    assert.ok(hf, 'hardening file planned');
    assert.equal(hf.after, `# hardening\n# kdrift 2026-11-25: disabled, conflicts with declared ${WS} = 1; was: ${WS}=0\nnet.ipv4.tcp_syncookies = 1`);
    assert.match(hf.diff, /^-net\.ipv4\.tcp_window_scaling=0$/m);
    // The resolver agrees after the edits: kdrift's value is the effective one.
    assert.deepEqual(bootValues(afterPlan([{ path: '/etc/sysctl.d/60-fleet.conf', content: `${WS} = 1` }, hardening], p), WS, '0'), ['1', '1']);
  });

  it('a conflicting line in a file applied BEFORE kdrift\'s is left alone (it cannot override)', () => {
    const st = state({ [WS]: '0' }, [{ path: '/etc/sysctl.d/10-early.conf', content: `${WS} = 0` }]);
    const { plan: p } = plan({ [WS]: { equals: 1, remediation: 'auto' } }, st);
    assert.deepEqual(p.files.map((f) => f.path), [KDRIFT_CONF]);
  });

  it('/etc/sysctl.conf is applied last: its conflicting line is neutralised', () => {
    const st = state({ [WS]: '1' }, [{ path: '/etc/sysctl.conf', content: `${WS}=0` }, { path: '/etc/sysctl.d/99-sysctl.conf', target: '/etc/sysctl.conf', content: `${WS}=0` }]);
    const { plan: p } = plan({ [WS]: { equals: 1, remediation: 'auto' } }, st);
    assert.deepEqual(p.runtime, []);
    assert.deepEqual(p.files.map((f) => f.path).sort(), ['/etc/sysctl.conf', KDRIFT_CONF]);
  });

  it('a later line that already sets the target value is left alone', () => {
    const st = state({ [WS]: '0' }, [{ path: '/etc/sysctl.d/99-x.conf', content: `${WS}=1` }]);
    const { plan: p } = plan({ [WS]: { equals: 1, remediation: 'auto' } }, st);
    // persisted is already ok: only the runtime changes
    assert.deepEqual(p.runtime, [{ key: WS, from: '0', to: '1' }]);
    assert.deepEqual(p.files, []);
  });

  it('a symlinked file is edited through its target in /etc (the symlink stays)', () => {
    const st = state({ [WS]: '1' }, [{ path: '/etc/sysctl.d/99-link.conf', target: '/etc/kdrift-test/real.conf', content: `${WS}=0` }]);
    const { plan: p } = plan({ [WS]: { equals: 1, remediation: 'auto' } }, st);
    assert.ok(p.files.some((f) => f.path === '/etc/kdrift-test/real.conf'));
    assert.ok(!p.files.some((f) => f.path === '/etc/sysctl.d/99-link.conf'));
  });

  it('a vendor file is never edited: a same-named copy in /etc/sysctl.d shadows it', () => {
    const st = state({ [WS]: '0' }, [{ path: '/usr/lib/sysctl.d/99-vendor.conf', content: `a.b = 1\n${WS} = 0` }]);
    const { plan: p } = plan({ [WS]: { equals: 1, remediation: 'auto' } }, st);
    const shadow = p.files.find((f) => f.path === '/etc/sysctl.d/99-vendor.conf');
    assert.ok(shadow);
    assert.equal(shadow.before, null);
    assert.equal(shadow.shadowOf, '/usr/lib/sysctl.d/99-vendor.conf');
    assert.match(shadow.after, /\na\.b = 1\n# kdrift 2026-11-25: disabled/);
  });

  it('a symlink to a file outside /etc is refused: the key is skipped with the reason', () => {
    const st = state({ [WS]: '0' }, [{ path: '/etc/sysctl.d/99-x.conf', target: '/opt/x.conf', content: `${WS} = 0` }]);
    const { plan: p } = plan({ [WS]: { equals: 1, remediation: 'auto' } }, st);
    assert.deepEqual(p.runtime, []);
    assert.deepEqual(p.files, []);
    assert.match(p.skipped[0]?.reason ?? '', /outside \/etc/);
  });

  it('a masked kdrift file (-> /dev/null) is not unmasked: keys needing persistence are skipped', () => {
    const st = state({ [WS]: '0' }, [{ path: '/etc/sysctl.d/90-kdrift.conf', target: '/dev/null', content: '' }]);
    const { plan: p } = plan({ [WS]: { equals: 1, remediation: 'auto' } }, st);
    assert.deepEqual(p.runtime, []);
    assert.match(p.skipped[0]?.reason ?? '', /masked/);
  });

  it('policy manual is skipped unless includeManual; never is always skipped', () => {
    const st = state({ [WS]: '0', 'net.ipv4.tcp_sack': '0' }, []);
    const sysctls = { [WS]: { equals: 1, remediation: 'manual' }, 'net.ipv4.tcp_sack': { equals: 1, remediation: 'never' } };
    const a = plan(sysctls, st).plan;
    assert.deepEqual(a.keys, []);
    assert.equal(a.skipped.length, 2);
    const b = plan(sysctls, st, { includeManual: true }).plan;
    assert.deepEqual(b.keys, [WS]);
    assert.match(b.skipped.find((s) => s.key === 'net.ipv4.tcp_sack')?.reason ?? '', /never/);
  });

  it('runtime ok and nothing persisted is not a drift (as checks/sysctl judges it): nothing planned', () => {
    const { plan: p } = plan({ [WS]: { equals: 1, remediation: 'auto' } }, state({ [WS]: '1' }, []));
    assert.deepEqual(p.runtime, []);
    assert.deepEqual(p.files, []);
  });

  it('a key missing from /proc/sys is skipped with a reason, never written', () => {
    const { plan: p } = plan({ 'net.ipv4.nope': { equals: 1, remediation: 'auto' } }, state({ 'net.ipv4.nope': null }, []));
    assert.deepEqual(p.runtime, []);
    assert.match(p.skipped[0]?.reason ?? '', /not present/);
  });

  it('a second plan on the fixed state changes nothing (idempotent)', () => {
    const files = [{ path: '/etc/sysctl.d/99-hardening.conf', content: `${WS}=0` }];
    const { plan: first } = plan({ [WS]: { equals: 1, remediation: 'auto' } }, state({ [WS]: '0' }, files));
    const { plan: second } = plan({ [WS]: { equals: 1, remediation: 'auto' } }, state({ [WS]: '1' }, afterPlan(files, first)));
    assert.deepEqual(second.runtime, []);
    assert.deepEqual(second.files, []);
  });

  it('a glob line after kdrift does not need neutralising: an explicit line beats every glob', () => {
    const st = state({ 'net.ipv4.conf.all.rp_filter': '0' }, [{ path: '/etc/sysctl.d/99-glob.conf', content: 'net.ipv4.conf.*.rp_filter = 0' }]);
    const { plan: p } = plan({ 'net.ipv4.conf.all.rp_filter': { equals: 1, remediation: 'auto' } }, st);
    assert.deepEqual(p.files.map((f) => f.path), [KDRIFT_CONF]);
    assert.deepEqual(p.keys, ['net.ipv4.conf.all.rp_filter']);
  });

  it('with a report\'s findings, only the keys they show drifted are planned', () => {
    const st = state({ [WS]: '0', 'net.ipv4.tcp_sack': '0' }, []);
    const declared = declaredKeys(host, baselineWith({ [WS]: { equals: 1, remediation: 'auto' }, 'net.ipv4.tcp_sack': { equals: 1, remediation: 'auto' } }));
    const finding = { host: 'lb', check: 'sysctl', key: 'net.ipv4.tcp_sack', layer: 'runtime' as const, status: 'drift' as const, expected: '= 1', actual: '0', severity: 'high' as const };
    const d = planSysctlFix({ declared, state: st, findings: [finding] }, NOW);
    assert.deepEqual(d.decisions.map((k) => k.key), ['net.ipv4.tcp_sack']);
  });

  it('a negative match (-key) applied after kdrift is neutralised too', () => {
    const st = state({ [WS]: '0' }, [{ path: '/etc/sysctl.d/99-neg.conf', content: `-${WS}` }]);
    const { plan: p } = plan({ [WS]: { equals: 1, remediation: 'auto' } }, st);
    assert.ok(p.files.some((f) => f.path === '/etc/sysctl.d/99-neg.conf'));
  });
  it('a \\r-joined line: only the segment systemd reads as the conflicting line is disabled; its neighbour stays for both appliers', () => {
    const files = [{ path: '/etc/sysctl.d/99-harden.conf', content: `net.ipv4.tcp_timestamps = 1\r${WS} = 0\n` }];
    const { plan: p } = plan({ [WS]: { equals: 1, remediation: 'auto' } }, state({ [WS]: '0', 'net.ipv4.tcp_timestamps': '1' }, files));
    const hf = p.files.find((f) => f.path === '/etc/sysctl.d/99-harden.conf');
    assert.equal(hf?.after, `net.ipv4.tcp_timestamps = 1\r# kdrift 2026-11-25: disabled, conflicts with declared ${WS} = 1; was: ${WS} = 0\n`);
    const after = afterPlan(files, p);
    assert.deepEqual(bootValues(after, WS, '0'), ['1', '1']);
    assert.deepEqual(bootValues(after, 'net.ipv4.tcp_timestamps', '1'), bootValues(files, 'net.ipv4.tcp_timestamps', '1'));
  });

  it('sysctl.conf through its 99-sysctl.conf link, and a file sorting after it: both are neutralised so both appliers give the value', () => {
    const files = [
      { path: '/etc/sysctl.conf', content: `${WS} = 0\n` },
      { path: '/etc/sysctl.d/99-sysctl.conf', target: '/etc/sysctl.conf', content: `${WS} = 0\n` },
      { path: '/etc/sysctl.d/99-zz.conf', content: `${WS} = 0\n` },
    ];
    const { plan: p } = plan({ [WS]: { equals: 1, remediation: 'auto' } }, state({ [WS]: '1' }, files));
    assert.deepEqual(p.files.map((f) => f.path).sort(), ['/etc/sysctl.conf', '/etc/sysctl.d/90-kdrift.conf', '/etc/sysctl.d/99-zz.conf']);
    assert.deepEqual(bootValues(afterPlan(files, p), WS, '1'), ['1', '1']);
  });

  it('a key report leaves unknown (not persisted, runtime ok) is named and not changed', () => {
    const { plan: p } = plan({ [WS]: { equals: 1, remediation: 'auto' } }, state({ [WS]: '1' }, []));
    assert.deepEqual([p.runtime, p.files, p.keys], [[], [], []]);
    assert.match(p.skipped.find((s) => s.key === WS)?.reason ?? '', /left unknown, not changed: persisted: not persisted/);
  });
});

describe('remediation kdrift file and line neutralisation', () => {
  it('renders keys sorted under the managed-by header, keeping keys already there', () => {
    const a = renderKdriftConf(null, new Map([['net.ipv4.tcp_sack', '1'], ['net.core.somaxconn', '4096']]));
    const b = renderKdriftConf(a, new Map([['net.ipv4.tcp_window_scaling', '1']]));
    assert.match(b, /^# Managed by kdrift/);
    assert.deepEqual(b.split('\n').filter((l) => l && !l.startsWith('#')), ['net.core.somaxconn = 4096', 'net.ipv4.tcp_sack = 1', 'net.ipv4.tcp_window_scaling = 1']);
    assert.equal(renderKdriftConf(b, new Map([['net.ipv4.tcp_sack', '1']])), b, 'same content renders to the same bytes');
  });

  it('the marker names kdrift, the date, the declared value and the old line, escaping control bytes', () => {
    assert.equal(neutralisedLine(`${WS} = 0\x1b[2J`, WS, '1', NOW), `# kdrift 2026-11-25: disabled, conflicts with declared ${WS} = 1; was: ${WS} = 0\\x1b[2J`);
  });
});
