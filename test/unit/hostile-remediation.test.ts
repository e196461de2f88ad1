/**
 * Issue 13 (items 1, 5, 7, 8), the pure decisions: what kdrift may write, what reaches a terminal, which journal a
 * revert takes, which keys a namespace host may have fixed.
 */
import assert from 'node:assert/strict';
import { terminalSafe, terminalSafeLine } from '../../core/terminal-text.js';
import { oneLine } from '../../core/render/common.js';
import { renderPlan, renderOutcome, renderRevertPlan } from '../../remediation/render.js';
import type { RemediationPlan } from '../../remediation/host.js';
import type { SysctlPlan } from '../../remediation/sysctl.js';
import { ownershipProblems, decodeFacts, type PathFacts } from '../../remediation/ownership.js';
import { KDRIFT_CONF, KDRIFT_CONF_HEADER } from '../../remediation/sysctl-plan.js';
import { pickRevertJournal } from '../../remediation/revert.js';
import { isPerNetnsKey, machineWideReason } from '../../remediation/netns-scope.js';

const ESC = '\x1b';

describe('hostile hosts: the pure decisions', () => {
  describe('host text on a terminal', () => {
    it('control characters are shown as escapes; newlines kept only where the text is multi-line', () => {
      assert.equal(terminalSafe(`a${ESC}[2Jb\r\nc\x07\x9b\x7f\td`), 'a\\x1b[2Jb\\r\nc\\x07\\x9b\\x7f\\td');
      assert.equal(terminalSafeLine('a\nb'), 'a\\nb');
      assert.equal(oneLine(`x${ESC}[31my\nz`), 'x\\x1b[31my / z');
      assert.equal(terminalSafe('plain → text ü'), 'plain → text ü');
    });

    it('a fix plan with an escape sequence in a file name, a line and a value prints no raw control character', () => {
      const evil = `/etc/sysctl.d/99-${ESC}[2J${ESC}[H.conf`;
      const p: SysctlPlan = {
        kind: 'sysctl',
        runtime: [{ key: 'net.ipv4.tcp_sack', from: `0${ESC}]0;pwned\x07`, to: '1' }],
        files: [{ path: evil, before: `net.ipv4.tcp_sack=0 ${ESC}[8m\n`, after: '# x\n', diff: `--- a${evil}\n+++ b${evil}\n@@ -1 +1 @@\n-net.ipv4.tcp_sack=0 ${ESC}[8m\n+# x\n`, why: 'w' }],
        skipped: [{ key: 'net.ipv4.x', reason: `host said ${ESC}[2K` }],
        keys: ['net.ipv4.tcp_sack'],
        details: [
          {
            key: 'net.ipv4.tcp_sack',
            expected: '= 1',
            target: '1',
            runtime: `0${ESC}]0;pwned\x07`,
            persisted: { value: '0', source: `${evil}:1` },
            runtimeChanges: true,
            persistedChanges: true,
            neutralised: [{ file: evil, line: 1, text: `net.ipv4.tcp_sack=0 ${ESC}[8m` }],
          },
        ],
      };
      const plan: RemediationPlan = { host: 'lb', createdAt: '2026-12-02T00:00:00Z', plans: [p] };
      const text = renderPlan(plan) + renderOutcome({ host: 'lb', status: 'rolled-back', plan, reasons: [`apply failed: ${ESC}[2J`], timings: { totalMs: 1 } });
      // eslint-disable-next-line no-control-regex
      assert.doesNotMatch(text, /[\x00-\x09\x0b-\x1f\x7f-\x9f]/);
      assert.match(text, /99-\\x1b\[2J\\x1b\[H\.conf/);
    });
  });

  describe('ownership: what kdrift may write', () => {
    const header = `${KDRIFT_CONF_HEADER.join('\n')}\n`;
    const own = (f: Partial<PathFacts>): PathFacts => ({ path: KDRIFT_CONF, kind: 'file', realDir: '/etc/sysctl.d', head: header, ...f });

    it('its own file: absent or with its header may be written', () => {
      assert.deepEqual(ownershipProblems([own({ kind: 'absent' })], [KDRIFT_CONF]), []);
      assert.deepEqual(ownershipProblems([own({})], [KDRIFT_CONF]), []);
    });

    it('90-kdrift.conf as a symlink (to /etc/passwd) is refused whatever the plan writes; a /dev/null mask is left to the planner', () => {
      const link = own({ kind: 'symlink', linkTarget: '/etc/passwd' });
      assert.match(ownershipProblems([link, { path: '/etc/passwd', kind: 'file', realDir: '/etc', head: 'root:x' }], ['/etc/passwd']).join(), /90-kdrift\.conf is a symlink \(to \/etc\/passwd\): kdrift writes only its own regular file and never through a link/);
      assert.deepEqual(ownershipProblems([own({ kind: 'symlink', linkTarget: '/dev/null' })], []), []);
    });

    it('90-kdrift.conf without kdrift\'s header is someone else\'s: never overwritten', () => {
      assert.match(ownershipProblems([own({ head: 'net.ipv4.tcp_sack = 1\n' })], [KDRIFT_CONF]).join(), /is not kdrift's .* never overwrites a file it does not own/);
    });

    it('neutralised files: regular, under /etc, through no symlinked directory', () => {
      const f = (p: string, x: Partial<PathFacts> = {}): PathFacts => ({ path: p, kind: 'file', realDir: p.slice(0, p.lastIndexOf('/')), ...x });
      assert.deepEqual(ownershipProblems([own({ kind: 'absent' }), f('/etc/sysctl.conf')], ['/etc/sysctl.conf']), []);
      assert.match(ownershipProblems([f('/usr/lib/sysctl.d/50-x.conf')], ['/usr/lib/sysctl.d/50-x.conf']).join(), /not under \/etc/);
      assert.match(ownershipProblems([f('/etc/sysctl.d/99-x.conf', { kind: 'symlink', linkTarget: '/etc/shadow' })], ['/etc/sysctl.d/99-x.conf']).join(), /is a symlink \(to \/etc\/shadow\): kdrift never writes through a link/);
      assert.match(ownershipProblems([f('/etc/sysctl.d/99-x.conf', { realDir: '/srv/elsewhere' })], ['/etc/sysctl.d/99-x.conf']).join(), /resolves to \/srv\/elsewhere \(a symlinked directory\)/);
    });

    it('decodes the host script\'s framing (lengths, not separators: names may hold newlines)', () => {
      const out = Buffer.from(`L 13\n/etc/sysctl.d11\n/etc/passwdF 4\n/etc3\na\nbA 13\n/etc/sysctl.d`);
      assert.deepEqual(decodeFacts(out, [KDRIFT_CONF, '/etc/x\ny', '/etc/sysctl.d/z']), [
        { path: KDRIFT_CONF, kind: 'symlink', realDir: '/etc/sysctl.d', linkTarget: '/etc/passwd' },
        { path: '/etc/x\ny', kind: 'file', realDir: '/etc', head: 'a\nb' },
        { path: '/etc/sysctl.d/z', kind: 'absent', realDir: '/etc/sysctl.d' },
      ]);
    });
  });

  describe('which journal --revert takes (newest first)', () => {
    const j = (id: string, status: string) => ({ path: `/var/lib/kdrift/journal/${id}.json`, doc: { id, status: status as never } });

    it('the newest verified fix, passing over rolled-back and reverted ones', () => {
      assert.deepEqual(pickRevertJournal([j('n-3', 'rolled-back'), j('n-2', 'reverted'), j('n-1', 'verified')]), { path: '/var/lib/kdrift/journal/n-1.json' });
      assert.deepEqual(pickRevertJournal([j('n-2', 'reverting'), j('n-1', 'verified')]), { path: '/var/lib/kdrift/journal/n-2.json' }, 'a half-done revert is finished first');
    });

    it('an older fix while a newer one is in effect is refused, naming the newer one', () => {
      assert.match((pickRevertJournal([j('n-2', 'verified'), j('n-1', 'verified')], 'n-1') as { refuse: string }).refuse, /n-1 is not the newest fix in effect: .*n-2\.json \(verified\) came after it/);
    });

    it('an unfinished fix in the way asks for --undo; nothing verified says so', () => {
      assert.match((pickRevertJournal([j('n-2', 'applied'), j('n-1', 'verified')]) as { refuse: string }).refuse, /run kdrift fix --undo first/);
      assert.deepEqual(pickRevertJournal([j('n-1', 'rolled-back')]), { none: 'no verified fix to revert on this host' });
      assert.match((pickRevertJournal([j('n-1', 'reverted')], 'n-1.json') as { refuse: string }).refuse, /is reverted: there is nothing of it to revert/);
    });
  });

  describe('keys a network-namespace host may have fixed', () => {
    it('only per-netns keys: net.* except the machine-wide ones', () => {
      for (const k of ['net.ipv4.tcp_window_scaling', 'net.core.somaxconn', 'net.ipv4.tcp_rmem', 'net.ipv6.conf.all.forwarding']) assert.equal(isPerNetnsKey(k), true, k);
      for (const k of ['kernel.randomize_va_space', 'vm.swappiness', 'fs.file-max', 'net.core.rmem_max', 'net.core.netdev_max_backlog', 'net.ipv4.tcp_mem', 'net.netfilter.nf_conntrack_max']) assert.equal(isPerNetnsKey(k), false, k);
      assert.match(machineWideReason('kernel.x', 'its netns differs'), /^kernel\.x is machine-wide .* fix it on the machine itself$/);
    });
  });

  it('a revert plan names the journal, what is restored and where a changed file is kept', () => {
    const text = renderRevertPlan({
      host: 'lb',
      createdAt: '2026-12-02T00:00:00Z',
      journal: '/var/lib/kdrift/journal/1-x.json',
      journalId: '1-x',
      fixedAt: '2026-12-01T00:00:00Z',
      runtime: [{ key: 'net.ipv4.tcp_sack', now: '1', to: '0', changedSince: false }],
      files: [{ path: KDRIFT_CONF, action: 'remove', changedSince: true, saveAs: `${KDRIFT_CONF}.kdrift-saved-20261202T000000000Z`, diff: '--- a\n+++ b\n' }],
    });
    assert.match(text, /^lb: revert the fix of 2026-12-01T00:00:00Z \(journal \/var\/lib\/kdrift\/journal\/1-x\.json\): 1 runtime value, 1 file$/m);
    assert.match(text, /net\.ipv4\.tcp_sack {2}runtime 1 → 0/);
    assert.match(text, /remove \(kdrift created it\); changed since the fix, the current file is kept as \/etc\/sysctl\.d\/90-kdrift\.conf\.kdrift-saved-/);
  });
});
