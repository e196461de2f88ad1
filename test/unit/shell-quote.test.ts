import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { quoteArg, quoteArgv } from '../../core/shell-quote.js';
import { KdriftError } from '../../core/errors.js';
import { HOSTILE_STRINGS } from '../support/shell-quote-hostile.js';


/** Runs `printf '%s\0' <quoted args>` in a real shell and returns the words it received. */
function roundTrip(shell: string, args: readonly string[]): string[] {
  const script = quoteArgv(['printf', '%s\\0', ...args]);
  const res = spawnSync(shell, ['-c', script], { encoding: 'utf8', cwd: '/' });
  assert.equal(res.status, 0, `${shell} failed: ${res.stderr}`);
  const words = res.stdout.split('\0');
  assert.equal(words.pop(), '', 'output ends with a NUL');
  return words;
}

describe('shell-quote: quoteArgv', () => {
  const shells = ['/bin/sh', '/bin/dash', '/bin/bash', '/bin/zsh', '/bin/ksh'].filter((s) => existsSync(s));

  for (const shell of shells) {
    it(`every hostile string round-trips unchanged through ${shell} -c`, () => {
      // Empty-string args produce empty words; printf with no args after the format would still print once, so we
      // always pass the whole list together.
      assert.deepEqual(roundTrip(shell, HOSTILE_STRINGS), [...HOSTILE_STRINGS]);
    });

    it(`each hostile string alone round-trips through ${shell} -c (no interplay hides a bug)`, () => {
      for (const s of HOSTILE_STRINGS) assert.deepEqual(roundTrip(shell, [s]), [s], JSON.stringify(s));
    });
  }

  it('leaves plain words readable and quotes everything else', () => {
    assert.equal(quoteArg('net.ipv4.tcp_window_scaling'), 'net.ipv4.tcp_window_scaling');
    assert.equal(quoteArg('/proc/sys/net/ipv4/tcp_sack'), '/proc/sys/net/ipv4/tcp_sack');
    assert.equal(quoteArg('-n'), '-n');
    assert.equal(quoteArg(''), "''");
    assert.equal(quoteArg('a b'), "'a b'");
    assert.equal(quoteArg("it's"), "'it'\\''s'");
    assert.equal(quoteArg('=ls'), "'=ls'");
    assert.equal(quoteArg('~'), "'~'");
  });

  it('always quotes the command word, so a name like "time" or "if" is a command, not shell syntax', () => {
    assert.equal(quoteArgv(['time', 'x']), "'time' x");
    const res = spawnSync('/bin/bash', ['-c', quoteArgv(['if', 'true'])], { encoding: 'utf8' });
    assert.equal(res.status, 127, 'bash looked for a command named "if" instead of parsing an if-statement');
  });

  it('rejects a NUL byte with an error that says why', () => {
    assert.throws(() => quoteArgv(['printf', 'a\0b']), (err: unknown) => err instanceof KdriftError && /NUL byte/.test(err.message));
    assert.throws(() => quoteArgv(['a\0']), /NUL byte/);
  });

  it('rejects a lone UTF-16 surrogate, which cannot be sent as UTF-8', () => {
    assert.throws(() => quoteArgv(['echo', 'x\uD800y']), /lone surrogate/);
    assert.equal(quoteArg('\uD83D\uDE42'), "'\uD83D\uDE42'");
  });

  it('rejects an empty argv', () => {
    assert.throws(() => quoteArgv([]), /empty command/);
  });

  it('rejects a non-string element (a number smuggled in through untyped data)', () => {
    assert.throws(() => quoteArgv(['echo', 42 as unknown as string]), /argv elements are strings/);
  });
});
