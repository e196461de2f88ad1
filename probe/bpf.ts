/**
 * Typed wrapper over the native libbpf binding (native/bpf/binding.cc). The binding is generic; this module adds
 * types, turns native errors into BpfError (a KdriftError the CLI prints as one line), and loads the addon lazily so
 * that config checks never need it.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { KdriftError } from '../core/errors.js';
import { nativeAddonPath, bpfObjectPath } from './paths.js';

export interface ProgramInfo {
  name: string;
  section: string;
  type: string;
  autoload: boolean;
  fd: number;
}

export interface MapInfo {
  name: string;
  type: string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  perCpu: boolean;
  fd: number;
}

interface NativeObject {
  load(): void;
  programs(): ProgramInfo[];
  maps(): MapInfo[];
  setAutoload(prog: string, on: boolean): void;
  setMaxEntries(map: string, n: number): void;
  attachCgroup(prog: string, cgroupPath: string): number;
  attachTracepoint(prog: string, category: string, name: string): number;
  attach(prog: string): number;
  detach(link: number): boolean;
  linkFd(link: number): number;
  mapLookup(map: string, key: Buffer): Buffer | null;
  mapUpdate(map: string, key: Buffer, value: Buffer, flags?: number): void;
  mapDelete(map: string, key: Buffer): boolean;
  mapKeys(map: string): Buffer[];
  mapValueSize(map: string): number;
  ringBufferFd(map: string): number;
  close(): void;
}

interface NativeRing {
  poll(timeoutMs: number): Buffer[];
  consume(): Buffer[];
  close(): void;
}

interface NativeModule {
  BpfObject: new (path: string) => NativeObject;
  RingBuffer: new (fd: number) => NativeRing;
  possibleCpus(): number;
  netnsCookie(): bigint;
}

/** A libbpf / kernel failure: the message carries libbpf's output (the verifier log's tail for a rejected program). */
export class BpfError extends KdriftError {
  constructor(
    message: string,
    readonly errno?: number,
    readonly code?: string,
    readonly libbpfLog?: string,
  ) {
    super(message);
    this.name = 'BpfError';
  }
}

/** Native errors carry errno/code/libbpfLog properties set by the binding. */
function wrap<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof Error) {
      const e = err as Error & { errno?: number; code?: string; libbpfLog?: string };
      throw new BpfError(e.message, e.errno, e.code, e.libbpfLog);
    }
    throw err;
  }
}

let native: NativeModule | undefined;

export function loadNative(): NativeModule {
  if (native) return native;
  const file = nativeAddonPath();
  if (!existsSync(file)) throw new KdriftError(`the libbpf addon is not built (${file} is missing): run \`npm run build\``);
  const require = createRequire(import.meta.url);
  native = require(file) as NativeModule;
  return native;
}

export const BPF_ANY = 0;
export const BPF_NOEXIST = 1;
export const BPF_EXIST = 2;

/** One BPF object file: open → (setAutoload / setMaxEntries) → load → attach → maps / ring buffers → close. */
export class BpfObject {
  private closed = false;
  private readonly rings: RingBuffer[] = [];

  private constructor(
    private readonly obj: NativeObject,
    readonly path: string,
  ) {}

  /** Opens (does not load) an object file. */
  static open(path: string): BpfObject {
    const mod = loadNative();
    return new BpfObject(wrap(() => new mod.BpfObject(path)), path);
  }

  /** Opens `bpf/<name>.bpf.o` of this installation, saying how to build it when it is missing. */
  static openBundled(name: string): BpfObject {
    const file = bpfObjectPath(name);
    if (!existsSync(file)) throw new KdriftError(`BPF object ${file} is missing: run \`npm run build\``);
    return BpfObject.open(file);
  }

  load(): void {
    wrap(() => this.obj.load());
  }
  programs(): ProgramInfo[] {
    return wrap(() => this.obj.programs());
  }
  maps(): MapInfo[] {
    return wrap(() => this.obj.maps());
  }
  setAutoload(prog: string, on: boolean): void {
    wrap(() => this.obj.setAutoload(prog, on));
  }
  setMaxEntries(map: string, n: number): void {
    wrap(() => this.obj.setMaxEntries(map, n));
  }
  /** Attaches through a BPF link; the link lives as long as this object (or the process). Returns a link id. */
  attachCgroup(prog: string, cgroupPath: string): number {
    return wrap(() => this.obj.attachCgroup(prog, cgroupPath));
  }
  attachTracepoint(prog: string, category: string, name: string): number {
    return wrap(() => this.obj.attachTracepoint(prog, category, name));
  }
  /** libbpf's attach by section name (tp_btf/..., tracepoint/...). */
  attach(prog: string): number {
    return wrap(() => this.obj.attach(prog));
  }
  detach(link: number): boolean {
    return wrap(() => this.obj.detach(link));
  }
  /** The link's fd (still owned by this object): another process holding a dup keeps the link attached. */
  linkFd(link: number): number {
    return wrap(() => this.obj.linkFd(link));
  }
  lookup(map: string, key: Buffer): Buffer | null {
    return wrap(() => this.obj.mapLookup(map, key));
  }
  update(map: string, key: Buffer, value: Buffer, flags = BPF_ANY): void {
    wrap(() => this.obj.mapUpdate(map, key, value, flags));
  }
  delete(map: string, key: Buffer): boolean {
    return wrap(() => this.obj.mapDelete(map, key));
  }
  keys(map: string): Buffer[] {
    return wrap(() => this.obj.mapKeys(map));
  }
  /** Every entry; a key deleted between listing and lookup is skipped. */
  entries(map: string): Array<[Buffer, Buffer]> {
    const out: Array<[Buffer, Buffer]> = [];
    for (const k of this.keys(map)) {
      const v = this.lookup(map, k);
      if (v) out.push([k, v]);
    }
    return out;
  }
  /** Bytes of a value buffer as the kernel reads it (per-CPU maps: one 8-byte aligned slot per possible CPU). */
  valueSize(map: string): number {
    return wrap(() => this.obj.mapValueSize(map));
  }
  ringBuffer(map: string): RingBuffer {
    const mod = loadNative();
    const fd = wrap(() => this.obj.ringBufferFd(map));
    const ring = new RingBuffer(wrap(() => new mod.RingBuffer(fd)));
    this.rings.push(ring);
    return ring;
  }
  /** Detaches every link and frees the object; idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const r of this.rings) r.close();
    this.obj.close();
  }
}

export class RingBuffer {
  private closed = false;
  constructor(private readonly ring: NativeRing) {}
  /** Waits up to timeoutMs for a producer wakeup, then returns the records (copies). Blocks the event loop. */
  poll(timeoutMs: number): Buffer[] {
    return wrap(() => this.ring.poll(timeoutMs));
  }
  /** Returns whatever records are there now, without waiting (for producers that submit without wakeups). */
  consume(): Buffer[] {
    return wrap(() => this.ring.consume());
  }
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.ring.close();
  }
}

export function possibleCpus(): number {
  return wrap(() => loadNative().possibleCpus());
}

/** Cookie of this process's network namespace (SO_NETNS_COOKIE), as bpf_get_netns_cookie() sees it. */
export function ownNetnsCookie(): bigint {
  return wrap(() => loadNative().netnsCookie());
}
