/**
 * The kept collector (report --every over kept connections) must answer exactly what a fresh one-exec collect
 * answers: the same bytes, so the same SysctlState, on every fixture tree and on a tree with every kind of entry,
 * before and after the tree changes between requests. Real sh and awk through a real LocalSession.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { appendFile, mkdir, mkdtemp, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalSession } from '../../core/session-local.js';
import { decodeCollected, execSysctlCollect, type CollectOptions } from '../../checks/sysctl-persisted.js';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/sysctl');

/** Collects once and through the kept collector; both outputs must be byte-identical (and decode alike). */
async function sameBothWays(session: LocalSession, keys: string[], opts: CollectOptions): Promise<Buffer> {
  const once = await execSysctlCollect(session, keys, opts);
  const kept = await execSysctlCollect(session, keys, { ...opts, kept: true });
  assert.ok(kept.equals(once), `kept collector differs from a fresh collect:\n once ${JSON.stringify(once.toString('latin1').slice(0, 400))}\n kept ${JSON.stringify(kept.toString('latin1').slice(0, 400))}`);
  assert.deepEqual(decodeCollected('t', kept, keys, opts), decodeCollected('t', once, keys, opts));
  return kept;
}

/** Kept collectors for `root` on this machine: process groups of shells whose argv names the mode and root. */
function keptProcesses(root: string): number {
  const groups = execFileSync('ps', ['-eo', 'pgid=,args='], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => / sh -c /.test(` ${l.trim().replace(/^\d+ /, '')}`) && l.includes(` kept ${root} `))
    .map((l) => l.trim().split(' ')[0]);
  return new Set(groups).size;
}

describe('sysctl kept collector answers what a fresh collect answers (real sh + awk, LocalSession)', () => {
  let dir: string;
  let session: LocalSession;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'kdrift-kept-collect-'));
  });
  beforeEach(() => {
    session = new LocalSession('kept', { commandTimeoutMs: 20_000 });
  });
  afterEach(() => session.close());
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('every fixture tree: the same bytes both ways, twice over one kept process', async () => {
    const names = readdirSync(FIXTURES).filter((n) => !n.startsWith('.'));
    assert.ok(names.length > 20);
    for (const name of names) {
      const sc = JSON.parse(readFileSync(path.join(FIXTURES, name, 'scenario.json'), 'utf8')) as { key: string };
      const opts = { root: path.join(FIXTURES, name) };
      await sameBothWays(session, [sc.key, 'net.ipv4.no_such_key'], opts);
      await sameBothWays(session, [sc.key, 'net.ipv4.no_such_key'], opts);
    }
  });

  it('a tree with every kind of entry, changed between requests: each kept answer equals a fresh collect', async () => {
    const root = path.join(dir, 'kinds');
    const etc = path.join(root, 'etc/sysctl.d');
    await mkdir(path.join(etc, '90-dir.conf'), { recursive: true });
    await mkdir(path.join(root, 'usr/lib/sysctl.d'), { recursive: true });
    await mkdir(path.join(root, 'proc/sys/net/ipv4'), { recursive: true });
    await mkdir(path.join(root, 'var/lib/kdrift'), { recursive: true });
    await symlink('usr/lib', path.join(root, 'lib')); // merged /usr: /lib/sysctl.d is /usr/lib/sysctl.d (Q)
    await writeFile(path.join(root, 'proc/sys/net/ipv4/tcp_sack'), '1\n');
    await writeFile(path.join(root, 'usr/lib/sysctl.d/50-default.conf'), 'net.ipv4.tcp_sack = 1\n');
    await writeFile(path.join(root, 'etc/sysctl.conf'), 'net.ipv4.tcp_sack=0\n');
    // bytes: NUL, ^, CR, no final newline, a name that is not UTF-8, a record header inside content
    await writeFile(Buffer.from(`${etc}/50-\xff\xfe.conf`, 'latin1'), Buffer.from('a = 1\0b\r\n^c = 2\nV 3\nZ x\n\xff tail', 'latin1'));
    await writeFile(path.join(etc, '.hidden.conf'), '');
    await writeFile(path.join(etc, '.conf'), 'x = 1\n');
    await symlink('/dev/null', path.join(etc, '60-mask.conf'));
    await symlink('nowhere', path.join(etc, '70-gone.conf'));
    await symlink('../sysctl.conf', path.join(etc, '99-sysctl.conf'));
    await symlink('../../usr/lib/sysctl.d/50-default.conf', path.join(etc, '80-elsewhere.conf')); // readlink -f
    await symlink('/proc/sys/vm/compact_memory', path.join(etc, '85-write-only.conf')); // unreadable even for root
    execFileSync('mkfifo', [path.join(etc, '88-fifo.conf')]);
    await writeFile(path.join(etc, '95-big.conf'), `${'# padding line\n'.repeat(200_000)}net.ipv4.tcp_sack = 0\n`); // 3 MiB
    await writeFile(path.join(root, 'var/lib/kdrift/writes.jsonl'), `${'{"old":"line"}\n'.repeat(6000)}{"last":1}\n`); // > 64 KiB tail
    const keys = ['net.ipv4.tcp_sack', 'net.ipv4.no_such_key'];
    const opts = { root, writeLogPath: '/var/lib/kdrift/writes.jsonl' };

    const first = decodeCollected('t', await sameBothWays(session, keys, opts), keys, opts);
    const kinds = new Map(first.tree.entries.map((e) => [Buffer.from(e.name, 'latin1').toString('latin1'), e.kind]));
    assert.deepEqual(
      [kinds.get('60-mask.conf'), kinds.get('70-gone.conf'), kinds.get('85-write-only.conf'), kinds.get('88-fifo.conf'), kinds.get('90-dir.conf')],
      ['masked', 'dangling', 'unreadable', 'other', 'directory'],
    );
    assert.equal(first.writeLog?.length, 1);

    // the same kept process answers after each change, and always what a fresh collect sees
    await writeFile(path.join(root, 'proc/sys/net/ipv4/tcp_sack'), '0\n');
    await appendFile(path.join(etc, '95-big.conf'), 'net.ipv4.tcp_sack = 1\n');
    await sameBothWays(session, keys, opts);
    await unlink(path.join(etc, '60-mask.conf'));
    await writeFile(path.join(etc, '60-mask.conf'), 'net.ipv4.tcp_sack = 0\n');
    await unlink(path.join(etc, '.conf'));
    await writeFile(path.join(root, 'var/lib/kdrift/writes.jsonl.1'), '{"rotated":1}\n');
    await sameBothWays(session, keys, opts);
    await rm(path.join(root, 'usr/lib/sysctl.d'), { recursive: true });
    await sameBothWays(session, keys, opts);
    assert.equal(keptProcesses(root), 1, 'one kept collector for these keys and options, reused by every request');
    await session.close();
    for (let i = 0; i < 50 && keptProcesses(root) > 0; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(keptProcesses(root), 0, 'closing the session ends its kept collector');
  });

  it('more records than one mawk buffer, many requests in a row: every answer arrives whole (no request waits for the next)', async () => {
    const root = path.join(dir, 'many');
    await mkdir(path.join(root, 'etc/sysctl.d'), { recursive: true });
    for (let i = 0; i < 300; i++) await writeFile(path.join(root, 'etc/sysctl.d', `${String(i).padStart(4, '0')}-${'n'.repeat(200)}.conf`), `k${i} = ${i}\n`);
    const opts = { root, timeoutMs: 10_000 };
    const once = await execSysctlCollect(session, [], opts);
    for (let i = 0; i < 20; i++) assert.ok((await execSysctlCollect(session, [], { ...opts, kept: true })).equals(once), `request ${i}`);
  });

  it('a record longer than mawk\'s 4 KiB buffer (it grows to 8 KiB): later requests are still answered at once', async () => {
    // A root prefix near PATH_MAX makes the write log records ~4.1 KiB; nothing under it exists (every test fails).
    const opts = { root: `/kdrift-no-such-dir/${'r'.repeat(4060)}`, writeLogPath: '/var/lib/kdrift/writes.jsonl', timeoutMs: 5_000 };
    const once = await execSysctlCollect(session, ['net.ipv4.tcp_sack'], opts);
    for (let i = 0; i < 10; i++) assert.ok((await execSysctlCollect(session, ['net.ipv4.tcp_sack'], { ...opts, kept: true })).equals(once), `request ${i}`);
  });
});
