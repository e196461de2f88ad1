/**
 * LocalSession (this machine, no SSH) and the session plumbing in core/sessions.ts.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { HostError, KdriftError } from '../../core/errors.js';
import { HostFileError } from '../../core/host-file-error.js';
import { LocalSession } from '../../core/session-local.js';
import { openSession, sessionOptionsFromArgs } from '../../core/sessions.js';
import { HOSTILE_STRINGS } from '../support/shell-quote-hostile.js';

describe('LocalSession', () => {
  let dir: string;
  let s: LocalSession;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'kdrift-local-'));
  });
  beforeEach(() => {
    s = new LocalSession('here', { commandTimeoutMs: 20_000 });
  });
  afterEach(() => s.close());
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('passes argv to the program untouched (no shell): hostile strings arrive as they are', async () => {
    const res = await s.exec(['printf', '%s\\0', ...HOSTILE_STRINGS]);
    assert.equal(res.stdout.toString('utf8'), HOSTILE_STRINGS.map((x) => `${x}\0`).join(''));
  });

  it('passes stdin and reports exit code and stderr', async () => {
    const res = await s.exec(['sh', '-c', 'cat; echo err >&2; exit 4'], { stdin: 'in put' });
    assert.deepEqual([res.code, res.stdout.toString(), res.stderr.toString()], [4, 'in put', 'err\n']);
  });

  it('a missing command exits 127 like a remote shell would', async () => {
    const res = await s.exec(['kdrift-no-such-command', 'x']);
    assert.equal(res.code, 127);
    assert.match(res.stderr.toString(), /command not found/);
  });

  it('a timeout kills the whole process group (children too) and names host, command and timeout', async () => {
    const marker = `32.${process.pid}`;
    const t0 = performance.now();
    await assert.rejects(s.exec(['sh', '-c', `sleep ${marker} & sleep ${marker}; wait`], { timeoutMs: 500 }), (err: unknown) => {
      assert.ok(err instanceof HostError);
      assert.match(err.message, /^host here: command timed out after 500ms \(killed\): 'sh' -c /);
      return true;
    });
    assert.ok(performance.now() - t0 < 1500);
    await new Promise((r) => setTimeout(r, 100));
    const left = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).split('\n').filter((l) => l.trim() === `sleep ${marker}`);
    assert.deepEqual(left, []);
  });

  it('converse keeps one process per argv: replies split across writes arrive whole; a timeout kills its group; an exit fails naming it; the next call starts it again', async () => {
    const echo = ['sh', '-c', 'while read -r l; do printf "%s-" "$l"; sleep 0.05; printf "%s end\\n" "$l"; done; echo gone >&2'];
    assert.equal((await s.converse(echo, 'a\n', 'a end\n')).stdout.toString(), 'a-a end\n');
    assert.equal((await s.converse(echo, 'b\n', 'b end\n')).stdout.toString(), 'b-b end\n');
    const marker = `31.${process.pid}`;
    const slow = ['sh', '-c', `read -r l; sleep ${marker}`];
    await assert.rejects(s.converse(slow, 'x\n', 'never\n', { timeoutMs: 300 }), (err: unknown) => err instanceof HostError && /timed out after 300ms/.test(err.message));
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).split('\n').filter((l) => l.trim() === `sleep ${marker}`), []);
    const exits = ['sh', '-c', 'read -r l; echo bye >&2; exit 3'];
    await assert.rejects(s.converse(exits, 'x\n', 'never\n'), (err: unknown) => err instanceof HostError && /exited \(code 3\)/.test(err.message) && /bye/.test(err.message));
    await assert.rejects(s.converse(exits, 'x\n', 'never\n'), /exited \(code 3\)/); // started again, exits again
    assert.equal((await s.converse(echo, 'c\n', 'c end\n')).stdout.toString(), 'c-c end\n');
  });

  it('readFile of a missing file is a HostFileError ENOENT', async () => {
    await assert.rejects(s.readFile(path.join(dir, 'nope')), (err: unknown) => err instanceof HostFileError && err.code === 'ENOENT');
  });

  it('writeFileAtomic keeps the existing mode, writes exact bytes and leaves no temp file', async () => {
    const d = mkdtempSync(path.join(dir, 'w-'));
    const f = path.join(d, 'conf');
    writeFileSync(f, 'old');
    chmodSync(f, 0o600);
    await s.writeFileAtomic(f, Buffer.from([0, 1, 2, 255]));
    assert.deepEqual([...readFileSync(f)], [0, 1, 2, 255]);
    assert.equal(statSync(f).mode & 0o7777, 0o600);
    await s.writeFileAtomic(path.join(d, 'fresh'), 'x');
    assert.equal(statSync(path.join(d, 'fresh')).mode & 0o7777, 0o644);
    assert.deepEqual(readdirSync(d).sort(), ['conf', 'fresh']);
  });

  it('writeFileAtomic never writes through a symlink: refused naming the host and file, link and target untouched', async () => {
    const d = mkdtempSync(path.join(dir, 'l-'));
    writeFileSync(path.join(d, 'sysctl.conf'), 'a=1\n');
    symlinkSync('sysctl.conf', path.join(d, '99-sysctl.conf'));
    await assert.rejects(s.writeFileAtomic(path.join(d, '99-sysctl.conf'), 'a=2\n'), (err: unknown) => err instanceof HostError && /^host here: refusing to write .*99-sysctl\.conf: it is a symlink/.test(err.message));
    assert.ok(lstatSync(path.join(d, '99-sysctl.conf')).isSymbolicLink());
    assert.equal(readFileSync(path.join(d, 'sysctl.conf'), 'utf8'), 'a=1\n');
    assert.deepEqual(readdirSync(d).sort(), ['99-sysctl.conf', 'sysctl.conf'], 'no temp file left');
  });

  it('a NUL in argv or a relative / NUL path is a HostError naming the host (a rejection, not a throw)', async () => {
    const p = s.exec(['printf', 'a\0b']);
    assert.ok(p instanceof Promise);
    await assert.rejects(p, (err: unknown) => err instanceof HostError && /^host here: cannot run command: .*NUL byte/.test(err.message));
    await assert.rejects(s.readFile('etc/hostname'), /host here: file path must be absolute/);
    await assert.rejects(s.writeFileAtomic('/tmp/a\0b', 'x'), /host here: file path contains a NUL byte/);
  });

  it('a command printing 3 GB is killed at the stdout cap with a clear error (the controller keeps its memory)', async () => {
    const t0 = Date.now();
    await assert.rejects(s.exec(['head', '-c', '3000000000', '/dev/zero']), (err: unknown) => err instanceof HostError && /^host here: command printed more than 67108864 bytes on stdout \(the limit\) \(killed\): 'head'/.test(err.message));
    assert.ok(Date.now() - t0 < 30_000);
  });

  it('50 MB of stderr comes back as its last 64 KiB, saying how much was cut', async () => {
    const res = await s.exec(['sh', '-c', 'head -c 50000000 /dev/zero | tr "\\0" x >&2; echo the end >&2; exit 3']);
    assert.equal(res.code, 3);
    assert.ok(res.stderr.length < 65 * 1024, `${res.stderr.length} bytes`);
    assert.match(res.stderr.toString('utf8'), /^\[kdrift: \d+ earlier bytes of stderr not kept\]\nx+the end\n$/);
  });

  it('readFile refuses a file past its limit, and what is not a regular file, naming them', async () => {
    const big = path.join(dir, 'big');
    writeFileSync(big, Buffer.alloc(2048));
    await assert.rejects(s.readFile(big, { maxBytes: 1024 }), new RegExp(`^HostError: host here: cannot read ${big}: it is 2048 bytes, more than the 1024-byte limit$`));
    await assert.rejects(s.readFile(dir), /host here: cannot read .*: not a regular file/);
  });

  it('a closed session refuses further calls', async () => {
    await s.close();
    await assert.rejects(s.exec(['true']), /session is closed/);
  });
});

describe('sessions: openSession and sessionOptionsFromArgs', () => {
  it('openSession gives a LocalSession for a local host', async () => {
    const s = await openSession({ name: 'me', address: '127.0.0.1', port: 22, user: 'root', local: true });
    try {
      assert.ok(s instanceof LocalSession);
      assert.equal((await s.exec(['true'])).code, 0);
    } finally {
      await s.close();
    }
  });

  it('maps the CLI host options and the inventory known_hosts to SessionOptions', () => {
    const opts = sessionOptionsFromArgs(
      { 'accept-new-host-keys': true, 'connect-timeout': '2s', 'command-timeout': '500ms' },
      { knownHosts: '/lab/known_hosts' },
    );
    assert.deepEqual(opts, { knownHostsPath: '/lab/known_hosts', acceptNewHostKeys: true, connectTimeoutMs: 2000, commandTimeoutMs: 500 });
  });

  it('defaults: ~/.ssh/known_hosts, unknown keys refused, timeouts left to the session defaults', () => {
    assert.deepEqual(sessionOptionsFromArgs({}, {}), { knownHostsPath: path.join(os.homedir(), '.ssh', 'known_hosts'), acceptNewHostKeys: false });
  });

  it('a malformed duration is a KdriftError naming the option', () => {
    assert.throws(() => sessionOptionsFromArgs({ 'connect-timeout': 'soon' }, {}), (err: unknown) => err instanceof KdriftError && /--connect-timeout .*"soon"/.test(err.message));
    assert.throws(() => sessionOptionsFromArgs({ 'command-timeout': '0s' }, {}), /--command-timeout must be a positive duration/);
  });
});
