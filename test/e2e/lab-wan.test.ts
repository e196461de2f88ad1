/**
 * The lab's WAN link, end to end: real TUN devices in client and lb, the Node delay line between them, real TCP.
 * The RTT is what was asked; the outage of DESIGN.md reproduces (window scaling off on lb → 8 MiB responses ≥ 5×
 * slower); off only on app1 hurts only the backend legs to app1; the delay line's death is reported and mended.
 * Lab name kdla, subnet 71 (this helper's assignment). Needs root.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { labUp, labDown, labStatus, labExecOk, type LabStatus } from '../../lab/index.js';
import { runLoad, measureConnect } from '../../lab/load-run.js';
import { slotName, slotSubnet } from '../support/slot.js';
import { execOut } from '../support/exec-out.js';

const LAB = slotName('kdla');
const SUBNET = slotSubnet(71);
const NET = `10.${SUBNET}`;
const WS = 'net.ipv4.tcp_window_scaling';
const MiB8 = 8 * 1024 * 1024;


const setWs = (host: string, v: 0 | 1) => labExecOk(LAB, host, ['sysctl', '-q', '-w', `${WS}=${v}`]);

/** `ss -tin` inside lb: established TCP connections with their peer and whether window scaling was negotiated. */
async function lbConnections(): Promise<{ peer: string; wscale: boolean }[]> {
  const out = await labExecOk(LAB, 'lb', ['ss', '-Htin', 'state', 'established']);
  const conns: { peer: string; wscale: boolean }[] = [];
  const lines = out.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const cols = (lines[i] as string).trim().split(/\s+/);
    // A socket line: Recv-Q Send-Q Local Peer; the info line (cubic wscale:… rto:…) follows it.
    if (cols.length >= 4 && /^\d+$/.test(cols[0] as string) && /:\d+$/.test(cols[3] as string)) {
      const info = lines[i + 1] ?? '';
      conns.push({ peer: cols[3] as string, wscale: /\bwscale:\d+,\d+/.test(info) });
    }
  }
  return conns;
}

describe(`lab WAN link (${LAB}: client ⇄ TUN + delay line ⇄ lb)`, function () {
  this.timeout(180_000);
  let st: LabStatus;

  before(async function () {
    if (process.getuid?.() !== 0) this.skip(); // namespaces and TUN devices need root
    st = await labUp({ name: LAB, subnet: SUBNET, rttMs: 50 });
  });

  after(async function () {
    if (process.getuid?.() !== 0) return;
    await labDown(LAB);
  });

  for (const rtt of [20, 100]) {
    it(`TCP connect time client → lb across the link is within ±20 % of a requested ${rtt} ms RTT`, async function () {
      const s = await labUp({ name: LAB, subnet: SUBNET, rttMs: rtt });
      assert.equal(s.wan.rttMs, rtt);
      assert.equal(s.wan.alive, true);
      const c = await measureConnect(LAB, { count: 30 });
      assert.equal(c.errors, 0);
      assert.ok(c.p50Ms >= rtt * 0.8 && c.p50Ms <= rtt * 1.2, `p50 connect ${c.p50Ms} ms for rtt ${rtt} ms (min ${c.minMs}, max ${c.maxMs})`);
      // The LAN path to lb stays sub-millisecond-ish: the RTT is only on the WAN link.
      const lan = await measureConnect(LAB, { count: 5, target: 'lan' });
      assert.ok(lan.p50Ms < rtt * 0.2, `LAN connect ${lan.p50Ms} ms`);
    });
  }

  it('the outage reproduces: tcp_window_scaling=0 on lb makes 8 MiB responses at least 5× slower (p50)', async function () {
    st = await labUp({ name: LAB, subnet: SUBNET, rttMs: 50 });
    const good = await runLoad(LAB, { requests: 3, size: MiB8, concurrency: 1 });
    assert.equal(good.errors, 0, good.errorSamples.join('; '));
    try {
      await setWs('lb', 0);
      const bad = await runLoad(LAB, { requests: 3, size: MiB8, concurrency: 1 });
      assert.equal(bad.errors, 0, bad.errorSamples.join('; '));
      assert.ok(bad.p50Ms >= 5 * good.p50Ms, `p50 with scaling ${good.p50Ms} ms, without ${bad.p50Ms} ms`);
      // 64 KiB per 50 ms round trip is the ceiling without scaling: about 1.3 MB/s.
      assert.ok(bad.bytesPerSecond < 1.6e6, `throughput without scaling ${bad.bytesPerSecond} B/s`);
    } finally {
      await setWs('lb', 1);
    }
  });

  it('tcp_window_scaling=0 only on app1: the client side keeps scaling and its latency, the backend legs to app1 lose it', async function () {
    const baseline = await runLoad(LAB, { requests: 2, size: MiB8, concurrency: 1 });
    try {
      await setWs('app1', 0);
      // Long transfers (2 at a time, round-robin over app1/app2) while we watch lb's sockets.
      const load = runLoad(LAB, { requests: 4, size: 32 * 1024 * 1024, concurrency: 2 });
      let done = false;
      void load.finally(() => (done = true));
      const seen = { app1: [] as boolean[], app2: [] as boolean[], client: [] as boolean[] };
      while (!done) {
        for (const c of await lbConnections()) {
          if (c.peer === `${NET}.0.11:8080`) seen.app1.push(c.wscale);
          else if (c.peer === `${NET}.0.12:8080`) seen.app2.push(c.wscale);
          else if (c.peer.startsWith(`${NET}.1.1:`)) seen.client.push(c.wscale);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      const res = await load;
      assert.equal(res.errors, 0, res.errorSamples.join('; '));
      assert.ok(seen.app1.length > 0 && seen.app2.length > 0 && seen.client.length > 0, `saw connections: ${JSON.stringify(seen)}`);
      assert.ok(seen.app1.every((w) => !w), 'backend legs to app1 have no window scaling');
      assert.ok(seen.app2.every((w) => w), 'backend legs to app2 keep it');
      assert.ok(seen.client.every((w) => w), 'client-facing connections keep it');
      // The client-facing side is unaffected: 8 MiB responses as fast as before (LAN legs do not need scaling).
      const after = await runLoad(LAB, { requests: 2, size: MiB8, concurrency: 1 });
      assert.ok(after.p50Ms < 2 * baseline.p50Ms, `p50 ${after.p50Ms} ms vs ${baseline.p50Ms} ms before`);
    } finally {
      await setWs('app1', 1);
    }
  });

  it('a 40mbit bandwidth cap holds throughput at or below 5 MB/s, and removing it lifts the cap', async function () {
    try {
      const capped = await labUp({ name: LAB, subnet: SUBNET, rttMs: 50, bandwidth: '40mbit' });
      assert.equal(capped.wan.bandwidthBytesPerSec, 5_000_000);
      const r = await runLoad(LAB, { requests: 2, size: MiB8, concurrency: 2 });
      assert.equal(r.errors, 0, r.errorSamples.join('; '));
      assert.ok(r.bytesPerSecond <= 5_000_000 * 1.05 && r.bytesPerSecond > 2_500_000, `capped throughput ${r.bytesPerSecond} B/s`);
    } finally {
      const free = await labUp({ name: LAB, subnet: SUBNET, rttMs: 50, bandwidth: 0 });
      assert.equal(free.wan.bandwidthBytesPerSec, null);
    }
  });

  it('kdrift lab load --json (the CLI) prints requests, errors, p50Ms, p95Ms, maxMs and bytesPerSecond', async function () {
    const r = await execOut(process.execPath, ['bin/kdrift.js', 'lab', 'load', '--name', LAB, '--requests', '2', '--size', '1MiB', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as Record<string, unknown>;
    for (const k of ['requests', 'errors', 'p50Ms', 'p95Ms', 'maxMs', 'bytesPerSecond']) assert.equal(typeof j[k], 'number', k);
    assert.equal(j.requests, 2);
    assert.equal(j.errors, 0);
    assert.equal(j.url, `http://${NET}.1.2:80/bytes/1048576`);
    assert.ok((j.p50Ms as number) >= 50, `a 1 MiB response across 50 ms RTT takes at least one round trip: ${j.p50Ms} ms`);
    const bad = await execOut(process.execPath, ['bin/kdrift.js', 'lab', 'load', '--name', LAB, '--size', 'huge']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--size: "huge" is not a size in bytes/);
  });

  it('killing the delay line makes lab status say so, and lab up mends it', async function () {
    const before = await labStatus(LAB);
    assert.equal(before.wan.alive, true);
    process.kill(before.wan.pid as number, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 200));
    const dead = await labStatus(LAB);
    assert.equal(dead.wan.alive, false);
    assert.equal(dead.wan.pid, null);
    assert.equal(dead.healthy, false);
    const cli = await execOut(process.execPath, ['bin/kdrift.js', 'lab', 'status', '--name', LAB]);
    assert.equal(cli.code, 1);
    assert.match(cli.stdout, /delay line DEAD/);
    const mended = await labUp({ name: LAB, subnet: SUBNET });
    assert.equal(mended.wan.alive, true);
    assert.notEqual(mended.wan.pid, before.wan.pid);
    const c = await measureConnect(LAB, { count: 3 });
    assert.equal(c.errors, 0);
    assert.ok(c.p50Ms >= 40, `connect ${c.p50Ms} ms still crosses the 50 ms link`);
  });

  it('lab down leaves no TUN device, no delay-line process, no namespace, no /etc/netns dir', async function () {
    const pid = (await labStatus(LAB)).wan.pid as number;
    await labDown(LAB);
    assert.doesNotMatch((await execOut('ip', ['netns', 'list'])).stdout, new RegExp(`${LAB}-`));
    assert.doesNotMatch((await execOut('ip', ['-o', 'link', 'show', 'type', 'tun'])).stdout, new RegExp(`${LAB}|wan0`));
    const alive = existsSync(`/proc/${pid}`) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('delay-line');
    assert.equal(alive, false);
    for (const p of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
      let cmd = '';
      try {
        cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
      } catch {
        continue;
      }
      assert.ok(!(cmd.includes('delay-line') && cmd.includes(`${LAB}-`)), `delay line ${p} left`);
    }
    for (const h of ['lb', 'app1', 'app2', 'client']) assert.equal(existsSync(`/etc/netns/${LAB}-${h}`), false);
  });
});
