/**
 * An observer: one part of what the agent can watch (window scaling, stalls, congestion control), with its own BPF
 * object(s). The agent (probe/agent.ts) loads the observers it is asked for (`--observe`), configures them all, then
 * attaches them all, so the first callback already sees the filters. Each observer adds its counters into the shared
 * per-port rows and/or its own part of the observation (`part`, a zod shape merged into the observation schema).
 * Registered once in probe/observers/index.ts.
 */
import type { z } from 'zod';
import { BpfError, BpfObject, BPF_ANY, type RingBuffer } from '../bpf.js';
import { CONFIG_INLINE_PORTS, encodeConfig, encodeU16, encodeU32, sumPerCpuU64, type Direction } from '../codec.js';
import { explainBpfRefusal } from '../preflight.js';
import type { PortSummary, ProbeObservation } from '../observation.js';
import type { MetricsWriter } from '../metrics.js';

export interface ObserverOptions {
  /** Ports to watch (service ports); empty = all. */
  ports: readonly number[];
  /** 'self': only this process's netns; 'all': every netns of the host. */
  netns: 'self' | 'all';
  /** This process's netns cookie. */
  netnsCookie: bigint;
  /** Milliseconds clock origin of the run (process.hrtime.bigint() at start): samples say when they happened. */
  startedAtNs: bigint;
  /** Connection samples kept per class; once full the kernel stops emitting them (counters stay exact). */
  maxSamples?: { negotiated: number; lacking: number };
  /** The agent drives its own test connections: observers that can, tag them (kd_cfg.own_filter) and count them apart. */
  tagOwn?: boolean;
}

/** A loaded, configured observer of one agent run. */
export interface ObserverRun {
  /** Attaches its programs (after every observer is configured). */
  attach(cgroupRoot: string): void;
  /** Moves queued events into memory; runs on the agent's timer and before every snapshot. Cheap. */
  drain?(): void;
  /** Tags the agent's own test connection from this local port (written before it connects). */
  markOwn?(localPort: number): void;
  /** Adds its in-kernel counters into the shared per-(netns, port, direction) rows. */
  addRows?(row: (netnsCookie: bigint, port: number, direction: Direction) => PortSummary): void;
  /** Its fields of the observation (its `part`, or shared fields such as `samples`). */
  fields?(maxSamplesOut: number): Partial<ProbeObservation>;
  /** Events the kernel could not queue and counter keys it could not add. */
  dropped(): { events: number; counterKeys: number };
  /** Detaches and frees; idempotent. */
  close(): void;
}

export interface Observer<Name extends string = string, Part extends z.ZodRawShape = z.ZodRawShape> {
  /** What `--observe` and a behaviour kind's `observes` name. */
  readonly name: Name;
  /** In words, for "the agent did not observe <describes>". */
  readonly describes: string;
  /** bpf/<object>.bpf.o files it loads (checked before any bpf() call). */
  readonly objects: readonly string[];
  /** Loaded by `kdrift probe` without --observe. */
  readonly defaultOn: boolean;
  /** Its own fields of the observation schema ({} when it only adds to the shared rows). */
  readonly part: Part;
  /** Opens, loads and configures its objects (nothing attached yet). */
  load(opts: ObserverOptions): ObserverRun;
  /** Lines of `kdrift probe`'s human summary for its own part (the shared rows are rendered as one table). */
  render?(obs: ProbeObservation): string[];
  /** Prometheus families of its own part (`kdrift probe --serve`); the shared rows have theirs in probe/metrics.ts. */
  metrics?(obs: Partial<ProbeObservation>, w: MetricsWriter): void;
}

/**
 * Opens bpf/<object>.bpf.o, lets `prepare` choose programs, loads it and writes its filters (`<prefix>_*` maps);
 * closes it again when any step fails.
 */
export function openObserverObject(object: string, what: string, prefix: string, opts: ObserverOptions, events: number, prepare?: (obj: BpfObject) => void): BpfObject {
  const obj = BpfObject.openBundled(object);
  try {
    prepare?.(obj);
    loadObject(obj, what);
    configure(obj, prefix, opts, events);
    return obj;
  } catch (err) {
    obj.close();
    throw err;
  }
}

export function loadObject(obj: BpfObject, what: string): void {
  try {
    obj.load();
  } catch (err) {
    throw err instanceof BpfError ? explainBpfRefusal(err, `loading ${what}`) : err;
  }
}

export function attachOrExplain(fn: () => number, what: string): void {
  try {
    fn();
  } catch (err) {
    throw err instanceof BpfError ? explainBpfRefusal(err, `attaching ${what}`) : err;
  }
}

/**
 * Writes the config (`<prefix>_cfg`: the netns cookie and up to CONFIG_INLINE_PORTS ports inline) and, when there
 * are more ports than fit and not only the events change, the `<prefix>_port` hash.
 */
export function configure(obj: BpfObject, prefix: string, opts: ObserverOptions, events: number, filters = true): void {
  const one = Buffer.from([1]);
  if (filters && opts.ports.length > CONFIG_INLINE_PORTS) for (const p of opts.ports) obj.update(`${prefix}_port`, encodeU16(p), one, BPF_ANY);
  obj.update(
    `${prefix}_cfg`,
    encodeU32(0),
    encodeConfig({
      ...(opts.netns === 'self' ? { netnsCookie: opts.netnsCookie } : {}),
      ports: opts.ports,
      events,
      sampleShift: 0,
      ownFilter: opts.tagOwn ?? false,
    }),
    BPF_ANY,
  );
}

/** One slot of a per-CPU u64 statistics array (0 when absent). */
export function statSlot(obj: BpfObject, map: string, idx: number): number {
  const v = obj.lookup(map, encodeU32(idx));
  return v ? Number(sumPerCpuU64(v)) : 0;
}

/** Milliseconds after the run started, one decimal (ktime is CLOCK_MONOTONIC, as is hrtime). */
export function msSince(startedAtNs: bigint, tsNs: bigint): number {
  return Math.round(Number(tsNs - startedAtNs) / 1e5) / 10;
}

/**
 * The frame of an observer whose object has one program, a sample ring (`<prefix>_events`) and a per-CPU statistics
 * array (`<prefix>_stat`: [0] events dropped, ring full; [1] counter keys dropped, map full). Subclasses attach.
 */
export abstract class SampledRun implements ObserverRun {
  protected readonly ring: RingBuffer;
  protected closed = false;

  constructor(
    protected readonly obj: BpfObject,
    protected readonly prefix: string,
    protected readonly opts: ObserverOptions,
  ) {
    this.ring = obj.ringBuffer(`${prefix}_events`);
  }

  abstract attach(cgroupRoot: string): void;

  dropped(): { events: number; counterKeys: number } {
    return { events: statSlot(this.obj, `${this.prefix}_stat`, 0), counterKeys: statSlot(this.obj, `${this.prefix}_stat`, 1) };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.ring.close();
    this.obj.close();
  }
}

/** A sampled observer whose program is the sock_ops program `<prefix>_sockops` on the cgroup v2 root. */
export abstract class SockopsRun extends SampledRun {
  attach(cgroupRoot: string): void {
    attachOrExplain(() => this.obj.attachCgroup(`${this.prefix}_sockops`, cgroupRoot), `${this.prefix}_sockops to ${cgroupRoot}`);
  }
}
