/**
 * The watch log's last writer reaches a drifting host's finding through the ONE sysctl collect exec: no file read,
 * no second exec. A real LocalSession reads a fixture tree (`sysctlRoot`); the session counts what the engine asks of it.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseBaseline } from '../../core/baseline.js';
import { checkHost, WRITE_LOG_PATH } from '../../core/engine/index.js';
import type { HostEntry } from '../../core/inventory.js';
import { LocalSession } from '../../core/session-local.js';
import type { ExecOptions, ExecResult } from '../../core/session.js';
import { collectSysctlState, WRITE_LOG_TAIL_BYTES } from '../../checks/sysctl-persisted.js';

const KEY = 'net.ipv4.tcp_window_scaling';
const baseline = parseBaseline({ roles: { 'load-balancer': { sysctls: { [KEY]: { equals: 1, severity: 'critical' } } } } }, 'write-log-collect baseline');
const host: HostEntry = { name: 'lb1', address: '127.0.0.1', port: 22, user: 'root', roles: ['load-balancer'], local: true };

/** A LocalSession that records every exec and refuses file reads (the collect must not need one). */
class CountingSession extends LocalSession {
  execs: string[][] = [];
  override exec(argv: readonly string[], opts?: ExecOptions): Promise<ExecResult> {
    this.execs.push([...argv]);
    return super.exec(argv, opts);
  }
  override readFile(file: string): Promise<Buffer> {
    return Promise.reject(new Error(`unexpected file read of ${file}`));
  }
}

const rec = (result: string, comm: string, at: string, pad = '') =>
  JSON.stringify({ at, key: KEY, oldValue: '1', result, process: { comm: `${comm}${pad}`, pid: 7, parentComm: 'harden.sh', ppid: 6 }, netns: 4026531840 });

describe('engine: the write log rides in the sysctl collect exec', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(path.join(os.tmpdir(), 'kdwl-'));
    mkdirSync(path.join(root, 'proc/sys/net/ipv4'), { recursive: true });
    mkdirSync(path.join(root, 'etc/sysctl.d'), { recursive: true });
    mkdirSync(path.join(root, path.dirname(WRITE_LOG_PATH)), { recursive: true });
    writeFileSync(path.join(root, 'proc/sys/net/ipv4/tcp_window_scaling'), '0\n');
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('attributes a drifting key to its last logged writer with one exec and no file read', async () => {
    const log = path.join(root, WRITE_LOG_PATH);
    writeFileSync(`${log}.1`, `${rec('0', 'old-writer', '2026-01-01T00:00:00.000Z')}\n`);
    writeFileSync(log, `${rec('0', 'sysctl', '2026-01-02T00:00:00.000Z')}\n{"cut by rotat\n${rec('1', 'fixer', '2026-01-03T00:00:00.000Z')}\n`);
    const session = new CountingSession('lb1');
    try {
      const report = await checkHost(session, host, baseline, { sysctlRoot: root });
      assert.equal(session.execs.length, 1, `execs: ${JSON.stringify(session.execs.map((a) => a.slice(0, 2)))}`);
      const runtime = report.findings.find((f) => f.key === KEY && f.layer === 'runtime');
      assert.equal(runtime?.status, 'drift');
      assert.equal(runtime?.reason, 'last written 1 -> 0 by sysctl[7] (parent harden.sh[6]) in netns 4026531840 at 2026-01-02T00:00:00.000Z');
    } finally {
      await session.close();
    }
  });

  it('reads only the end of a long log (from a line start) and reports as before without one', async () => {
    const session = new CountingSession('lb1');
    try {
      const none = await checkHost(session, host, baseline, { sysctlRoot: root });
      assert.equal(none.status, 'drift');
      assert.equal(none.findings.find((f) => f.layer === 'runtime')?.reason, undefined);

      const old = `${rec('0', 'early', '2026-01-01T00:00:00.000Z', 'x'.repeat(200))}\n`.repeat(Math.ceil((2 * WRITE_LOG_TAIL_BYTES) / 300));
      writeFileSync(path.join(root, WRITE_LOG_PATH), `${rec('0', 'first', '2025-12-31T00:00:00.000Z')}\n${old}${rec('0', 'latest', '2026-01-05T00:00:00.000Z')}\n`);
      const long = await checkHost(session, host, baseline, { sysctlRoot: root });
      assert.match(long.findings.find((f) => f.layer === 'runtime')?.reason ?? '', /by latest\[7\]/);
      assert.equal(session.execs.length, 2);
      const state = await collectSysctlState(session, [KEY], { root, writeLogPath: WRITE_LOG_PATH });
      const [tail] = state.writeLog ?? [];
      assert.equal(state.writeLog?.length, 1, 'the absent rotated file is left out');
      assert.ok(tail !== undefined && tail.length <= WRITE_LOG_TAIL_BYTES && tail.length > WRITE_LOG_TAIL_BYTES / 2, `tail of ${tail?.length} bytes`);
      assert.ok(tail.startsWith('{"at"') && !tail.includes('first'), 'the tail starts at a line and drops the oldest writes');
    } finally {
      await session.close();
    }
  });
});
