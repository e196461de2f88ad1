/**
 * Window scaling per new connection (bpf/tcp_wscale.bpf.c, tp_btf/inet_sock_set_state): counts per outcome into
 * the shared rows (the agent's own test connections apart, in `own`: the kernel tags them by the local ports written
 * to kd_ws_own), keeps connection samples (not-negotiated ones first in the output), and counts real connections per
 * peer address from every drained event (`peers`; `peersComplete` false once the kernel stopped emitting a class).
 */
import { BPF_ANY, type BpfObject } from '../bpf.js';
import { decodeCounterKey, decodeWscaleEvent, decodeWscaleSlot, encodeU32, endpoint, sumPerCpuU64, EVENTS_LACKING, EVENTS_NEGOTIATED, type CounterKey, type WscaleEvent } from '../codec.js';
import type { ConnectionSample, PeerSummary } from '../observation.js';
import { attachOrExplain, configure, msSince, openObserverObject, SampledRun, type Observer, type ObserverOptions, type ObserverRun } from './observer.js';

const OBJECT = 'tcp_wscale';

export const wscaleObserver: Observer<'wscale', Record<never, never>> = {
  name: 'wscale',
  describes: 'window scaling',
  objects: [OBJECT],
  defaultOn: true,
  part: {},
  load(opts: ObserverOptions): ObserverRun {
    return new WscaleRun(openObserverObject(OBJECT, 'the window-scaling program', 'kd_ws', opts, EVENTS_NEGOTIATED | EVENTS_LACKING), opts);
  },
};

class WscaleRun extends SampledRun {
  private readonly samples: WscaleEvent[] = [];
  private readonly kept = { negotiated: 0, lacking: 0 };
  private readonly max: { negotiated: number; lacking: number };
  private events = EVENTS_NEGOTIATED | EVENTS_LACKING;
  private readonly peers = new Map<string, PeerSummary>();
  private peersComplete = true;

  constructor(obj: BpfObject, opts: ObserverOptions) {
    super(obj, 'kd_ws', opts);
    this.max = opts.maxSamples ?? { negotiated: 100, lacking: 1000 };
  }

  attach(): void {
    attachOrExplain(() => this.obj.attach('kd_ws_state'), 'kd_ws_state to tp_btf/inet_sock_set_state');
  }

  drain(): void {
    if (this.closed) return;
    for (const rec of this.ring.consume()) {
      const e = decodeWscaleEvent(rec);
      if (!e.own) this.countPeer(e);
      const cls = e.wscaleOk ? 'negotiated' : 'lacking';
      if (this.kept[cls] < this.max[cls]) {
        this.kept[cls]++;
        this.samples.push(e);
      }
    }
    let events = 0;
    if (this.kept.negotiated < this.max.negotiated) events |= EVENTS_NEGOTIATED;
    if (this.kept.lacking < this.max.lacking) events |= EVENTS_LACKING;
    if (events !== this.events) {
      this.events = events;
      this.peersComplete = false;
      configure(this.obj, this.prefix, this.opts, events, false);
    }
  }

  addRows(row: Parameters<NonNullable<ObserverRun['addRows']>>[0]): void {
    // Both maps: the hash (every netns, or more ports than fit inline) and the slots of an inline filter.
    const counted: Array<[CounterKey, number]> = [];
    for (const [k, v] of this.obj.entries('kd_ws_count')) counted.push([decodeCounterKey(k), Number(sumPerCpuU64(v))]);
    for (const [k, v] of this.obj.entries('kd_ws_slots')) {
      const n = Number(sumPerCpuU64(v));
      const key = n > 0 ? decodeWscaleSlot(k.readUInt32LE(0), this.opts.ports, this.opts.netnsCookie) : undefined;
      if (key) counted.push([key, n]);
    }
    for (const [key, n] of counted) {
      const r = row(key.netnsCookie, key.port, key.direction);
      if (key.own) {
        r.own.connections += n;
        if (key.outcome === 'negotiated') r.own.negotiated += n;
        else r.own.lackedBy[key.outcome] += n;
        continue;
      }
      r.connections += n;
      if (key.outcome === 'negotiated') r.negotiated += n;
      else r.lackedBy[key.outcome] += n;
    }
  }

  markOwn(localPort: number): void {
    this.obj.update('kd_ws_own', encodeU32(localPort), Buffer.from([1]), BPF_ANY);
  }

  private countPeer(e: WscaleEvent): void {
    const port = e.direction === 'in' ? e.localPort : e.remotePort;
    const id = `${port}/${e.direction}/${e.remoteAddr}`;
    let p = this.peers.get(id);
    if (!p) {
      p = { port, direction: e.direction, address: e.remoteAddr, connections: 0, negotiated: 0, lackedBy: { local: 0, peer: 0, unknown: 0 } };
      this.peers.set(id, p);
    }
    p.connections++;
    if (e.outcome === 'negotiated') p.negotiated++;
    else p.lackedBy[e.outcome]++;
  }

  fields(maxSamplesOut: number): { samples: ConnectionSample[]; peers: PeerSummary[]; peersComplete: boolean } {
    // Connections that did not negotiate are the evidence a reader wants first; then the rest, oldest first.
    const picked = [...this.samples.filter((s) => !s.wscaleOk), ...this.samples.filter((s) => s.wscaleOk)].slice(0, maxSamplesOut);
    const peers = [...this.peers.values()].sort((a, b) => a.port - b.port || a.direction.localeCompare(b.direction) || a.address.localeCompare(b.address));
    return { samples: picked.map((e) => this.sample(e)), peers, peersComplete: this.peersComplete };
  }

  private sample(e: WscaleEvent): ConnectionSample {
    return {
      netnsCookie: e.netnsCookie.toString(),
      direction: e.direction,
      local: endpoint(e.localAddr, e.localPort),
      remote: endpoint(e.remoteAddr, e.remotePort),
      wscaleOk: e.wscaleOk,
      sndWscale: e.sndWscale,
      rcvWscale: e.rcvWscale,
      localOffered: e.localOffered,
      peerOffered: e.peerOffered,
      outcome: e.outcome,
      atMs: msSince(this.opts.startedAtNs, e.tsNs),
      own: e.own,
    };
  }
}
