/**
 * Issue 13 (items 3, 6): every input bounded, data never names code. Each case is an input a hostile inventory, ignore
 * file or known_hosts could hold, and the clear error (or the bounded result) kdrift must give.
 */
import assert from 'node:assert/strict';
import { spawnSync, execFileSync } from 'node:child_process';
import { lstatSync, mkdtempSync, mkdirSync, rmSync, writeFileSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { wildcardMatch } from '../../core/glob.js';
import { readInputFile, MAX_INPUT_FILE_BYTES } from '../../core/input-file.js';
import { loadInventory, parseInventory } from '../../core/inventory.js';
import { parseDurationMs, MAX_DURATION_MS } from '../../core/duration.js';
import { sessionOptionsFromArgs } from '../../core/sessions.js';
import { effectiveTimeout, MAX_TIMER_MS } from '../../core/session-defaults.js';
import { StdoutCap, StderrTail } from '../../core/session-output.js';
import { KnownHostsFile } from '../../core/known-hosts.js';
import { writeFileAtomicLocal } from '../../cli/commands/report.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Runs `expr` (an expression over the module's exports `m`) in a child: a hang is a failure after 10 s, not a hung suite. */
function inChild(module: string, expr: string): { ok: boolean; out: string } {
  const code = `const m = await import(${JSON.stringify(path.join(REPO, module))}); console.log(JSON.stringify(${expr}));`;
  const res = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: REPO, timeout: 10_000, encoding: 'utf8' });
  return { ok: res.status === 0, out: `${res.stdout}${res.stderr}${res.error ? String(res.error) : ''}` };
}

describe('hostile inputs: bounded, regular files only, data is data', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'kdrift-hostile-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  describe('wildcard matching (.kdriftignore keys, known_hosts patterns)', () => {
    it('matches like the regular expression it replaced, on every pattern/value pair of a small alphabet', () => {
      const words = ['', 'a', 'b', 'ab', 'ba', 'aab', 'abab', 'net.ipv4.tcp_sack', 'net.ipv4.', '.'];
      const pats = ['', '*', '?', 'a*', '*a', 'a?b', '*b*', '**a**', 'a*b*a', 'net.*', 'net.ipv4.tcp_*', '*.*', '?*?', 'ab'];
      for (const p of pats) {
        const re = new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 's');
        for (const w of words) assert.equal(wildcardMatch(p, w), re.test(w), `${JSON.stringify(p)} vs ${JSON.stringify(w)}`);
      }
    });

    it('a key of 40 "*" against a near-miss name returns (no exponential backtracking) — suppressions and known_hosts', () => {
      const pattern = `${'*'.repeat(40)}x`.replace(/\*/g, '*a');
      const value = 'a'.repeat(100);
      const ignore = inChild('core/suppressions.ts', `m.globMatches(${JSON.stringify(pattern)}, ${JSON.stringify(value)})`);
      assert.ok(ignore.ok, `globMatches did not finish within 10 s: ${ignore.out}`);
      assert.equal(ignore.out.trim(), 'false');
      const kh = inChild('core/known-hosts.ts', `m.matchWildcard(${JSON.stringify(value)}, ${JSON.stringify(pattern)})`);
      assert.ok(kh.ok, `matchWildcard did not finish within 10 s: ${kh.out}`);
      assert.equal(kh.out.trim(), 'false');
    });
  });

  describe('input files', () => {
    it('a named pipe as inventory is refused at once, naming the file (it used to hang)', async function () {
      this.timeout(5000);
      const fifo = path.join(dir, 'inv.fifo');
      execFileSync('mkfifo', [fifo]);
      await assert.rejects(loadInventory({ inventory: fifo }), (err: Error) => err.message === `${fifo}: not a regular file (a named pipe); kdrift reads only regular files`);
    });

    it('a directory is refused naming it', async () => {
      await assert.rejects(readInputFile(dir), /not a regular file \(a directory\)/);
    });

    it('an inventory larger than the cap is refused before it is parsed, naming the file and the limit', async () => {
      const big = path.join(dir, 'big.yaml');
      writeFileSync(big, `hosts:\n${'  # padding padding padding padding padding padding padding padding\n'.repeat(Math.ceil((MAX_INPUT_FILE_BYTES + 10) / 66))}`);
      await assert.rejects(loadInventory({ inventory: big }), (err: Error) => err.message.startsWith(`${big}: file is `) && err.message.endsWith(`bytes, more than the ${MAX_INPUT_FILE_BYTES}-byte limit for input files`));
    });

    it('a symlink to a regular file is read (users link their inventories)', async () => {
      writeFileSync(path.join(dir, 'real.yaml'), 'hosts:\n  - {name: a, address: 10.0.0.1, roles: [x]}\n');
      symlinkSync(path.join(dir, 'real.yaml'), path.join(dir, 'link.yaml'));
      assert.equal((await loadInventory({ inventory: path.join(dir, 'link.yaml') })).hosts[0]?.name, 'a');
    });
  });

  describe('data never names code', () => {
    for (const [label, text, shown] of [
      ['an inventory', 'baseline: ./x.mjs\nhosts:\n  - {name: a, address: 10.0.0.1, roles: [x]}\n', 'baseline'],
      ['a Pulumi stack config', 'config:\n  kdrift:baseline: ./x.ts\n  kdrift:hosts:\n    - {name: a, address: 10.0.0.1, roles: [x]}\n', 'config.kdrift:baseline'],
    ] as const) {
      it(`${label} naming a baseline module is refused naming the file and the field`, () => {
        const file = path.join(dir, 'Pulumi.x.yaml');
        assert.throws(
          () => parseInventory(text, file),
          (err: Error) => err.message.startsWith(`${file}: ${shown}: "`) && /is not a YAML or JSON file .* pass a baseline module with --baseline/.test(err.message),
        );
      });
    }

    it('an inventory may still name a YAML or JSON baseline', () => {
      const inv = parseInventory('baseline: ./roles.yaml\nhosts:\n  - {name: a, address: 10.0.0.1, roles: [x]}\n', path.join(dir, 'inv.yaml'));
      assert.equal(inv.baseline, path.join(dir, 'roles.yaml'));
    });
  });

  describe('--accept-new-host-keys appends only to a known_hosts file', () => {
    const key = Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from('ssh-ed25519'), Buffer.from([0, 0, 0, 32]), Buffer.alloc(32, 7)]);

    it('a file that is not known_hosts (passwd-like) is refused and left byte-identical', async () => {
      const f = path.join(dir, 'passwd');
      const text = 'root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n';
      writeFileSync(f, text);
      await assert.rejects(new KnownHostsFile(f).append('lb', key), /passwd: 2 of its 2 lines are not known_hosts entries .* --accept-new-host-keys appends only to a regular known_hosts file/);
      assert.equal(readFileSync(f, 'utf8'), text);
    });

    it('a symlink (even to a real known_hosts) is refused and its target untouched', async () => {
      const real = path.join(dir, 'kh-real');
      writeFileSync(real, '');
      const link = path.join(dir, 'kh-link');
      symlinkSync(real, link);
      await assert.rejects(new KnownHostsFile(link).append('lb', key), /kh-link: is a symlink; --accept-new-host-keys appends only/);
      assert.equal(readFileSync(real, 'utf8'), '');
    });

    it('an absent or empty file, or a real known_hosts, gets the line', async () => {
      const f = path.join(dir, 'sub', 'known_hosts');
      await new KnownHostsFile(f).append('lb', key);
      assert.match(readFileSync(f, 'utf8'), /^lb ssh-ed25519 /);
      await new KnownHostsFile(f).append('app', key);
      assert.equal(readFileSync(f, 'utf8').split('\n').filter(Boolean).length, 2);
    });
  });

  describe('local temp files (report --output)', () => {
    it('are created exclusively with an unpredictable name: links planted at the old predictable names are never followed', async () => {
      const out = path.join(dir, 'out');
      mkdirSync(out);
      const victim = path.join(dir, 'victim');
      writeFileSync(victim, 'precious\n');
      // The old name was .<file>.<pid>.<Date.now()>.tmp: plant a link for every millisecond of the next 2 s.
      const now = Date.now();
      for (let ms = now; ms < now + 2000; ms++) symlinkSync(victim, path.join(out, `.report.json.${process.pid}.${ms}.tmp`));
      await writeFileAtomicLocal(path.join(out, 'report.json'), '{"report":1}\n');
      assert.equal(readFileSync(victim, 'utf8'), 'precious\n');
      assert.equal(readFileSync(path.join(out, 'report.json'), 'utf8'), '{"report":1}\n');
      assert.ok(!lstatSync(path.join(out, 'report.json')).isSymbolicLink());
    });
  });

  describe('durations and timers', () => {
    it('--connect-timeout 600h is a clear error (it used to arm a 1 ms timer)', () => {
      assert.throws(() => sessionOptionsFromArgs({ 'connect-timeout': '600h' }, {}), (err: Error) => err.message === '--connect-timeout must be a positive duration of at most 24h (e.g. 10s, 500ms, 2m), got "600h"');
      assert.equal(parseDurationMs('600h'), undefined);
      assert.equal(parseDurationMs('24h'), MAX_DURATION_MS);
    });

    it('a timeout above what a timer holds is clamped, never wrapped to 1 ms', () => {
      assert.equal(effectiveTimeout(600 * 3_600_000, undefined), MAX_TIMER_MS);
      assert.equal(effectiveTimeout(undefined, 30_000), 30_000);
      assert.equal(effectiveTimeout(0, 30_000), undefined);
    });
  });

  describe('command output caps', () => {
    it('stdout beyond the cap is refused whole (nothing kept)', () => {
      const cap = new StdoutCap(10);
      assert.equal(cap.push(Buffer.from('12345')), true);
      assert.equal(cap.push(Buffer.from('123456')), false);
      assert.equal(cap.overflowed, true);
      assert.equal(cap.result().length, 0);
    });

    it('50 MB of stderr keeps only the last 64 KiB, with a line saying how much was cut', () => {
      const tail = new StderrTail(64 * 1024);
      const chunk = Buffer.alloc(1024 * 1024, 'x');
      for (let i = 0; i < 50; i++) tail.push(chunk);
      tail.push(Buffer.from('the real reason\n'));
      const out = tail.result();
      assert.ok(out.length < 64 * 1024 + 100, `kept ${out.length} bytes`);
      assert.match(out.toString('utf8'), /^\[kdrift: \d+ earlier bytes of stderr not kept\]\n/);
      assert.ok(out.toString('utf8').endsWith('the real reason\n'));
    });
  });
});
