/**
 * The probe agent on the real kernel, in our own network namespaces (kdbp-srv ↔ kdbp-cli over a veth, 10.73.1.x).
 * Each scenario sets net.ipv4.tcp_window_scaling per namespace, starts the agent inside a namespace with
 * `ip netns exec`, drives connections, and checks what the agent reports and whom it blames.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { BpfObject } from '../../probe/bpf.js';
import { cgroup2Root } from '../../probe/cgroup.js';
import { LocalSession } from '../../core/session-local.js';
import type { HostSession } from '../../core/session.js';
import type { HostEntry } from '../../core/inventory.js';
import { windowScalingSpec } from '../../checks/tcp-window-scaling.schema.js';
import { zeroWindowSpec } from '../../checks/tcp-zero-window.schema.js';
import { behaviourKinds } from '../../checks/registry.js';
import { windowScalingCheck } from '../../checks/tcp-window-scaling.js';
import { congestionControlCheck } from '../../checks/tcp-congestion-control.js';
import { congestionControlSpec } from '../../checks/tcp-congestion-control.schema.js';
import { zeroWindowCheck } from '../../checks/tcp-zero-window.js';
import path from 'node:path';
import type { ProbeObservation, PortSummary } from '../../probe/observation.js';
import { REPO, cleanup, killGroup, makeNetnsPair, runClient, sh, spawnIn, startAgent, startServer, sysctlIn, waitForLine } from '../support/probe-netns.js';
import { slotName } from '../support/slot.js';

const SRV = `${slotName('kdbp')}-srv`;
const CLI = `${slotName('kdbp')}-cli`;
const PORT = 8080;

function row(obs: ProbeObservation, direction: 'in' | 'out'): PortSummary {
  const r = obs.summary.find((s) => s.port === PORT && s.direction === direction);
  assert.ok(r, `no ${direction} row for port ${PORT} in ${JSON.stringify(obs.summary)}`);
  return r;
}

describe('probe agent in network namespaces (window scaling, zero window, retransmits)', function () {
  this.timeout(60_000);
  let srvAddr = '';

  before(function () {
    assert.equal(process.geteuid?.(), 0, 'the probe e2e tests need root');
    for (const f of ['bpf/tcp_wscale.bpf.o', 'bpf/tcp_stalls.bpf.o', 'native/build/Release/kdrift_bpf.node']) {
      assert.ok(existsSync(path.join(REPO, f)), `${f} is missing: run npm run build`);
    }
    srvAddr = makeNetnsPair(SRV, CLI, 1).addrA;
  });
  let dropCgroup = '';
  let drop: BpfObject | undefined;
  after(async () => {
    cleanup();
    drop?.close();
    // The receiver was SIGKILLed by cleanup(); its cgroup can go once it has exited.
    for (let i = 0; dropCgroup && existsSync(dropCgroup) && i < 40; i++) {
      try {
        rmdirSync(dropCgroup);
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  });

  async function scenario(srvScaling: number, cliScaling: number, agentsIn: string[]): Promise<Map<string, ProbeObservation>> {
    sysctlIn(SRV, 'net.ipv4.tcp_window_scaling', srvScaling);
    sysctlIn(CLI, 'net.ipv4.tcp_window_scaling', cliScaling);
    const agents = await Promise.all(agentsIn.map(async (ns) => [ns, await startAgent(ns, ['--duration', '60s', '--port', String(PORT)])] as const));
    // The server starts after the agents attached (it does not have to: nothing is set on listeners).
    const server = await startServer(SRV, srvAddr, PORT, 'close');
    try {
      await runClient(CLI, srvAddr, PORT, 5);
      const out = new Map<string, ProbeObservation>();
      for (const [ns, a] of agents) out.set(ns, await a.finish());
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
      assert.equal(s.peerOffered, 'yes', 'negotiated: both offered');
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
      // Our SYN-ACK lacked the option because we did not offer it; the client's SYN is not parsed for it then.
      assert.equal(s.peerOffered, 'unknown');
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
      assert.equal(s.peerOffered, 'no', 'we offered and it was not negotiated: the SYN had no WS option');
    }
  });

  it('blames the peer when the listener predates the probe (nothing is set on listeners: deduced from our own offer)', async () => {
    sysctlIn(SRV, 'net.ipv4.tcp_window_scaling', 1);
    sysctlIn(CLI, 'net.ipv4.tcp_window_scaling', 0);
    const server = await startServer(SRV, srvAddr, PORT, 'close');
    try {
      const agent = await startAgent(SRV, ['--duration', '60s', '--port', String(PORT)]);
      await runClient(CLI, srvAddr, PORT, 3);
      const obs = await agent.finish();
      assert.deepEqual(row(obs, 'in').lackedBy, { local: 0, peer: 3, unknown: 0 });
      for (const s of obs.samples) assert.equal(s.peerOffered, 'no');
    } finally {
      killGroup(server);
    }
  });

  it('counts zero-window advertisements and probes when the receiver stops reading', async () => {
    sysctlIn(SRV, 'net.ipv4.tcp_window_scaling', 1);
    sysctlIn(CLI, 'net.ipv4.tcp_window_scaling', 1);
    const srvAgent = await startAgent(SRV, ['--duration', '60s', '--port', String(PORT)]);
    const cliAgent = await startAgent(CLI, ['--duration', '60s', '--port', String(PORT)]);
    const server = await startServer(SRV, srvAddr, PORT, 'hold', { rcvbuf: 4096 });
    try {
      await runClient(CLI, srvAddr, PORT, 1, 2.5);
      const srv = row(await srvAgent.finish(), 'in');
      const cli = row(await cliAgent.finish(), 'out');
      assert.ok(srv.zeroWindow.sent >= 1, `server advertised zero windows: ${JSON.stringify(srv)}`);
      assert.ok(cli.zeroWindow.received >= 1, `client saw zero windows: ${JSON.stringify(cli)}`);
      assert.ok(cli.zeroWindowProbes.sent >= 1, `client probed the zero window: ${JSON.stringify(cli)}`);
      assert.ok(srv.zeroWindowProbes.received >= 1, `server received window probes: ${JSON.stringify(srv)}`);
      assert.ok(cli.dataSegmentsOut > 0 && srv.segmentsIn > 0);
    } finally {
      killGroup(server);
    }
  });

  /** Sends 2 MB from the client to the server at `addr` while the client's agent watches; returns what the agent
   * counted as data segments out and what the socket itself counted (tcpi_data_segs_out, offset 156 of struct
   * tcp_info: every data segment sent, retransmits included, per GSO segment), read after the server read it all. */
  async function segmentsOut(addr: string): Promise<{ probe: number; kernel: number }> {
    const cliAgent = await startAgent(CLI, ['--duration', '60s', '--port', String(PORT)]);
    const server = await startServer(SRV, addr, PORT, 'drain');
    try {
      const script = `
import socket, struct, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
c.sendall(b'x' * (2 << 20))
c.shutdown(socket.SHUT_WR)
while c.recv(65536): pass
info = c.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 232)
print('segs', struct.unpack_from('I', info, 156)[0], flush=True)
c.close()
`;
      const client = spawnIn(CLI, ['python3', '-c', script, addr, String(PORT)]);
      const line = await waitForLine(client, 'stdout', /^segs \d+/, 30_000);
      const kernel = Number(/segs (\d+)/.exec(line)?.[1]);
      assert.ok(kernel > 10, line);
      return { probe: row(await cliAgent.finish(), 'out').dataSegmentsOut, kernel };
    } finally {
      killGroup(server);
    }
  }

  it('counts each data segment once through a bridge (a stacked device hands the same skb to its port)', async () => {
    sysctlIn(SRV, 'net.ipv4.tcp_window_scaling', 1);
    sysctlIn(CLI, 'net.ipv4.tcp_window_scaling', 1);
    const cliVeth = `${CLI}0`.slice(0, 15);
    sh('ip', ['-n', SRV, 'addr', 'add', '10.73.142.1/24', 'dev', `${SRV}0`.slice(0, 15)]);
    sh('ip', ['-n', CLI, 'link', 'add', 'kdbr0', 'type', 'bridge']);
    try {
      sh('ip', ['-n', CLI, 'link', 'set', cliVeth, 'master', 'kdbr0']);
      sh('ip', ['-n', CLI, 'addr', 'add', '10.73.142.2/24', 'dev', 'kdbr0']);
      sh('ip', ['-n', CLI, 'link', 'set', 'kdbr0', 'up']);
      const { probe, kernel } = await segmentsOut('10.73.142.1');
      assert.equal(probe, kernel, `the probe counted ${probe} data segments, the socket sent ${kernel}`);
    } finally {
      // The other scenarios use the veth's own address, which an enslaved port does not answer on.
      sh('ip', ['-n', CLI, 'link', 'del', 'kdbr0']);
      sh('ip', ['-n', SRV, 'addr', 'del', '10.73.142.1/24', 'dev', `${SRV}0`.slice(0, 15)]);
    }
  });

  it('counts each data segment once through a VXLAN tunnel (the outer packet is UDP)', async () => {
    sysctlIn(SRV, 'net.ipv4.tcp_window_scaling', 1);
    sysctlIn(CLI, 'net.ipv4.tcp_window_scaling', 1);
    const tunnel = (ns: string, local: string, remote: string, inner: string) => {
      sh('ip', ['-n', ns, 'link', 'add', 'kdvx0', 'type', 'vxlan', 'id', '42', 'local', local, 'remote', remote, 'dstport', '4789', 'dev', `${ns}0`.slice(0, 15)]);
      sh('ip', ['-n', ns, 'addr', 'add', `${inner}/24`, 'dev', 'kdvx0']);
      sh('ip', ['-n', ns, 'link', 'set', 'kdvx0', 'up']);
    };
    try {
      tunnel(SRV, srvAddr, '10.73.1.2', '10.73.143.1');
      tunnel(CLI, '10.73.1.2', srvAddr, '10.73.143.2');
      const { probe, kernel } = await segmentsOut('10.73.143.1');
      assert.equal(probe, kernel, `the probe counted ${probe} data segments, the socket sent ${kernel}`);
    } finally {
      for (const ns of [SRV, CLI]) sh('ip', ['-n', ns, 'link', 'del', 'kdvx0']);
    }
  });

  it('counts retransmits on the sender when the receiver drops incoming data segments', async () => {
    sysctlIn(SRV, 'net.ipv4.tcp_window_scaling', 1);
    sysctlIn(CLI, 'net.ipv4.tcp_window_scaling', 1);
    // The drop program changes traffic: it goes on our own child cgroup, holding only the receiver, never the root.
    dropCgroup = path.join(await cgroup2Root(), `${slotName('kdbp')}-drop`);
    if (!existsSync(dropCgroup)) mkdirSync(dropCgroup);
    drop = BpfObject.open(path.join(REPO, 'bpf', 'test_drop.bpf.o'));
    drop.load();
    const port = Buffer.alloc(4);
    port.writeUInt32LE(PORT);
    drop.update('kd_drop_port', Buffer.alloc(4), port);
    drop.attachCgroup('kd_drop_ingress', dropCgroup);

    const cliAgent = await startAgent(CLI, ['--duration', '60s', '--port', String(PORT)]);
    const server = await startServer(SRV, srvAddr, PORT, 'drain', {
      beforeListen: (pid) => writeFileSync(path.join(dropCgroup, 'cgroup.procs'), String(pid)),
    });
    try {
      await runClient(CLI, srvAddr, PORT, 1, 1.5);
      const obs = await cliAgent.finish();
      const cli = row(obs, 'out');
      assert.ok(cli.dataSegmentsOut > 0, JSON.stringify(cli));
      assert.ok(cli.retransmits >= 1, `the sender retransmitted: ${JSON.stringify(cli)}`);
      assert.ok(cli.retransmitRate !== null && cli.retransmitRate > 0 && cli.retransmitRate < 1, String(cli.retransmitRate));
      assert.equal(obs.retransmitHook, 'tp_btf');
    } finally {
      killGroup(server);
      drop.close();
      drop = undefined;
    }
  });

  it('gives a behaviour drift finding blamed on the local side from ONE agent run for every behaviour check of a host, loading each kind\'s observer', async () => {
    sysctlIn(SRV, 'net.ipv4.tcp_window_scaling', 0);
    const server = await startServer(SRV, '0.0.0.0', PORT, 'close');
    const local = new LocalSession('srv');
    const argvs: string[][] = [];
    // Counts the execs the checks make: the engine calls each kind's collect, and they must share one agent run.
    const session: HostSession = {
      host: 'srv',
      exec: (argv, opts) => {
        argvs.push([...argv]);
        return local.exec(argv, opts);
      },
      readFile: (p) => local.readFile(p),
      writeFileAtomic: (p, d, o) => local.writeFileAtomic(p, d, o),
      close: () => local.close(),
    };
    const host: HostEntry = {
      name: 'srv',
      address: srvAddr,
      port: 22,
      user: 'root',
      roles: ['load-balancer'],
      agentCommand: ['ip', 'netns', 'exec', SRV, process.execPath, '--import', 'tsx', path.join(REPO, 'probe', 'agent-entry.ts')],
    };
    const ctx = { host, roles: host.roles };
    const ws = new Map([['port 8080', windowScalingSpec.parse({ check: 'tcp.windowScaling', port: PORT, minShare: 0.99, window: '2s' })]]);
    const zw = new Map([['port 8080', zeroWindowSpec.parse({ check: 'tcp.zeroWindow', port: PORT, max: 0, window: '2s' })]]);
    const algorithm = sh('ip', ['netns', 'exec', SRV, 'cat', '/proc/sys/net/ipv4/tcp_congestion_control']).trim();
    const cc = new Map([['port 8080', congestionControlSpec.parse({ check: 'tcp.congestionControl', port: PORT, algorithm, window: '2s' })]]);
    try {
      // Both kinds are in the registry the engine dispatches through.
      assert.deepEqual([windowScalingCheck, zeroWindowCheck].map((k) => behaviourKinds.includes(k)), [true, true]);
      const [wsObs, zwObs, ccObs] = await Promise.all([windowScalingCheck.collect(session, ws, ctx), zeroWindowCheck.collect(session, zw, ctx), congestionControlCheck.collect(session, cc, ctx)]);
      assert.equal(argvs.length, 1, `one exec for all three checks: ${JSON.stringify(argvs)}`);
      assert.deepEqual(argvs[0]?.slice(-12), ['probe', '--json', '--duration', '2000ms', '--port', '8080', '--observe', 'wscale,stalls,congestion', '--connect', '127.0.0.1:8080', '--connect-count', '3']);
      assert.equal(wsObs, zwObs);
      assert.equal(wsObs, ccObs);
      assert.deepEqual(wsObs.observed, ['wscale', 'stalls', 'congestion']);

      // Only the probe's own test connections were seen: a report leaves them unjudged, verification judges them.
      assert.equal(windowScalingCheck.judge(wsObs, ws, ctx)[0]?.status, 'unknown');
      const [f] = windowScalingCheck.judge(wsObs, ws, { ...ctx, ownTraffic: true });
      assert.ok(f);
      assert.equal(f.status, 'drift');
      assert.equal(f.layer, 'behaviour');
      assert.equal(f.key, 'port 8080');
      assert.equal(f.expected, 'share >= 0.99');
      assert.equal(f.actual, "0.00 (0/3) — the probe's own test connections", 'three test connections, judged on the incoming leg the spec declares');
      assert.match(f.reason ?? '', /3 lacked by this host/);
      const ev = f.evidence as { lackedBy: Record<string, number>; own: { lackedBy: Record<string, number> }; samples: unknown[] };
      assert.deepEqual(ev.lackedBy, { local: 0, peer: 0, unknown: 0 });
      assert.deepEqual(ev.own.lackedBy, { local: 3, peer: 0, unknown: 0 });
      assert.ok(ev.samples.length > 0 && ev.samples.length <= 5);

      const [z] = zeroWindowCheck.judge(zwObs, zw, { ...ctx, ownTraffic: true });
      assert.equal(z?.status, 'ok');
      assert.equal(z?.actual, '0 (sent 0, received 0)');

      // The netns's own default, as its connections use it: the agent's three test connections, both ends.
      const [c] = congestionControlCheck.judge(ccObs, cc, ctx);
      assert.equal(c?.status, 'ok', JSON.stringify(c));
      assert.equal(c?.actual, `${algorithm} (6/6)`);
    } finally {
      killGroup(server);
      await local.close();
    }
  });
});
