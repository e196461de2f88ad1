/**
 * `kdrift probe` as a command: refuses clearly when it cannot run, serves Prometheus metrics while observing, and
 * detaches and prints its summary on SIGTERM. Runs in this netns on loopback (the agent watches only its own netns
 * and only the test's ephemeral port).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { REPO, killGroup, waitForLine } from '../support/probe-netns.js';
import { promtoolCheck } from '../support/conformance.js';

const ENTRY = path.join(REPO, 'probe', 'agent-entry.ts');

function runSync(argv: string[], prefix: string[] = []): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(prefix[0] ?? process.execPath, [...prefix.slice(1), ...(prefix.length ? [process.execPath] : []), '--import', 'tsx', ENTRY, ...argv], { cwd: REPO, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('kdrift probe command', function () {
  this.timeout(40_000);
  const started: ChildProcess[] = [];
  after(() => started.forEach(killGroup));

  it('exits 1 with one clear line, no stack, when not run as root', () => {
    const r = runSync(['probe', '--duration', '1s'], ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^kdrift probe: the probe must run as root .*running as uid 65534\n$/);
  });

  it('exits 1 naming the bad option value', () => {
    const r = runSync(['probe', '--netns', 'other']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'kdrift probe: --netns must be "self" or "all", got "other"\n');
    assert.match(runSync(['probe', '--port', '70000']).stderr, /--port must be a TCP port 1-65535, got "70000"/);
  });

  it('serves bounded-label metrics while observing, then detaches and prints its summary on SIGTERM', async () => {
    const server = net.createServer((s) => s.destroy());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const agent = spawn(process.execPath, ['--import', 'tsx', ENTRY, 'probe', '--serve', '127.0.0.1:0', '--port', String(port)], { cwd: REPO, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      started.push(agent);
      let stdout = '';
      agent.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
      const line = await waitForLine(agent, 'stderr', /metrics at http:\/\//);
      const url = (/(http:\/\/\S+)/.exec(line) as RegExpExecArray)[1] as string;
      for (let i = 0; i < 2; i++) {
        await new Promise<void>((resolve, reject) => {
          const c = net.connect(port, '127.0.0.1', () => {
            c.end();
            resolve();
          });
          c.once('error', reject);
        });
      }
      const text = await (await fetch(url)).text();
      assert.match(text, new RegExp(`^kdrift_tcp_connections_total\\{port="${port}",direction="in",outcome="negotiated"\\} 2$`, 'm'));
      assert.match(text, new RegExp(`^kdrift_tcp_connections_total\\{port="${port}",direction="out",outcome="negotiated"\\} 2$`, 'm'));
      assert.match(text, /^# TYPE kdrift_tcp_zero_window_total counter$/m);
      // What Prometheus scrapes passes its own linter.
      const lint = await promtoolCheck(text);
      assert.equal(lint.stdout + lint.stderr, '');
      assert.equal(lint.code, 0);

      const exited = new Promise<number | null>((r) => agent.once('exit', (code) => r(code)));
      process.kill(agent.pid as number, 'SIGTERM');
      assert.equal(await exited, 0);
      assert.match(stdout, new RegExp(`^${port}\\s+in\\s+\\d+\\s+2\\s+2\\s+1\\.00`, 'm'));
    } finally {
      server.close();
    }
  });

  it('loads only the window-scaling program with --observe wscale, and says so in its JSON', async () => {
    const server = net.createServer((s) => s.destroy());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const c = spawn(process.execPath, ['--import', 'tsx', ENTRY, 'probe', '--json', '--observe', 'wscale', '--duration', '1s', '--port', String(port), '--connect', `127.0.0.1:${port}`], { cwd: REPO, detached: true });
        started.push(c);
        let stdout = '';
        let stderr = '';
        c.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
        c.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
        c.once('close', (code) => resolve({ code, stdout, stderr }));
      });
      assert.equal(r.code, 0, r.stderr);
      const o = JSON.parse(r.stdout) as { observed: string[]; retransmitHook: string; summary: Array<{ port: number; connections: number; own: { connections: number } }> };
      assert.deepEqual(o.observed, ['wscale']);
      assert.equal(o.retransmitHook, 'none');
      // Its own 3 test connections, both ends of each (out from the connect, in at the listener), tagged in the kernel
      // and counted apart from real traffic: nothing else connected.
      const mine = o.summary.filter((x) => x.port === port);
      assert.equal(mine.reduce((n, x) => n + x.own.connections, 0), 6);
      assert.equal(mine.reduce((n, x) => n + x.connections, 0), 0);
    } finally {
      server.close();
    }
    assert.match(runSync(['probe', '--observe', 'packets']).stderr, /--observe takes a comma-separated list of wscale, stalls, [a-z, ]+; got "packets"/);
  });
});
