import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { unifiedDiff } from '../../remediation/diff.js';

/** Applies our diff with GNU patch to prove it is a real unified diff (patch is part of the base system here). */
function patchApplies(before: string, after: string, diff: string): boolean {
  const dir = mkdtempSync(path.join(tmpdir(), 'kdrift-diff-'));
  try {
    const file = path.join(dir, 'f.conf');
    writeFileSync(file, before);
    execFileSync('patch', ['-s', file], { input: diff.replace(/^\\ No newline.*\n/gm, '') });
    return execFileSync('cat', [file]).toString() === after;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('remediation unified diff', () => {
  it('identical contents give an empty diff', () => {
    assert.equal(unifiedDiff('/etc/x', 'a\n', 'a\n'), '');
  });

  it('a new file is a diff from /dev/null with every line added', () => {
    const d = unifiedDiff('/etc/sysctl.d/90-kdrift.conf', null, 'a\nb\n');
    assert.equal(d, '--- /dev/null\n+++ b/etc/sysctl.d/90-kdrift.conf\n@@ -0,0 +1,2 @@\n+a\n+b\n');
  });

  it('one changed line in a long file shows 3 lines of context and correct ranges', () => {
    const lines = Array.from({ length: 20 }, (_, i) => `k${i} = ${i}`);
    const before = `${lines.join('\n')}\n`;
    const changed = [...lines];
    changed[10] = '# kdrift: disabled';
    const after = `${changed.join('\n')}\n`;
    const d = unifiedDiff('/etc/f', before, after);
    assert.match(d, /^--- a\/etc\/f\n\+\+\+ b\/etc\/f\n@@ -8,7 \+8,7 @@\n/);
    assert.match(d, /\n-k10 = 10\n\+# kdrift: disabled\n/);
    assert.equal(patchApplies(before, after, d), true);
  });

  it('changes far apart become separate hunks, and patch(1) applies them', () => {
    const lines = Array.from({ length: 30 }, (_, i) => `line ${i}`);
    const after = [...lines];
    after[2] = 'changed 2';
    after[25] = 'changed 25';
    after.splice(27, 0, 'inserted');
    const d = unifiedDiff('/etc/f', `${lines.join('\n')}\n`, `${after.join('\n')}\n`);
    assert.equal((d.match(/^@@ /gm) ?? []).length, 2);
    assert.equal(patchApplies(`${lines.join('\n')}\n`, `${after.join('\n')}\n`, d), true);
  });
});
