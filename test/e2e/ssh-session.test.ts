/**
 * SshSession against real OpenSSH sshd processes on 127.0.0.1 (started here, killed in after hooks).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync, lstatSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { HostError } from '../../core/errors.js';
import { HostFileError } from '../../core/host-file-error.js';
import type { HostEntry } from '../../core/inventory.js';
import { mapLimit } from '../../core/pool.js';
import type { HostSession } from '../../core/session.js';
import { SshSession } from '../../core/session-ssh.js';
import { openSession, type SessionOptions } from '../../core/sessions.js';
import { HOSTILE_STRINGS } from '../support/shell-quote-hostile.js';
import { freePort, makeKey, startAgent, startSshd, type KeyPair, type TestSshd } from '../../lab/loopback-sshd.js';

describe('SSH sessions against real sshd', function () {
  this.timeout(60_000);
  let dir: string;
  let clientKey: KeyPair;
  let sshd: TestSshd;
  const started: Array<{ stop(): Promise<void> }> = [];
  const sessions: HostSession[] = [];

  const hostFor = (d: TestSshd, extra: Partial<HostEntry> = {}): HostEntry => ({
    name: `h${d.port}`,
    address: '127.0.0.1',
    port: d.port,
    user: 'root',
    roles: ['test'],
    identityFile: clientKey.privateKeyPath,
    ...extra,
  });
  const knownHostsWith = (name: string, entries: Array<[TestSshd, KeyPair?]>): string => {
    const file = path.join(dir, `known_hosts-${name}`);
    writeFileSync(file, entries.map(([d, k]) => `[127.0.0.1]:${d.port} ${(k ?? d.hostKey).pub}\n`).join(''));
    return file;
  };
  async function open(host: HostEntry, opts: SessionOptions): Promise<HostSession> {
    const s = await openSession(host, opts);
    sessions.push(s);
    return s;
  }
  async function newSshd(name: string, extra: { extraConfig?: string[]; cleanLogin?: boolean; hostKey?: KeyPair } = {}): Promise<TestSshd> {
    const d = await startSshd({ dir: path.join(dir, name), authorizedKeys: [clientKey.pub], cleanLogin: extra.cleanLogin ?? true, ...extra });
    started.push(d);
    return d;
  }
  /** Time a promise that must reject; returns [error, ms]. */
  async function rejection(p: Promise<unknown>): Promise<[Error, number]> {
    const t0 = performance.now();
    try {
      await p;
    } catch (err) {
      return [err as Error, performance.now() - t0];
    }
    assert.fail('expected a rejection');
  }

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'kdrift-ssh-e2e-'));
    clientKey = makeKey(path.join(dir, 'id_ed25519'));
    sshd = await newSshd('main');
  });
  afterEach(async () => {
    await Promise.all(sessions.splice(0).map((s) => s.close().catch(() => undefined)));
  });
  after(async () => {
    await Promise.all(sessions.splice(0).map((s) => s.close().catch(() => undefined)));
    await Promise.all(started.splice(0).map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  describe('remote quoting', () => {
    let s: HostSession;
    beforeEach(async () => {
      s = await open(hostFor(sshd), { knownHostsPath: knownHostsWith('quoting', [[sshd]]) });
    });

    it('hostile strings round-trip unchanged through the remote login shell (printf %s\\0)', async () => {
      const res = await s.exec(['printf', '%s\\0', ...HOSTILE_STRINGS]);
      assert.equal(res.code, 0, res.stderr.toString());
      const words = res.stdout.toString('utf8').split('\0');
      assert.equal(words.pop(), '');
      assert.deepEqual(words, [...HOSTILE_STRINGS]);
      assert.equal(existsSync('/tmp/kdrift-pwned'), false, 'a $() or backtick ran on the host');
    });

    it('each hostile string alone round-trips (one exec each, all on the same connection)', async () => {
      const results = await Promise.all(HOSTILE_STRINGS.map((str) => s.exec(['printf', '%s\\0', str])));
      results.forEach((res, i) => assert.equal(res.stdout.toString('utf8'), `${HOSTILE_STRINGS[i]}\0`, JSON.stringify(HOSTILE_STRINGS[i])));
    });

    it('a NUL byte in argv is refused before anything is sent, as a HostError naming the host', async () => {
      await assert.rejects(s.exec(['printf', '%s', 'a\0b']), (err: unknown) => err instanceof HostError && /^host h\d+: cannot run command: .*NUL byte/.test(err.message));
      await assert.rejects(s.readFile('relative/path'), /file path must be absolute/);
    });

    it('a hostile command word is one command name, not shell syntax', async () => {
      const res = await s.exec(['no such; command $(id)', 'x']);
      assert.equal(res.code, 127);
      assert.match(res.stderr.toString(), /no such; command \$\(id\): command not found/);
    });

    it("round-trips through root's real login environment too (its ~/.bashrc runs)", async () => {
      const real = await newSshd('real-login', { cleanLogin: false });
      const rs = await open(hostFor(real), { knownHostsPath: knownHostsWith('real', [[real]]) });
      const sample = ["it's", '$(id)', '`id`', 'a\nb', '; &&', '*', '-n', ''];
      const res = await rs.exec(['printf', '%s\\0', ...sample]);
      assert.equal(res.stdout.toString('utf8'), sample.map((x) => `${x}\0`).join(''));
    });
  });

  describe('exec', () => {
    let s: HostSession;
    beforeEach(async () => {
      s = await open(hostFor(sshd), { knownHostsPath: knownHostsWith('exec', [[sshd]]), commandTimeoutMs: 20_000 });
    });

    it('passes stdin byte for byte (binary, with NULs) and closes it', async () => {
      const input = Buffer.concat([randomBytes(100_000), Buffer.from([0, 0, 10, 13])]);
      const res = await s.exec(['cat'], { stdin: input });
      assert.equal(res.code, 0);
      assert.ok(res.stdout.equals(input));
    });

    it('a command that reads stdin gets EOF when no stdin is given (does not hang)', async () => {
      const res = await s.exec(['wc', '-c']);
      assert.equal(res.stdout.toString().trim(), '0');
    });

    it('reports exit codes, stderr, and death by signal', async () => {
      const three = await s.exec(['sh', '-c', 'echo oops >&2; exit 3']);
      assert.equal(three.code, 3);
      assert.equal(three.stderr.toString(), 'oops\n');
      const missing = await s.exec(['kdrift-no-such-command']);
      assert.equal(missing.code, 127);
      const killed = await s.exec(['sh', '-c', 'kill -TERM $$']);
      assert.equal(killed.code, null);
      assert.equal(killed.signal, 'SIGTERM');
    });

    it('a command timeout fires within its bound, kills the remote process, names host + command + timeout', async () => {
      const marker = `31.${randomBytes(3).readUIntBE(0, 3)}`;
      const [err, ms] = await rejection(s.exec(['sleep', marker], { timeoutMs: 1000 }));
      assert.ok(err instanceof HostError);
      assert.match(err.message, new RegExp(`^host h${sshd.port}: command timed out after 1s on 127\\.0\\.0\\.1:${sshd.port} \\(killed\\): 'sleep' ${marker.replace('.', '\\.')}$`));
      assert.ok(ms >= 990 && ms < 3000, `timed out after ${ms} ms`);
      // sshd delivered the KILL signal: the remote sleep is gone (it runs on this machine, so look for it here).
      let alive = true;
      for (let i = 0; i < 40 && alive; i++) {
        alive = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).split('\n').some((l) => l.trim() === `sleep ${marker}`);
        if (alive) await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(alive, false, 'the timed-out remote command is still running');
      // The connection survives a timed-out command.
      assert.equal((await s.exec(['true'])).code, 0);
    });

    it('a timed-out command gets TERM first (its EXIT trap runs), and KILL if it ignores TERM', async () => {
      const flag = path.join(dir, `trap-ran-${process.pid}`);
      await assert.rejects(s.exec(['bash', '-c', 'trap "touch \"$1\"" EXIT; sleep 34.5', 'x', flag], { timeoutMs: 500 }), /timed out/);
      const stubborn = `35.${process.pid}`;
      await assert.rejects(s.exec(['sh', '-c', `trap '' TERM; sleep ${stubborn}`], { timeoutMs: 500 }), /timed out/);
      const gone = async (pattern: string) => {
        for (let i = 0; i < 100; i++) {
          if (!execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).split('\n').some((l) => l.trim() === pattern)) return true;
          await new Promise((r) => setTimeout(r, 50));
        }
        return false;
      };
      assert.equal(await gone(`sleep ${stubborn}`), true, 'a TERM-ignoring command survived the timeout');
      assert.equal(existsSync(flag), true, 'the EXIT trap did not run (killed with KILL straight away?)');
    });

    it('runs many commands over ONE TCP connection (queued beyond the per-connection channel limit)', async () => {
      const before = sshd.acceptedConnections();
      const fresh = await open(hostFor(sshd), { knownHostsPath: knownHostsWith('reuse', [[sshd]]) });
      const results = await Promise.all(Array.from({ length: 40 }, (_, i) => fresh.exec(['sh', '-c', `sleep 0.05; echo ${i}`])));
      results.forEach((r, i) => assert.equal(r.stdout.toString(), `${i}\n`));
      await fresh.readFile('/etc/hostname');
      await fresh.exec(['true']);
      assert.equal(sshd.acceptedConnections() - before, 1, 'sshd accepted more than one connection');
    });

    it('adapts to a server that allows fewer sessions than the default channel limit (MaxSessions 2)', async () => {
      const small = await newSshd('maxsessions', { extraConfig: ['MaxSessions 2'] });
      const ss = await open(hostFor(small), { knownHostsPath: knownHostsWith('small', [[small]]) });
      const results = await Promise.all(Array.from({ length: 12 }, (_, i) => ss.exec(['sh', '-c', `sleep 0.1; echo ${i}`])));
      results.forEach((r, i) => assert.equal(r.stdout.toString(), `${i}\n`));
    });
    it('works with a server that allows ONE session: SFTP gives its channel back to commands when idle', async () => {
      const one = await newSshd('maxsessions1', { extraConfig: ['MaxSessions 1'] });
      const s1 = await open(hostFor(one), { knownHostsPath: knownHostsWith('one', [[one]]), commandTimeoutMs: 20_000 });
      assert.equal((await s1.readFile('/proc/sys/net/ipv4/tcp_sack')).toString(), readFileSync('/proc/sys/net/ipv4/tcp_sack', 'utf8'));
      const mixed = await Promise.all([
        s1.exec(['echo', 'a']),
        s1.readFile('/etc/hostname'),
        s1.exec(['echo', 'b']),
        s1.readFile('/etc/hostname'),
        s1.exec(['echo', 'c']),
      ]);
      assert.deepEqual([mixed[0], mixed[2], mixed[4]].map((r) => (r as { stdout: Buffer }).stdout.toString()), ['a\n', 'b\n', 'c\n']);
      assert.equal((mixed[1] as Buffer).toString(), readFileSync('/etc/hostname', 'utf8'));
    });
  });

  describe('host keys', () => {
    it('a host whose key changed is refused loudly while another host still answers', async () => {
      const other = await newSshd('other');
      const impostor = makeKey(path.join(dir, 'impostor'));
      // known_hosts: line 1 = the "old" key of `other` (a different ed25519 key), line 2 = main's real key.
      const kh = knownHostsWith('changed', [[other, impostor], [sshd]]);
      const hosts = [hostFor(other, { name: 'lb' }), hostFor(sshd, { name: 'app1' })];
      const outcomes = await mapLimit(hosts, 2, async (h) => {
        try {
          const s = await open(h, { knownHostsPath: kh });
          return (await s.exec(['echo', 'alive'])).stdout.toString().trim();
        } catch (err) {
          return err as Error;
        }
      });
      const [lb, app1] = outcomes;
      assert.ok(lb instanceof HostError, 'lb was not refused');
      assert.match(
        lb.message,
        new RegExp(`^host lb: host key for lb \\(127\\.0\\.0\\.1:${other.port}\\) CHANGED: .*possible man-in-the-middle.*remove the old line 1 of ${kh.replace(/[.]/g, '\\.')}`),
      );
      assert.equal(app1, 'alive');
    });

    it('a changed key is refused even with accept-new, and known_hosts is left untouched', async () => {
      const impostor = makeKey(path.join(dir, 'impostor2'));
      const kh = knownHostsWith('changed-accept', [[sshd, impostor]]);
      const before = readFileSync(kh, 'utf8');
      const [err] = await rejection(open(hostFor(sshd), { knownHostsPath: kh, acceptNewHostKeys: true }));
      assert.match(err.message, /CHANGED/);
      assert.equal(readFileSync(kh, 'utf8'), before);
    });

    it('an unknown key is refused without accept-new, and accepted + appended with it', async () => {
      const kh = path.join(dir, 'kh-dir', 'known_hosts'); // does not exist yet
      const [err] = await rejection(open(hostFor(sshd), { knownHostsPath: kh }));
      assert.ok(err instanceof HostError);
      assert.match(err.message, /host key for h\d+ \(127\.0\.0\.1:\d+\) is unknown \(ssh-ed25519 SHA256:.*--accept-new-host-keys/);
      assert.equal(existsSync(kh), false);

      const s = await open(hostFor(sshd), { knownHostsPath: kh, acceptNewHostKeys: true });
      assert.equal((await s.exec(['true'])).code, 0);
      assert.equal(readFileSync(kh, 'utf8'), `[127.0.0.1]:${sshd.port} ${sshd.hostKey.pub}\n`);
      // OpenSSH agrees with what was recorded.
      execFileSync('ssh-keygen', ['-F', `[127.0.0.1]:${sshd.port}`, '-f', kh], { stdio: 'ignore' });
      // Now known: a connection without accept-new succeeds.
      const again = await open(hostFor(sshd), { knownHostsPath: kh });
      assert.equal((await again.exec(['true'])).code, 0);
    });

    it('hashed known_hosts entries (ssh-keygen -H) are honoured', async () => {
      const kh = knownHostsWith('hashed', [[sshd]]);
      execFileSync('ssh-keygen', ['-H', '-f', kh], { stdio: 'ignore' });
      rmSync(`${kh}.old`, { force: true });
      assert.match(readFileSync(kh, 'utf8'), /^\|1\|/);
      const s = await open(hostFor(sshd), { knownHostsPath: kh });
      assert.equal((await s.exec(['true'])).code, 0);
    });

    it('a known key of another type is asked for first (ecdsa host key alongside ed25519)', async () => {
      const ecdsaKey = makeKey(path.join(dir, 'host_ecdsa'), 'ecdsa');
      const dual = await newSshd('dual', { extraConfig: [`HostKey ${ecdsaKey.privateKeyPath}`] });
      // Only the ecdsa key is known: kdrift must negotiate ecdsa, not the ed25519 it would otherwise prefer.
      const s = await open(hostFor(dual), { knownHostsPath: knownHostsWith('dual', [[dual, ecdsaKey]]) });
      assert.equal((await s.exec(['true'])).code, 0);
    });

    it('a @revoked key is refused', async () => {
      const kh = path.join(dir, 'kh-revoked');
      writeFileSync(kh, `[127.0.0.1]:${sshd.port} ${sshd.hostKey.pub}\n@revoked * ${sshd.hostKey.pub}\n`);
      const [err] = await rejection(open(hostFor(sshd), { knownHostsPath: kh }));
      assert.match(err.message, /REVOKED .*line 2/);
    });

    it('many hosts accepted at once append one whole line each to one known_hosts (a repeated address once)', async () => {
      // One sshd listening on six loopback addresses = six "hosts"; two inventory entries per address.
      const addrs = Array.from({ length: 6 }, (_, i) => `127.0.0.${i + 1}`);
      // MaxStartups: 12 handshakes at once to ONE sshd would hit its default 10:30:100 random early drop.
      const multi = await newSshd('multi', { extraConfig: ['MaxStartups 100', ...addrs.slice(1).map((a) => `ListenAddress ${a}`)] });
      const kh = path.join(dir, 'kh-many');
      const hosts = Array.from({ length: 12 }, (_, i) => hostFor(multi, { name: `n${i}`, address: addrs[i % 6] as string }));
      await mapLimit(hosts, 12, async (h) => (await open(h, { knownHostsPath: kh, acceptNewHostKeys: true })).exec(['true']));
      const lines = readFileSync(kh, 'utf8').split('\n').filter(Boolean).sort();
      assert.deepEqual(lines, addrs.map((a) => `[${a}]:${multi.port} ${multi.hostKey.pub}`).sort());
    });
  });

  describe('authentication', () => {
    let kh: string;
    before(() => {
      kh = knownHostsWith('auth', [[sshd]]);
    });

    it('authenticates through ssh-agent when the host has no identity file', async () => {
      const agent = await startAgent(path.join(dir, 'agent.sock'), [clientKey.privateKeyPath]);
      started.push(agent);
      const s = await open(hostFor(sshd, { identityFile: undefined }), { knownHostsPath: kh, agentSocket: agent.sock });
      assert.equal((await s.exec(['printf', 'agent-ok'])).stdout.toString(), 'agent-ok');
    });

    it('a key the server does not accept is "authentication refused", naming what was tried', async () => {
      const stranger = makeKey(path.join(dir, 'stranger'));
      const [err] = await rejection(open(hostFor(sshd, { identityFile: stranger.privateKeyPath }), { knownHostsPath: kh, agentSocket: undefined }));
      assert.ok(err instanceof HostError);
      assert.match(err.message, new RegExp(`authentication refused for root@127\\.0\\.0\\.1:${sshd.port} \\(tried key file .*stranger`));
    });

    it('an unreadable identity file is a clear error before connecting', async () => {
      const [err] = await rejection(open(hostFor(sshd, { identityFile: path.join(dir, 'missing-key') }), { knownHostsPath: kh }));
      assert.match(err.message, /cannot read identity file .*missing-key: no such file/);
    });

    it('an encrypted identity file without an agent says to use ssh-agent', async () => {
      const enc = makeKey(path.join(dir, 'encrypted'), 'ed25519', 'secret passphrase');
      const saved = process.env.SSH_AUTH_SOCK;
      delete process.env.SSH_AUTH_SOCK;
      try {
        const [err] = await rejection(open(hostFor(sshd, { identityFile: enc.privateKeyPath }), { knownHostsPath: kh }));
        assert.match(err.message, /identity file .*encrypted.*ssh-add/);
      } finally {
        if (saved !== undefined) process.env.SSH_AUTH_SOCK = saved;
      }
    });
  });

  describe('connect failures', () => {
    it('a port that accepts TCP but never speaks SSH times out within the connect timeout', async () => {
      const silent = net.createServer(() => undefined); // accepts and says nothing
      const held: net.Socket[] = [];
      silent.on('connection', (c) => held.push(c));
      await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
      try {
        const port = (silent.address() as net.AddressInfo).port;
        const [err, ms] = await rejection(open(hostFor(sshd, { name: 'mute', port }), { knownHostsPath: path.join(dir, 'kh-mute'), connectTimeoutMs: 1000 }));
        assert.ok(err instanceof HostError);
        assert.match(err.message, new RegExp(`host mute: connect timeout after 1s: TCP connected to 127\\.0\\.0\\.1:${port} but no SSH handshake`));
        assert.ok(ms >= 990 && ms < 2500, `took ${ms} ms`);
      } finally {
        held.forEach((c) => c.destroy());
        await new Promise<void>((r) => silent.close(() => r()));
      }
    });

    it('a closed port is "connection refused", fast', async () => {
      const port = await freePort();
      const [err, ms] = await rejection(open(hostFor(sshd, { name: 'gone', port }), { knownHostsPath: path.join(dir, 'kh-x'), connectTimeoutMs: 5000 }));
      assert.match(err.message, new RegExp(`host gone: connection refused by 127\\.0\\.0\\.1:${port}`));
      assert.ok(ms < 1000);
    });

    it('a dropped connection makes later calls fail fast with a clear error', async () => {
      const doomed = await newSshd('doomed');
      const s = await open(hostFor(doomed, { name: 'doomed' }), { knownHostsPath: knownHostsWith('doomed', [[doomed]]) });
      assert.equal((await s.exec(['true'])).code, 0);
      const marker = `20.${process.pid}`;
      const running = rejection(s.exec(['sleep', marker]));
      // Wait until the remote command really runs (on a loaded machine that can take a while).
      for (let i = 0; i < 100 && !execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).includes(`sleep ${marker}`); i++) {
        await new Promise((r) => setTimeout(r, 50));
      }
      await doomed.stop(); // kills sshd and the per-connection child serving us (and so the sleep)
      const [during] = await running;
      assert.match(during.message, new RegExp(`host doomed: connection to 127\\.0\\.0\\.1:\\d+ lost while running 'sleep' ${marker.replace('.', '\\.')}`));
      const [after, ms] = await rejection(s.exec(['true']));
      assert.match(after.message, /host doomed: connection to 127\.0\.0\.1:\d+ is gone/);
      assert.ok(ms < 200, `took ${ms} ms`);
      const [fileErr] = await rejection(s.readFile('/etc/hostname'));
      assert.match(fileErr.message, /is gone/);
    });
  });

  describe('files over SFTP', () => {
    let s: HostSession;
    let fdir: string;
    beforeEach(async () => {
      s = await open(hostFor(sshd), { knownHostsPath: knownHostsWith('sftp', [[sshd]]) });
      fdir = mkdtempSync(path.join(dir, 'files-'));
    });

    it('readFile returns exact bytes, including /proc files whose size is reported as 0', async () => {
      const data = randomBytes(300_000);
      writeFileSync(path.join(fdir, 'bin'), data);
      assert.ok((await s.readFile(path.join(fdir, 'bin'))).equals(data));
      const proc = (await s.readFile('/proc/sys/net/ipv4/tcp_window_scaling')).toString();
      assert.equal(proc, readFileSync('/proc/sys/net/ipv4/tcp_window_scaling', 'utf8'));
    });

    it('readFile of a missing file is a HostFileError with code ENOENT', async () => {
      const [err] = await rejection(s.readFile(path.join(fdir, 'nope')));
      assert.ok(err instanceof HostFileError);
      assert.equal(err.code, 'ENOENT');
      assert.match(err.message, /cannot read .*nope: no such file or directory/);
    });

    it('writeFileAtomic replaces a file: content exact, mode kept, no temp file left', async () => {
      const file = path.join(fdir, '99-kdrift.conf');
      writeFileSync(file, 'old\n');
      chmodSync(file, 0o640);
      const data = Buffer.concat([Buffer.from('net.ipv4.tcp_window_scaling = 1\n'), randomBytes(100_000)]);
      await s.writeFileAtomic(file, data);
      assert.ok(readFileSync(file).equals(data));
      assert.equal(statSync(file).mode & 0o7777, 0o640);
      assert.deepEqual(readdirSync(fdir), ['99-kdrift.conf']);
    });

    it('writeFileAtomic creates a new file with mode 0644 by default, or the mode asked for', async () => {
      await s.writeFileAtomic(path.join(fdir, 'new'), 'x');
      assert.equal(statSync(path.join(fdir, 'new')).mode & 0o7777, 0o644);
      await s.writeFileAtomic(path.join(fdir, 'private'), 'y', { mode: 0o600 });
      assert.equal(statSync(path.join(fdir, 'private')).mode & 0o7777, 0o600);
      assert.equal(readFileSync(path.join(fdir, 'private'), 'utf8'), 'y');
    });

    it('writeFileAtomic never writes through a symlink: refused naming the host and file, link and target untouched', async () => {
      writeFileSync(path.join(fdir, 'sysctl.conf'), 'a=1\n');
      symlinkSync('sysctl.conf', path.join(fdir, '99-sysctl.conf'));
      await assert.rejects(s.writeFileAtomic(path.join(fdir, '99-sysctl.conf'), 'a=2\n'), (err: unknown) => err instanceof HostError && /^host h\d+: refusing to write .*99-sysctl\.conf: it is a symlink/.test(err.message));
      assert.ok(lstatSync(path.join(fdir, '99-sysctl.conf')).isSymbolicLink());
      assert.equal(readFileSync(path.join(fdir, 'sysctl.conf'), 'utf8'), 'a=1\n');
    });

    it('readers never see a partial file while writers replace it', async () => {
      const file = path.join(fdir, 'hot');
      const a = Buffer.alloc(200_000, 'a');
      const b = Buffer.alloc(300_000, 'b');
      writeFileSync(file, a);
      let stop = false;
      const seen = new Set<string>();
      const reader = (async () => {
        while (!stop) {
          const got = readFileSync(file);
          seen.add(got.equals(a) ? 'a' : got.equals(b) ? 'b' : `partial(${got.length})`);
          await new Promise((r) => setImmediate(r));
        }
      })();
      for (let i = 0; i < 10; i++) await s.writeFileAtomic(file, i % 2 ? a : b);
      stop = true;
      await reader;
      assert.deepEqual([...seen].filter((x) => x.startsWith('partial')), []);
    });

    it("works the same with sshd's internal-sftp (which starts no login shell at all)", async () => {
      const internal = await startSshd({ dir: path.join(dir, 'internal-sftp'), authorizedKeys: [clientKey.pub], sftpServer: 'internal-sftp' });
      started.push(internal);
      const si = await open(hostFor(internal), { knownHostsPath: knownHostsWith('internal', [[internal]]) });
      const file = path.join(fdir, 'via-internal');
      writeFileSync(file, 'old');
      chmodSync(file, 0o600);
      await si.writeFileAtomic(file, 'new');
      assert.equal((await si.readFile(file)).toString(), 'new');
      assert.equal(statSync(file).mode & 0o7777, 0o600);
      assert.deepEqual(readdirSync(fdir), ['via-internal']);
    });

    it('writeFileAtomic on a bind-mounted file (cannot be renamed over) fails as a HostFileError naming the file', async () => {
      // A private mount namespace for this sshd only: /…/mounted is a bind mount of /…/source inside it.
      const bdir = mkdtempSync(path.join(dir, 'bind-'));
      writeFileSync(path.join(bdir, 'source'), 'from source\n');
      writeFileSync(path.join(bdir, 'mounted'), 'underneath\n');
      const bound = await startSshd({
        dir: path.join(dir, 'bound'),
        authorizedKeys: [clientKey.pub],
        cleanLogin: true,
        bindMounts: [[path.join(bdir, 'source'), path.join(bdir, 'mounted')]],
      });
      started.push(bound);
      const sb = await open(hostFor(bound, { name: 'bound' }), { knownHostsPath: knownHostsWith('bound', [[bound]]) });
      assert.equal((await sb.readFile(path.join(bdir, 'mounted'))).toString(), 'from source\n');
      const [err] = await rejection(sb.writeFileAtomic(path.join(bdir, 'mounted'), 'new\n'));
      assert.ok(err instanceof HostFileError, String(err));
      assert.equal(err.path, path.join(bdir, 'mounted'));
      assert.match(err.message, /^host bound: cannot write .*\/mounted: .*\(renaming the temp file over .*\/mounted\)$/);
      assert.equal((await sb.readFile(path.join(bdir, 'mounted'))).toString(), 'from source\n', 'the file changed');
      assert.deepEqual(readdirSync(bdir).sort(), ['mounted', 'source'], 'the temp file was left behind');
    });

    it('writeFileAtomic into a missing directory is a HostFileError, and leaves nothing behind', async () => {
      const [err] = await rejection(s.writeFileAtomic(path.join(fdir, 'no-dir', 'f'), 'x'));
      assert.ok(err instanceof HostFileError);
      assert.equal(err.code, 'ENOENT');
      assert.deepEqual(readdirSync(fdir), []);
    });
  });

  it('SshSession.connect and openSession give the same kind of session', async () => {
    const s = await open(hostFor(sshd), { knownHostsPath: knownHostsWith('kind', [[sshd]]) });
    assert.ok(s instanceof SshSession);
  });
});
