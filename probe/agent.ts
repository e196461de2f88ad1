/**
 * The probe: loads the observers it is asked for (probe/observers/: window scaling, stalls, congestion control),
 * writes their in-kernel filters (netns cookies, ports), attaches them to the cgroup v2 root and their tracepoints,
 * drains their sampled events on a timer (the kernel submits them without wakeups), and turns the in-kernel counters
 * into per-port summaries plus each observer's own part. Everything attached is a BPF link owned by this process:
 * close() (or the process dying) detaches it.
 */
import { zeroCounters } from './counters.js';
import { ownNetnsCookie } from './bpf.js';
import { preflight } from './preflight.js';
import type { Direction } from './codec.js';
import type { PortSummary, ProbeObservation } from './observation.js';
import { DEFAULT_OBSERVERS, observers, type ObserverName } from './observers/index.js';
import type { ObserverRun } from './observers/observer.js';

export interface ProbeOptions {
  /** Ports to watch (service ports); empty = all. */
  ports: readonly number[];
  /** 'self': only this process's netns; 'all': every netns of the host. */
  netns: 'self' | 'all';
  /**
   * Window-scaling samples kept per class (negotiated / not negotiated). Once a class is full the kernel stops
   * emitting it: the counters stay exact, and a busy host does not pay for an event per connection.
   */
  maxSamples?: { negotiated: number; lacking: number };
  /** Ring-buffer drain interval. */
  drainIntervalMs?: number;
  /** Which observers to load (default: those marked defaultOn). */
  observe?: readonly ObserverName[];
  /** The agent will drive its own test connections: the kernel looks their local ports up (markOwn) to tag them. */
  tagOwn?: boolean;
}

/** The observation fields an agent snapshot fills. */
export type Snapshot = Pick<ProbeObservation, 'summary' | 'samples' | 'dropped' | 'retransmitHook'> & Partial<ProbeObservation>;

export class Probe {
  readonly startedAtMs = Date.now();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(
    private readonly runs: ReadonlyMap<ObserverName, ObserverRun>,
    readonly netnsCookie: bigint,
  ) {}

  static async start(opts: ProbeOptions): Promise<Probe> {
    const wanted = observers.filter((o) => (opts.observe ?? DEFAULT_OBSERVERS).includes(o.name));
    const { cgroupRoot } = await preflight(wanted.flatMap((o) => o.objects));
    const netnsCookie = ownNetnsCookie();
    const startedAtNs = process.hrtime.bigint();
    const runs = new Map<ObserverName, ObserverRun>();
    try {
      for (const o of wanted) {
        runs.set(
          o.name,
          o.load({ ports: opts.ports, netns: opts.netns, netnsCookie, startedAtNs, tagOwn: opts.tagOwn ?? false, ...(opts.maxSamples ? { maxSamples: opts.maxSamples } : {}) }),
        );
      }
      // Rings and filters of every observer are ready before anything is attached: the first callback sees the filter.
      for (const run of runs.values()) run.attach(cgroupRoot);
      const probe = new Probe(runs, netnsCookie);
      probe.timer = setInterval(() => probe.drain(), opts.drainIntervalMs ?? 20);
      probe.timer.unref();
      return probe;
    } catch (err) {
      for (const run of runs.values()) run.close();
      throw err;
    }
  }

  /** What this probe loaded. */
  get observed(): ObserverName[] {
    return [...this.runs.keys()];
  }

  /**
   * Tags the connection about to be opened from `localPort` as the agent's own (before connect: the kernel looks the
   * port up when the connection is established), in every observer that tells real traffic from the agent's own.
   */
  markOwn(localPort: number): void {
    for (const run of this.runs.values()) run.markOwn?.(localPort);
  }

  /** Moves queued events into memory (bounded). Cheap; runs on the timer and before every snapshot. */
  drain(): void {
    if (this.closed) return;
    for (const run of this.runs.values()) run.drain?.();
  }

  /** Per (netns, port, direction) summaries from the in-kernel counters, each observer's fields, samples so far. */
  snapshot(maxSamplesOut = 50): Snapshot {
    this.drain();
    const rows = new Map<string, PortSummary>();
    const row = (ns: bigint, port: number, direction: Direction): PortSummary => {
      const id = `${ns}/${port}/${direction}`;
      let r = rows.get(id);
      if (!r) {
        r = { netnsCookie: ns.toString(), port, direction, ...zeroCounters(), share: null, retransmitRate: null };
        rows.set(id, r);
      }
      return r;
    };
    const dropped = { events: 0, counterKeys: 0 };
    let fields: Partial<ProbeObservation> = {};
    for (const run of this.runs.values()) {
      run.addRows?.(row);
      fields = { ...fields, ...run.fields?.(maxSamplesOut) };
      const d = run.dropped();
      dropped.events += d.events;
      dropped.counterKeys += d.counterKeys;
    }
    const summary = [...rows.values()]
      .map((r) => ({
        ...r,
        share: r.connections > 0 ? r.negotiated / r.connections : null,
        retransmitRate: r.dataSegmentsOut > 0 ? r.retransmits / r.dataSegmentsOut : null,
      }))
      .sort((a, b) => a.port - b.port || a.direction.localeCompare(b.direction) || (a.netnsCookie < b.netnsCookie ? -1 : 1));
    return { samples: [], retransmitHook: 'none', ...fields, summary, dropped };
  }

  /** Detaches everything and frees the maps; idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    for (const run of this.runs.values()) run.close();
  }
}
