/** Completion and man page: generated from the CLI's help text, up to date, and accepted by bash and groff. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { COMPLETION_FILE, MAN_FILE, completionText, manText, optionsOf } from '../../scripts/gen-cli-docs.js';
import { command as report } from '../../cli/commands/report.js';

function complete(words: string[]): string[] {
  const script = `source ${JSON.stringify(COMPLETION_FILE)}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _kdrift; printf '%s\\n' "\${COMPREPLY[@]}"`;
  return execFileSync('bash', ['--norc', '-c', script]).toString().split('\n').filter(Boolean);
}

describe('bash completion and man page (scripts/gen-cli-docs.ts)', () => {
  it('contrib/ holds what the generator makes from the current help text (run it after changing a usage)', async () => {
    assert.equal(readFileSync(COMPLETION_FILE, 'utf8'), await completionText());
    assert.equal(readFileSync(MAN_FILE, 'utf8'), await manText());
  });
  it('completes commands, each command its own options, and --format its formats', () => {
    assert.deepEqual(complete(['kdrift', 're']), ['report']);
    const opts = complete(['kdrift', 'report', '--']);
    for (const o of optionsOf(report.usage)) assert.ok(opts.includes(o), o);
    assert.ok(opts.includes('--probe') && opts.includes('--fail-on'));
    assert.deepEqual(complete(['kdrift', 'report', '--format', 'j']), ['json', 'junit']);
  });
  it('the man page renders with groff -man -ww without a warning, exit codes included', () => {
    const out = execFileSync('groff', ['-man', '-Tutf8', '-ww', MAN_FILE], { stdio: ['ignore', 'pipe', 'pipe'] });
    const warnings = execFileSync('sh', ['-c', `groff -man -Tutf8 -ww ${JSON.stringify(MAN_FILE)} 2>&1 >/dev/null`]).toString();
    assert.equal(warnings, '');
    const text = out.toString().replace(/.\x08/g, '');
    assert.match(text, /EXIT STATUS/);
    assert.match(text, /64\s+usage error/);
    assert.match(text, /COMMAND: REPORT/);
  });
});
