/**
 * The probe agent on the real kernel, in our own network namespaces (kdbp-srv ↔ kdbp-cli over a veth, 10.73.1.x).
 * Each scenario sets net.ipv4.tcp_window_scaling per namespace, starts the agent inside a namespace with
 * `ip netns exec`, drives connections, and checks what the agent reports and whom it blames.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { ProbeObservation, PortSummary } from '../../probe/observation.js';
import { REPO, cleanup, killGroup, makeNetnsPair, runClient, startAgent, startServer, sysctlIn } from './probe-netns.js';

const SRV = 'kdbp-srv';
const CLI = 'kdbp-cli';
const PORT = 8080;

function row(obs: ProbeObservation, direction: 'in' | 'out'): PortSummary {
  const r = obs.summary.find((s) => s.port === PORT && s.direction === direction);
  assert.ok(r, `no ${direction} row for port ${PORT} in ${JSON.stringify(obs.summary)}`);
  return r;
}

describe('probe agent in network namespaces (window scaling, zero window)', function () {
  this.timeout(60_000);
  let srvAddr = '';

  before(function () {
    assert.equal(process.geteuid?.(), 0, 'the probe e2e tests need root');
    for (const f of ['bpf/tcp_wscale.bpf.o', 'bpf/tcp_stalls.bpf.o', 'native/build/Release/kdrift_bpf.node']) {
      assert.ok(existsSync(path.join(REPO, f)), `${f} is missing: run npm run build`);
    }
    srvAddr = makeNetnsPair(SRV, CLI, 1).addrA;
  });
  after(cleanup);

  async function scenario(srvScaling: number, cliScaling: number, agentsIn: string[]): Promise<Map<string, ProbeObservation>> {
    sysctlIn(SRV, 'net.ipv4.tcp_window_scaling', srvScaling);
    sysctlIn(CLI, 'net.ipv4.tcp_window_scaling', cliScaling);
    const agents = await Promise.all(agentsIn.map(async (ns) => [ns, await startAgent(ns, ['--duration', '3s', '--port', String(PORT)])] as const));
    // The server starts after the agents attached, so its listener saves SYNs and the passive side sees the offer.
    const server = await startServer(SRV, srvAddr, PORT, 'close');
    try {
      await runClient(CLI, srvAddr, PORT, 5);
      const out = new Map<string, ProbeObservation>();
      for (const [ns, a] of agents) out.set(ns, await a.result);
      return out;
    } finally {
      killGroup(server);
    }
  }

  it('reports every connection negotiated when both namespaces have tcp_window_scaling=1', async () => {
    const obs = (await scenario(1, 1, [SRV])).get(SRV) as ProbeObservation;
    const r = row(obs, 'in');
    assert.equal(r.connections, 5);
    assert.equal(r.negotiated, 5);
    assert.equal(r.share, 1);
    assert.ok(obs.samples.length >= 5);
    for (const s of obs.samples) {
      assert.equal(s.wscaleOk, true);
      assert.equal(s.localOffered, 'yes');
      assert.equal(s.peerOffered, 'yes', 'the saved SYN shows the client offered');
      assert.ok(s.remote.startsWith('10.73.1.2:'), s.remote);
      assert.equal(s.local, `${srvAddr}:${PORT}`);
    }
    // The agent watches its own netns only: the client's side (another netns) is not in its report.
    assert.equal(obs.summary.filter((s) => s.direction === 'out' && s.connections > 0).length, 0);
  });

  it('blames the local side on the server and the peer on the client when the server netns has tcp_window_scaling=0', async () => {
    const res = await scenario(0, 1, [SRV, CLI]);
    const srv = row(res.get(SRV) as ProbeObservation, 'in');
    assert.equal(srv.connections, 5);
    assert.equal(srv.negotiated, 0);
    assert.deepEqual(srv.lackedBy, { local: 5, peer: 0, unknown: 0 });
    for (const s of (res.get(SRV) as ProbeObservation).samples) {
      assert.equal(s.localOffered, 'no');
      assert.equal(s.peerOffered, 'yes', 'the client offered window scaling in its SYN');
    }
    const cli = row(res.get(CLI) as ProbeObservation, 'out');
    assert.equal(cli.connections, 5);
    assert.deepEqual(cli.lackedBy, { local: 0, peer: 5, unknown: 0 });
    for (const s of (res.get(CLI) as ProbeObservation).samples) assert.equal(s.peerOffered, 'no', 'the SYN-ACK had no WS option');
  });

  it('blames the peer on the server when the client netns has tcp_window_scaling=0', async () => {
    const obs = (await scenario(1, 0, [SRV])).get(SRV) as ProbeObservation;
    const r = row(obs, 'in');
    assert.equal(r.connections, 5);
    assert.deepEqual(r.lackedBy, { local: 0, peer: 5, unknown: 0 });
    for (const s of obs.samples) {
      assert.equal(s.localOffered, 'yes');
      assert.equal(s.peerOffered, 'no', 'the saved SYN had no WS option');
    }
  });

  it('still blames the peer when the listener predates the probe (no saved SYN: deduced from our own offer)', async () => {
    sysctlIn(SRV, 'net.ipv4.tcp_window_scaling', 1);
    sysctlIn(CLI, 'net.ipv4.tcp_window_scaling', 0);
    const server = await startServer(SRV, srvAddr, PORT, 'close');
    try {
      const agent = await startAgent(SRV, ['--duration', '3s', '--port', String(PORT)]);
      await runClient(CLI, srvAddr, PORT, 3);
      const obs = await agent.result;
      assert.deepEqual(row(obs, 'in').lackedBy, { local: 0, peer: 3, unknown: 0 });
      for (const s of obs.samples) assert.equal(s.peerOffered, 'unknown');
    } finally {
      killGroup(server);
    }
  });

  it('counts zero-window advertisements and probes when the receiver stops reading', async () => {
    sysctlIn(SRV, 'net.ipv4.tcp_window_scaling', 1);
    sysctlIn(CLI, 'net.ipv4.tcp_window_scaling', 1);
    const srvAgent = await startAgent(SRV, ['--duration', '5s', '--port', String(PORT)]);
    const cliAgent = await startAgent(CLI, ['--duration', '5s', '--port', String(PORT)]);
    const server = await startServer(SRV, srvAddr, PORT, 'hold', 4096);
    try {
      await runClient(CLI, srvAddr, PORT, 1, 2.5);
      const srv = row(await srvAgent.result, 'in');
      const cli = row(await cliAgent.result, 'out');
      assert.ok(srv.zeroWindow.sent >= 1, `server advertised zero windows: ${JSON.stringify(srv)}`);
      assert.ok(cli.zeroWindow.received >= 1, `client saw zero windows: ${JSON.stringify(cli)}`);
      assert.ok(cli.zeroWindowProbes.sent >= 1, `client probed the zero window: ${JSON.stringify(cli)}`);
      assert.ok(srv.zeroWindowProbes.received >= 1, `server received window probes: ${JSON.stringify(srv)}`);
      assert.ok(cli.dataSegmentsOut > 0 && srv.segmentsIn > 0);
    } finally {
      killGroup(server);
    }
  });
});
