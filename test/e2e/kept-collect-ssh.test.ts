/**
 * The kept collector over real SSH (report --every's rescans): on a loopback sshd, the kept channel answers exactly
 * what a fresh one-exec collect answers (this machine's own /proc/sys and sysctl.d, and a tree with every kind of
 * entry, changed between requests), over ONE kept process; HostSession.converse ends a command that times out or
 * exits, and the next call starts it again.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { HostError } from '../../core/errors.js';
import { SshSession } from '../../core/session-ssh.js';
import { decodeCollected, execSysctlCollect, type CollectOptions } from '../../checks/sysctl-persisted.js';
import { declaredRoles } from '../../stacks/baselines.js';
import { makeKey, startSshd, type TestSshd } from '../../lab/loopback-sshd.js';

/** Process groups on this machine (= the sshd's host) whose shell runs with `needle` in its argv. */
function groupsWith(needle: string): number {
  const lines = execFileSync('ps', ['-eo', 'pgid=,args='], { encoding: 'utf8' }).split('\n');
  return new Set(lines.filter((l) => / sh -c /.test(` ${l.trim().replace(/^\d+ /, '')}`) && l.includes(needle)).map((l) => l.trim().split(' ')[0])).size;
}

async function until(what: () => boolean, ms: number): Promise<boolean> {
  for (const t0 = Date.now(); Date.now() - t0 < ms; ) {
    if (what()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return what();
}

describe('kept collector over real SSH (loopback sshd)', function () {
  this.timeout(60_000);
  let dir: string;
  let sshd: TestSshd;
  let session: SshSession;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'kdrift-kept-ssh-'));
    const clientKey = makeKey(path.join(dir, 'id_ed25519'));
    sshd = await startSshd({ dir: path.join(dir, 'sshd'), authorizedKeys: [clientKey.pub], cleanLogin: true });
    const knownHosts = path.join(dir, 'known_hosts');
    writeFileSync(knownHosts, `[127.0.0.1]:${sshd.port} ${sshd.hostKey.pub}\n`);
    session = await SshSession.connect(
      { name: 'kept', address: '127.0.0.1', port: sshd.port, user: 'root', identityFile: clientKey.privateKeyPath },
      { knownHostsPath: knownHosts, commandTimeoutMs: 20_000 },
    );
  });
  after(async () => {
    await session?.close().catch(() => undefined);
    await sshd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function sameBothWays(keys: string[], opts: CollectOptions): Promise<void> {
    const once = await execSysctlCollect(session, keys, opts);
    const kept = await execSysctlCollect(session, keys, { ...opts, kept: true });
    assert.ok(kept.equals(once), `kept differs:\n once ${JSON.stringify(once.toString('latin1').slice(0, 300))}\n kept ${JSON.stringify(kept.toString('latin1').slice(0, 300))}`);
    assert.deepEqual(decodeCollected('kept', kept, keys, opts), decodeCollected('kept', once, keys, opts));
  }

  it("this machine's own sysctl state (the lb keys, the real sysctl.d): the same bytes both ways, three times", async () => {
    const keys = Object.keys(declaredRoles['load-balancer'].sysctls);
    for (let i = 0; i < 3; i++) await sameBothWays(keys, { writeLogPath: '/var/lib/kdrift/writes.jsonl' });
  });

  it('a tree with every kind of entry, changed between requests, over one kept process', async () => {
    const root = path.join(dir, 'tree');
    const etc = path.join(root, 'etc/sysctl.d');
    mkdirSync(path.join(etc, '90-dir.conf'), { recursive: true });
    mkdirSync(path.join(root, 'proc/sys/net/ipv4'), { recursive: true });
    writeFileSync(path.join(root, 'proc/sys/net/ipv4/tcp_sack'), '1\n');
    writeFileSync(path.join(root, 'etc/sysctl.conf'), 'net.ipv4.tcp_sack=0\n');
    writeFileSync(Buffer.from(`${etc}/50-\xff.conf`, 'latin1'), Buffer.from('a = 1\0b\r\n^c\nZ 0\n\xff', 'latin1'));
    symlinkSync('/dev/null', path.join(etc, '60-mask.conf'));
    symlinkSync('nowhere', path.join(etc, '70-gone.conf'));
    symlinkSync('../sysctl.conf', path.join(etc, '99-sysctl.conf'));
    symlinkSync('/proc/sys/vm/compact_memory', path.join(etc, '85-write-only.conf'));
    execFileSync('mkfifo', [path.join(etc, '88-fifo.conf')]);
    writeFileSync(path.join(etc, '95-big.conf'), `${'# line\n'.repeat(300_000)}net.ipv4.tcp_sack = 0\n`);
    const keys = ['net.ipv4.tcp_sack', 'net.ipv4.no_such_key'];
    await sameBothWays(keys, { root });
    writeFileSync(path.join(root, 'proc/sys/net/ipv4/tcp_sack'), '0\n');
    unlinkSync(path.join(etc, '60-mask.conf'));
    writeFileSync(path.join(etc, '60-mask.conf'), 'net.ipv4.tcp_sack = 1\n');
    await sameBothWays(keys, { root });
    rmSync(path.join(etc, '95-big.conf'));
    await sameBothWays(keys, { root });
    assert.equal(groupsWith(` kept ${root} `), 1, 'one kept collector on the host for these keys and options');
  });

  it('converse: a command that times out is ended on the host, a command that exits fails naming it, and the next call starts it again', async () => {
    const marker = `kdrift-kept-${process.pid}-sleep`;
    const slow = ['sh', '-c', `while read -r l; do sleep 30; echo "$l done"; done # ${marker}`];
    await assert.rejects(session.converse(slow, 'a\n', 'a done\n', { timeoutMs: 500 }), (e: unknown) => e instanceof HostError && /timed out after/.test(e.message));
    assert.ok(await until(() => groupsWith(marker) === 0, 5000), 'the timed-out command is gone from the host');
    const exits = ['sh', '-c', 'read -r l; echo bye >&2; exit 3'];
    await assert.rejects(session.converse(exits, 'x\n', 'never\n'), (e: unknown) => e instanceof HostError && /exited|closed/.test(e.message) && /bye/.test(e.message));
    const echo = ['sh', '-c', 'while read -r l; do printf "%s-" "$l"; sleep 0.1; printf "%s end\\n" "$l"; done'];
    assert.equal((await session.converse(echo, 'one\n', 'one end\n')).stdout.toString(), 'one-one end\n');
    assert.equal((await session.converse(echo, 'two\n', 'two end\n')).stdout.toString(), 'two-two end\n');
  });
});
