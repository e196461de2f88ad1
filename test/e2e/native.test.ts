/**
 * The libbpf binding on the real kernel: a tiny sock_ops program (bpf/test_tiny.bpf.c) loaded, attached to the
 * cgroup v2 root, fed by a loopback connection, polled and read; readable errors; and nothing left attached after
 * the attaching process is SIGKILLed. The program only observes (returns 1) and only reports our test port.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BpfError, BpfObject, BPF_NOEXIST, ownNetnsCookie, possibleCpus } from '../../probe/bpf.js';
import { cgroup2Root } from '../../probe/cgroup.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const TINY = path.join(REPO, 'bpf', 'test_tiny.bpf.o');
const REJECT = path.join(REPO, 'bpf', 'test_reject.bpf.o');

interface ProgShow {
  id: number;
  name?: string;
}
function progIds(name: string): number[] {
  const all = JSON.parse(execFileSync('bpftool', ['-j', 'prog', 'show'], { encoding: 'utf8' })) as ProgShow[];
  return all.filter((p) => p.name === name).map((p) => p.id);
}
function cgroupTreeIds(): number[] {
  const text = execFileSync('bpftool', ['cgroup', 'tree'], { encoding: 'utf8' });
  return [...text.matchAll(/^\s*(\d+)\s+\S+/gm)].map((m) => Number(m[1]));
}

/** A loopback server on an ephemeral port; one client connection to it; resolves once both ends are established. */
async function loopbackConnection(): Promise<{ port: number; close: () => void }> {
  const server = net.createServer((s) => s.destroy());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return { port, close: () => server.close() };
}
function connectOnce(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1', () => {
      c.end();
      resolve();
    });
    c.once('error', reject);
  });
}

describe('native libbpf binding (kdrift_bpf)', function () {
  this.timeout(30_000);
  let cgroup = '';
  const opened: BpfObject[] = [];
  const tmp: string[] = [];

  before(async () => {
    assert.equal(process.geteuid?.(), 0, 'the native e2e tests need root');
    assert.ok(existsSync(TINY), `${TINY} is missing: run npm run build`);
    cgroup = await cgroup2Root();
  });
  afterEach(() => {
    for (const o of opened.splice(0)) o.close();
  });
  after(() => {
    for (const d of tmp) rmSync(d, { recursive: true, force: true });
  });

  it('loads, lists, attaches to the cgroup v2 root, delivers ring-buffer events and counts, then detaches on close', async () => {
    const obj = BpfObject.open(TINY);
    opened.push(obj);
    assert.deepEqual(obj.programs().map((p) => [p.name, p.type]), [['kd_tiny_sockops', 'sock_ops']]);
    obj.load();
    const maps = Object.fromEntries(obj.maps().map((m) => [m.name, m]));
    assert.equal(maps.kd_tiny_events?.type, 'ringbuf');
    assert.equal(maps.kd_tiny_count?.keySize, 4);
    assert.ok((maps.kd_tiny_count?.fd ?? -1) >= 0);

    const srv = await loopbackConnection();
    try {
      const port = Buffer.alloc(4);
      port.writeUInt32LE(srv.port);
      obj.update('kd_tiny_port', Buffer.alloc(4), port);
      const ring = obj.ringBuffer('kd_tiny_events');
      obj.attachCgroup('kd_tiny_sockops', cgroup);
      assert.equal(progIds('kd_tiny_sockops').length >= 1, true);

      await connectOnce(srv.port);
      await new Promise((r) => setTimeout(r, 50));
      const events = [...ring.poll(1000), ...ring.consume()];
      assert.equal(events.length, 2, 'one ACTIVE and one PASSIVE established event');
      const ops = events.map((e) => e.readUInt32LE(0)).sort();
      assert.deepEqual(ops, [4, 5]); // BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB, BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB
      for (const e of events) {
        assert.equal(e.length, 16);
        assert.equal(e.readBigUInt64LE(8), ownNetnsCookie());
        assert.ok(e.readUInt16LE(4) === srv.port || e.readUInt16LE(6) === srv.port);
      }
      // Map iteration / lookup / update / delete with Buffers.
      const keys = obj.keys('kd_tiny_count').map((k) => k.readUInt32LE(0)).sort();
      assert.deepEqual(keys, [4, 5]);
      assert.equal(obj.lookup('kd_tiny_count', Buffer.from([4, 0, 0, 0]))?.readBigUInt64LE(0), 1n);
      assert.throws(() => obj.update('kd_tiny_count', Buffer.from([4, 0, 0, 0]), Buffer.alloc(8), BPF_NOEXIST), (e: BpfError) => e.code === 'EEXIST');
      assert.equal(obj.delete('kd_tiny_count', Buffer.from([4, 0, 0, 0])), true);
      assert.equal(obj.delete('kd_tiny_count', Buffer.from([4, 0, 0, 0])), false);
      assert.equal(obj.lookup('kd_tiny_count', Buffer.from([4, 0, 0, 0])), null);
      assert.throws(() => obj.lookup('kd_tiny_count', Buffer.alloc(3)), /must be 4 bytes, got 3/);
      assert.throws(() => obj.lookup('no_such_map', Buffer.alloc(4)), /no BPF map named no_such_map/);
    } finally {
      srv.close();
    }
    obj.close();
    // Program freeing is asynchronous (RCU): wait briefly.
    for (let i = 0; i < 50 && progIds('kd_tiny_sockops').length > 0; i++) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(progIds('kd_tiny_sockops'), []);
  });

  it('sizes per-CPU map values as one 8-byte-aligned slot per possible CPU, and round-trips them', () => {
    const obj = BpfObject.open(path.join(REPO, 'bpf', 'tcp_stalls.bpf.o'));
    opened.push(obj);
    obj.load();
    const cpus = possibleCpus();
    assert.equal(obj.valueSize('kd_st_count'), 64 * cpus);
    assert.equal(obj.valueSize('kd_st_cfg'), 32);
    const key = Buffer.alloc(16);
    key.writeUInt16LE(65000, 8);
    const value = Buffer.alloc(64 * cpus);
    for (let c = 0; c < cpus; c++) value.writeBigUInt64LE(BigInt(c + 1), c * 64);
    obj.update('kd_st_count', key, value);
    assert.deepEqual(obj.lookup('kd_st_count', key), value);
    assert.throws(() => obj.update('kd_st_count', key, Buffer.alloc(64)), cpus > 1 ? /must be \d+ bytes, got 64/ : /^$/);
  });

  it('throws a readable error naming the path for a missing object file', () => {
    assert.throws(
      () => BpfObject.open('/nonexistent/kd.bpf.o'),
      (e: unknown) => e instanceof BpfError && e.code === 'ENOENT' && e.errno === 2 && /cannot open BPF object \/nonexistent\/kd\.bpf\.o: No such file/.test(e.message),
    );
  });

  it('throws the verifier log for a program the verifier rejects', () => {
    const obj = BpfObject.open(REJECT);
    opened.push(obj);
    assert.throws(
      () => obj.load(),
      (e: unknown) =>
        e instanceof BpfError &&
        e.code === 'EINVAL' &&
        /cannot load BPF object test_reject/.test(e.message) &&
        /R0 has unknown scalar value should have been in \[0, 1\]/.test(e.message) &&
        /kd_rej_sockops/.test(e.message),
    );
  });

  it('leaves no program attached or loaded after the attaching process is SIGKILLed', async function () {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kdbp-native-'));
    tmp.push(dir);
    const child = path.join(dir, 'attach.ts');
    writeFileSync(
      child,
      `import { BpfObject } from ${JSON.stringify(path.join(REPO, 'probe', 'bpf.js'))};
const obj = BpfObject.open(${JSON.stringify(TINY)});
obj.load();
obj.attachCgroup('kd_tiny_sockops', ${JSON.stringify(cgroup)});
process.stdout.write('attached\\n');
// Keep obj reachable: an unreferenced BpfObject is garbage-collected and its finalizer detaches (as the agent relies on).
setInterval(() => obj, 1000);
`,
    );
    const before = new Set(progIds('kd_tiny_sockops'));
    const proc = spawn(process.execPath, ['--import', 'tsx', child], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    try {
      await new Promise<void>((resolve, reject) => {
        let err = '';
        proc.stderr?.on('data', (d: Buffer) => (err += d.toString()));
        proc.stdout?.on('data', (d: Buffer) => d.toString().includes('attached') && resolve());
        proc.once('exit', (code) => reject(new Error(`child exited ${code}: ${err}`)));
      });
      const mine = progIds('kd_tiny_sockops').filter((id) => !before.has(id));
      assert.equal(mine.length, 1, 'the child attached one program');
      assert.ok(cgroupTreeIds().includes(mine[0] as number), `bpftool cgroup tree shows it attached:\n${execFileSync('bpftool', ['cgroup', 'tree'], { encoding: 'utf8' })}`);

      const exited = new Promise((r) => proc.once('exit', r));
      process.kill(-(proc.pid as number), 'SIGKILL');
      await exited;
      for (let i = 0; i < 50 && progIds('kd_tiny_sockops').some((id) => mine.includes(id)); i++) await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(progIds('kd_tiny_sockops').filter((id) => mine.includes(id)), [], 'bpftool prog show: the program is gone');
      assert.equal(cgroupTreeIds().filter((id) => mine.includes(id)).length, 0, 'bpftool cgroup tree: nothing of ours attached');
    } finally {
      if (proc.exitCode === null && proc.signalCode === null) process.kill(-(proc.pid as number), 'SIGKILL');
    }
  });
});
