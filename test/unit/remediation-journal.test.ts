import assert from 'node:assert/strict';
import os from 'node:os';
import { decodeSnapshot } from '../../remediation/host-files.js';
import { staleReason, HostLock } from '../../remediation/lock.js';
import { journalSchema } from '../../remediation/journal.js';
import { samePlan, type RemediationPlan } from '../../remediation/host.js';
import { fleetExitCode } from '../../remediation/fleet.js';
import { verificationBaseline } from '../../remediation/verify.js';
import { fleetBaseline } from '../../stacks/baselines.js';
import type { HostEntry } from '../../core/inventory.js';

describe('remediation snapshot decoding', () => {
  it('decodes runtime values and byte-exact files with mode and owner, including bytes that are not UTF-8', () => {
    const bin = Buffer.from([0xff, 0x00, 0x0a, 0x41]);
    const out = Buffer.concat([
      Buffer.from('V 1\n1'),
      Buffer.from('M\n'),
      Buffer.from(`F 644 0 0 ${bin.length}\n`),
      bin,
      Buffer.from('A\n'),
      Buffer.from('L\n'),
    ]);
    const snap = decodeSnapshot(out, ['/proc/sys/a', '/proc/sys/b'], ['/etc/x', '/etc/y', '/etc/z']);
    assert.equal(snap.runtime.get('/proc/sys/a'), '1');
    assert.equal(snap.runtime.get('/proc/sys/b'), null);
    const x = snap.files.get('/etc/x');
    assert.ok(x && 'bytes' in x);
    assert.ok(x.bytes.equals(bin));
    assert.equal(x.mode, 0o644);
    assert.deepEqual(snap.files.get('/etc/y'), { absent: true });
    assert.deepEqual(snap.files.get('/etc/z'), { other: 'symlink' });
  });

  it('refuses output whose framing does not add up (a file that changed between stat and cat)', () => {
    assert.throws(() => decodeSnapshot(Buffer.from('F 644 0 0 10\nshort'), [], ['/etc/x']), /truncated/);
    assert.throws(() => decodeSnapshot(Buffer.from('F 644 0 0 2\nabc'), [], ['/etc/x']), /unexpected bytes/);
  });
});

describe('remediation lock staleness', () => {
  const owner = (pid: number, controller = os.hostname()) => ({ controller, pid, host: 'lb', since: new Date().toISOString(), run: 'abc' });

  it('a lock older than the stale age is taken over', () => {
    assert.match(staleReason(owner(1, 'elsewhere'), '{}', 11 * 60_000, 10 * 60_000) ?? '', /older than/);
  });

  it('a fresh lock held by a live process of another machine is respected', () => {
    assert.equal(staleReason(owner(process.pid, 'another-machine'), '{}', 1000, 10 * 60_000), undefined);
  });

  it('a lock whose owner is a dead process of this machine is stale at once', () => {
    assert.match(staleReason(owner(2 ** 22 + 12345), '{}', 1000, 10 * 60_000) ?? '', /is gone/);
  });

  it('a lock this very process left behind (session dropped before release) is stale; one it holds is not', () => {
    assert.match(staleReason(owner(process.pid), '{"not":"held"}', 1000, 10 * 60_000) ?? '', /left it behind/);
  });

  it('lock paths are per network namespace', () => {
    assert.equal(HostLock.pathFor('4026531840'), '/run/lock/kdrift-fix-net4026531840.lock');
  });
});

describe('remediation journal, plans and exit codes', () => {
  it('the journal schema accepts a journal and rejects an unknown status', () => {
    const doc = {
      version: 1,
      id: 'x',
      host: 'lb',
      netns: '1',
      createdAt: 'now',
      updatedAt: 'now',
      status: 'applying',
      controller: { hostname: 'h', pid: 1 },
      plans: [],
      records: [{ kind: 'sysctl', runtime: [{ key: 'a.b', before: '0', after: '1' }], files: [{ path: '/etc/x', existed: false, after: '' }] }],
      events: [],
    };
    assert.equal(journalSchema.safeParse(doc).success, true);
    assert.equal(journalSchema.safeParse({ ...doc, status: 'done' }).success, false);
  });

  it('plans are the same when their changes are, whenever they were made', () => {
    const p = (to: string, at: string): RemediationPlan => ({ host: 'lb', createdAt: at, plans: [{ kind: 'sysctl', runtime: [{ key: 'a.b', from: '0', to }], files: [], skipped: [], keys: ['a.b'] }] });
    assert.equal(samePlan(p('1', 'a'), p('1', 'b')), true);
    assert.equal(samePlan(p('1', 'a'), p('2', 'a')), false);
  });

  it('exit code: 0 verified / nothing to do, 2 when a host was not fixed, 1 when a host could not be planned', () => {
    const o = (status: Parameters<typeof fleetExitCode>[0][number]['status']) => ({ host: 'h', status, reasons: [], timings: { totalMs: 0 } });
    assert.equal(fleetExitCode([o('verified'), o('nothing-to-do')]), 0);
    assert.equal(fleetExitCode([o('verified'), o('rolled-back')]), 2);
    assert.equal(fleetExitCode([o('unfinished')]), 2);
    assert.equal(fleetExitCode([o('rolled-back'), o('error')]), 1);
    const blocked = { ...o('nothing-to-do'), plan: { host: 'h', createdAt: '', plans: [{ kind: 'sysctl', runtime: [], files: [], keys: [], skipped: [{ key: 'a.b', reason: 'masked', blocked: true }] }] } };
    assert.equal(fleetExitCode([blocked]), 2, 'a key kdrift may fix but cannot is not "nothing to do"');
    const manualOnly = { ...blocked, plan: { ...blocked.plan, plans: [{ ...blocked.plan.plans[0]!, skipped: [{ key: 'a.b', reason: 'policy manual' }] }] } };
    assert.equal(fleetExitCode([manualOnly]), 0, 'keys left alone by policy do not fail the run');
  });

  it('verification narrows the baseline to the fixed keys and the behaviours that depend on them, with a short window', () => {
    const lb: HostEntry = { name: 'lb', address: 'x', port: 22, user: 'root', roles: ['load-balancer'] };
    const v = verificationBaseline(fleetBaseline(), lb, ['net.ipv4.tcp_window_scaling'], { behaviourWindowMs: 1000 });
    const rb = v.roles['load-balancer'];
    assert.deepEqual([...(rb?.sysctls.keys() ?? [])], ['net.ipv4.tcp_window_scaling']);
    assert.deepEqual(rb?.behaviours.map((b) => [b.check, b.port, b.direction, b.window]), [['tcp.windowScaling', 80, 'in', 1000], ['tcp.windowScaling', 8080, 'out', 1000]]);
    const none = verificationBaseline(fleetBaseline(), lb, ['net.core.somaxconn']);
    assert.deepEqual(none.roles['load-balancer']?.behaviours, []);
  });
});
