/**
 * The probe: loads bpf/tcp_wscale.bpf.o and bpf/tcp_stalls.bpf.o, writes the in-kernel filter (netns cookies, ports),
 * attaches to the cgroup v2 root and the retransmit tracepoint, drains sampled connection events from the ring buffer
 * on a timer (the kernel submits them without wakeups), and turns the in-kernel counters into per-port summaries.
 * Everything attached is a BPF link owned by this process: close() (or the process dying) detaches it.
 */
import { zeroCounters } from './counters.js';
import { BpfError, BpfObject, BPF_ANY, ownNetnsCookie, type RingBuffer } from './bpf.js';
import { preflight, explainBpfRefusal } from './preflight.js';
import {
  decodeCounterKey,
  decodeStallValues,
  decodeWscaleEvent,
  encodeConfig,
  EVENTS_LACKING,
  EVENTS_NEGOTIATED,
  encodeU16,
  encodeU32,
  encodeU64,
  endpoint,
  sumPerCpuU64,
  type Direction,
  type StallCounts,
  type WscaleEvent,
} from './codec.js';
import type { ConnectionSample, PeerSummary, PortSummary } from './observation.js';

export interface ProbeOptions {
  /** Ports to watch (service ports); empty = all. */
  ports: readonly number[];
  /** 'self': only this process's netns; 'all': every netns of the host. */
  netns: 'self' | 'all';
  /**
   * Connection samples kept per class (negotiated / not negotiated). Once a class is full the kernel stops emitting
   * it: the counters stay exact, and a busy host does not pay for an event per connection.
   */
  maxSamples?: { negotiated: number; lacking: number };
  /** Ring-buffer drain interval. */
  drainIntervalMs?: number;
  /** What to load: window scaling (sock_ops) and/or stalls (cgroup_skb + retransmit tracepoint). Default both. */
  observe?: { wscale: boolean; stalls: boolean };
  /** The agent will drive its own test connections: the kernel looks their local ports up (markOwn) to tag them. */
  tagOwn?: boolean;
}

const WSCALE = 'tcp_wscale';
const STALLS = 'tcp_stalls';

export class Probe {
  readonly startedAtMs = Date.now();
  private readonly startedAtNs = process.hrtime.bigint();
  private samplesSeen = 0;
  private readonly samples: WscaleEvent[] = [];
  private readonly kept = { negotiated: 0, lacking: 0 };
  /** Real connections per (port, direction, peer address), from every drained event. */
  private readonly peers = new Map<string, PeerSummary>();
  private peersComplete = true;
  private events = EVENTS_NEGOTIATED | EVENTS_LACKING;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(
    private readonly ws: BpfObject | undefined,
    private readonly st: BpfObject | undefined,
    private readonly ring: RingBuffer | undefined,
    readonly netnsCookie: bigint,
    readonly retransmitHook: 'tp_btf' | 'tracepoint' | 'none',
    private readonly maxSamples: { negotiated: number; lacking: number },
    private readonly opts: ProbeOptions,
  ) {}

  static async start(opts: ProbeOptions): Promise<Probe> {
    const observe = opts.observe ?? { wscale: true, stalls: true };
    const { cgroupRoot } = await preflight([...(observe.wscale ? [WSCALE] : []), ...(observe.stalls ? [STALLS] : [])]);
    const cookie = ownNetnsCookie();
    let ws: BpfObject | undefined;
    let st: BpfObject | undefined;
    let ring: RingBuffer | undefined;
    let hook: 'tp_btf' | 'tracepoint' | 'none' = 'none';
    try {
      if (observe.wscale) {
        ws = BpfObject.openBundled(WSCALE);
        load(ws, 'the window-scaling program');
        configure(ws, 'kd_ws', opts, cookie, EVENTS_NEGOTIATED | EVENTS_LACKING);
        ring = ws.ringBuffer('kd_ws_events');
      }
      if (observe.stalls) {
        try {
          st = openStalls('tp_btf');
          hook = 'tp_btf';
        } catch (err) {
          // BTF tracing programs refused (some kernels/lockdown): the classic tracepoint counts retransmits too.
          if (!(err instanceof BpfError)) throw err;
          st = openStalls('tracepoint');
          hook = 'tracepoint';
        }
        configure(st, 'kd_st', opts, cookie, 0);
      }

      // Rings and filters are ready before anything is attached: the first callback already sees the filter.
      if (ws) {
        const w = ws;
        attach(() => w.attachCgroup('kd_ws_sockops', cgroupRoot), `kd_ws_sockops to ${cgroupRoot}`);
      }
      if (st) {
        const s = st;
        attach(() => s.attachCgroup('kd_st_egress', cgroupRoot), `kd_st_egress to ${cgroupRoot}`);
        attach(() => s.attachCgroup('kd_st_ingress', cgroupRoot), `kd_st_ingress to ${cgroupRoot}`);
        attach(() => s.attach(hook === 'tp_btf' ? 'kd_st_retrans' : 'kd_st_retrans_tp'), 'the retransmit tracepoint');
      }

      const probe = new Probe(ws, st, ring, cookie, hook, opts.maxSamples ?? { negotiated: 100, lacking: 1000 }, opts);
      probe.timer = setInterval(() => probe.drain(), opts.drainIntervalMs ?? 20);
      probe.timer.unref();
      return probe;
    } catch (err) {
      st?.close();
      ws?.close();
      throw err;
    }
  }

  /** What this probe loaded. */
  get observed(): Array<'wscale' | 'stalls'> {
    return [...(this.ws ? ['wscale' as const] : []), ...(this.st ? ['stalls' as const] : [])];
  }

  /** Moves queued connection events into memory (bounded). Cheap; runs on the timer and before every snapshot. */
  drain(): void {
    if (this.closed || !this.ring || !this.ws) return;
    for (const rec of this.ring.consume()) {
      this.samplesSeen++;
      const e = decodeWscaleEvent(rec);
      if (!e.own) this.countPeer(e);
      const cls = e.wscaleOk ? 'negotiated' : 'lacking';
      if (this.kept[cls] < this.maxSamples[cls]) {
        this.kept[cls]++;
        this.samples.push(e);
      }
    }
    let events = 0;
    if (this.kept.negotiated < this.maxSamples.negotiated) events |= EVENTS_NEGOTIATED;
    if (this.kept.lacking < this.maxSamples.lacking) events |= EVENTS_LACKING;
    if (events !== this.events) {
      this.events = events;
      this.peersComplete = false;
      configure(this.ws, 'kd_ws', this.opts, this.netnsCookie, events, false);
    }
  }

  /**
   * Tags the connection about to be opened from `localPort` as the agent's own (before connect: the kernel looks the
   * port up when the connection is established).
   */
  markOwn(localPort: number): void {
    this.ws?.update('kd_ws_own', encodeU16(localPort), Buffer.from([1]), BPF_ANY);
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

  /** Per (netns, port, direction) summaries from the in-kernel counters, and the connection samples so far. */
  snapshot(maxSamplesOut = 50): {
    summary: PortSummary[];
    samples: ConnectionSample[];
    peers: PeerSummary[];
    peersComplete: boolean;
    dropped: { events: number; counterKeys: number };
  } {
    this.drain();
    const rows = new Map<string, PortSummary>();
    const row = (ns: bigint, port: number, direction: Direction): PortSummary => {
      const id = `${ns}/${port}/${direction}`;
      let r = rows.get(id);
      if (!r) {
        r = emptySummary(ns, port, direction);
        rows.set(id, r);
      }
      return r;
    };
    for (const [k, v] of this.ws?.entries('kd_ws_count') ?? []) {
      const key = decodeCounterKey(k);
      const n = Number(sumPerCpuU64(v));
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
    for (const [k, v] of this.st?.entries('kd_st_count') ?? []) {
      const key = decodeCounterKey(k);
      addStalls(row(key.netnsCookie, key.port, key.direction), decodeStallValues(v));
    }
    const summary = [...rows.values()]
      .map((r) => ({
        ...r,
        share: r.connections > 0 ? r.negotiated / r.connections : null,
        retransmitRate: r.dataSegmentsOut > 0 ? r.retransmits / r.dataSegmentsOut : null,
      }))
      .sort((a, b) => a.port - b.port || a.direction.localeCompare(b.direction) || (a.netnsCookie < b.netnsCookie ? -1 : 1));

    // Connections that did not negotiate are the evidence a reader wants first; then the rest, oldest first.
    const picked = [...this.samples.filter((s) => !s.wscaleOk), ...this.samples.filter((s) => s.wscaleOk)].slice(0, maxSamplesOut);
    const samples = picked.map((e) => this.sample(e));
    const dropped = {
      events: this.stat(this.ws, 'kd_ws_stat', 0),
      counterKeys: this.stat(this.ws, 'kd_ws_stat', 1) + this.stat(this.st, 'kd_st_stat', 0),
    };
    const peers = [...this.peers.values()].sort((a, b) => a.port - b.port || a.direction.localeCompare(b.direction) || a.address.localeCompare(b.address));
    return { summary, samples, peers, peersComplete: this.peersComplete, dropped };
  }

  private sample(e: WscaleEvent): ConnectionSample {
    // ktime is CLOCK_MONOTONIC, as is hrtime: the offset from our own start.
    const atMs = Number(e.tsNs - this.startedAtNs) / 1e6;
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
      atMs: Math.round(atMs * 10) / 10,
      own: e.own,
    };
  }

  private stat(obj: BpfObject | undefined, map: string, idx: number): number {
    const v = obj?.lookup(map, encodeU32(idx));
    return v ? Number(sumPerCpuU64(v)) : 0;
  }

  /** Events seen, including those not kept in memory. */
  get eventsSeen(): number {
    return this.samplesSeen;
  }

  /** Detaches everything and frees the maps; idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.ring?.close();
    this.st?.close();
    this.ws?.close();
  }
}

function openStalls(hook: 'tp_btf' | 'tracepoint'): BpfObject {
  const st = BpfObject.openBundled(STALLS);
  try {
    st.setAutoload('kd_st_retrans', hook === 'tp_btf');
    st.setAutoload('kd_st_retrans_tp', hook === 'tracepoint');
    load(st, 'the stall counters');
    return st;
  } catch (err) {
    st.close();
    throw err;
  }
}

function load(obj: BpfObject, what: string): void {
  try {
    obj.load();
  } catch (err) {
    throw err instanceof BpfError ? explainBpfRefusal(err, `loading ${what}`) : err;
  }
}

function attach(fn: () => number, what: string): void {
  try {
    fn();
  } catch (err) {
    throw err instanceof BpfError ? explainBpfRefusal(err, `attaching ${what}`) : err;
  }
}

/** Writes the filter maps (`<prefix>_ns`, `<prefix>_port`, unless only the events change) and the config (`<prefix>_cfg`). */
function configure(obj: BpfObject, prefix: string, opts: ProbeOptions, cookie: bigint, events: number, filters = true): void {
  const one = Buffer.from([1]);
  if (filters && opts.netns === 'self') obj.update(`${prefix}_ns`, encodeU64(cookie), one, BPF_ANY);
  if (filters) for (const p of opts.ports) obj.update(`${prefix}_port`, encodeU16(p), one, BPF_ANY);
  obj.update(
    `${prefix}_cfg`,
    encodeU32(0),
    encodeConfig({ nsFilter: opts.netns === 'self', portFilter: opts.ports.length > 0, events, sampleShift: 0, ownFilter: opts.tagOwn ?? false }),
    BPF_ANY,
  );
}

function emptySummary(ns: bigint, port: number, direction: Direction): PortSummary {
  return {
    netnsCookie: ns.toString(),
    port,
    direction,
    ...zeroCounters(),
    share: null,
    retransmitRate: null,
  };
}

function addStalls(r: PortSummary, s: StallCounts): void {
  r.zeroWindow.sent += s.zeroWindowSent;
  r.zeroWindow.received += s.zeroWindowReceived;
  r.zeroWindowProbes.sent += s.zeroWindowProbesSent;
  r.zeroWindowProbes.received += s.zeroWindowProbesReceived;
  r.retransmits += s.retransmits;
  r.dataSegmentsOut += s.dataSegmentsOut;
  r.segmentsIn += s.segmentsIn;
}
