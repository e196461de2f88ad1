/**
 * Congestion control per new connection (bpf/tcp_cc.bpf.c, sock_ops on the cgroup v2 root): the algorithm each
 * connection uses (bpf_getsockopt TCP_CONGESTION at ESTABLISHED), counted per (netns, port, direction, algorithm),
 * plus a few samples. Its own part of the observation (`congestion`); it adds nothing to the shared rows.
 */
import type { BpfObject } from '../bpf.js';
import { endpoint, sumPerCpuU64 } from '../codec.js';
import { decodeCongestionEvent, decodeCongestionKey, type CongestionEvent } from './congestion-codec.js';
import { congestionPartSchema, type CongestionPart, type CongestionRow } from './congestion.schema.js';
import { configure, msSince, openObserverObject, SockopsRun, type Observer, type ObserverOptions, type ObserverRun } from './observer.js';

const OBJECT = 'tcp_cc';
const EVENTS_SAMPLE = 1;
/** Samples kept; then the kernel stops emitting them (one connection per algorithm is already evidence). */
const MAX_SAMPLES = 100;

export const congestionObserver: Observer<'congestion', { congestion: ReturnType<typeof congestionPartSchema.optional> }> = {
  name: 'congestion',
  describes: 'congestion control',
  objects: [OBJECT],
  // Opt-in for a bare `kdrift probe`: a run that does not judge congestion control pays nothing for it.
  defaultOn: false,
  part: { congestion: congestionPartSchema.optional() },
  render: (obs) => (obs.congestion?.rows ?? []).map((r) => `congestion control on port ${r.port} ${r.direction}: ${r.algorithm} on ${r.connections} connection(s)`),
  metrics(obs, w) {
    w.family('kdrift_tcp_congestion_connections_total', 'counter', 'New TCP connections seen by the probe, by the congestion control algorithm they use.');
    const rows = new Map<string, CongestionRow>();
    for (const r of obs.congestion?.rows ?? []) {
      // Without per-netns labels, rows of several namespaces with the same labels are one sample.
      const id = `${w.perNetns ? r.netnsCookie : ''}/${r.port}/${r.direction}/${r.algorithm}`;
      const m = rows.get(id);
      if (m) m.connections += r.connections;
      else rows.set(id, { ...r });
    }
    for (const r of rows.values()) w.sample('kdrift_tcp_congestion_connections_total', r, { algorithm: r.algorithm }, r.connections);
  },
  load(opts: ObserverOptions): ObserverRun {
    return new CongestionRun(openObserverObject(OBJECT, 'the congestion-control program', 'kd_cc', opts, EVENTS_SAMPLE), opts);
  },
};

class CongestionRun extends SockopsRun {
  private readonly samples: CongestionEvent[] = [];
  private sampling = true;

  constructor(obj: BpfObject, opts: ObserverOptions) {
    super(obj, 'kd_cc', opts);
  }

  drain(): void {
    if (this.closed) return;
    for (const rec of this.ring.consume()) if (this.samples.length < MAX_SAMPLES) this.samples.push(decodeCongestionEvent(rec));
    if (this.sampling && this.samples.length >= MAX_SAMPLES) {
      this.sampling = false;
      configure(this.obj, this.prefix, this.opts, 0, false);
    }
  }

  fields(maxSamplesOut: number): { congestion: CongestionPart } {
    const rows = new Map<string, CongestionRow>();
    for (const [k, v] of this.obj.entries('kd_cc_count')) {
      const key = decodeCongestionKey(k);
      const id = `${key.netnsCookie}/${key.port}/${key.direction}/${key.algorithm}`;
      const r = rows.get(id) ?? { netnsCookie: key.netnsCookie.toString(), port: key.port, direction: key.direction, algorithm: key.algorithm, connections: 0 };
      r.connections += Number(sumPerCpuU64(v));
      rows.set(id, r);
    }
    const sorted = [...rows.values()].sort((a, b) => a.port - b.port || a.direction.localeCompare(b.direction) || a.algorithm.localeCompare(b.algorithm));
    const samples = this.samples.slice(0, maxSamplesOut).map((e) => ({
      netnsCookie: e.netnsCookie.toString(),
      direction: e.direction,
      local: endpoint(e.localAddr, e.localPort),
      remote: endpoint(e.remoteAddr, e.remotePort),
      algorithm: e.algorithm,
      atMs: msSince(this.opts.startedAtNs, e.tsNs),
    }));
    return { congestion: { rows: sorted, samples } };
  }
}
