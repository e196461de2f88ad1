/**
 * The sysctl guard, agent side: loads bpf/sysctl_guard.bpf.o, writes the compiled policy and the sandbox's netns into
 * its maps, attaches it to one cgroup (a gate's child cgroup, or the cgroup v2 root for `kdrift watch`) and drains the
 * records on a short timer (the kernel submits them without wakeups). The attachment is a BPF link owned by this
 * process: close(), or the process dying by any signal, detaches it. Nothing is pinned.
 */
import { BpfError, BpfObject, BPF_ANY, type RingBuffer } from './bpf.js';
import { explainBpfRefusal, preflight } from './preflight.js';
import { decodeGuardEvent, encodeGuardConfig, encodeRule, encodeSysctlName, type GuardEvent, type GuardMode, type KernelRule } from './guard-codec.js';
import { encodeU32, sumPerCpuU64 } from './codec.js';

/** One protected key for the kernel: its name as bpf_sysctl_get_name() returns it (relative to /proc/sys). */
export interface GuardRule {
  name: string;
  rule: KernelRule;
}

export const GUARD_OBJECT = 'sysctl_guard';
const PROGRAM = 'kd_sg_sysctl';
/** The empty program the benchmark attaches to measure the hook alone. */
const NOOP_PROGRAM = 'kd_sg_noop';

export interface GuardOptions {
  /** The cgroup (v2 directory) to attach to. */
  cgroupPath: string;
  mode: GuardMode;
  /** Refuse writes that would not land in one of `netns` (keys outside net/ included). */
  sandbox: boolean;
  rules: readonly GuardRule[];
  /** Network namespaces (inode numbers) a sandbox may write its net/ keys in. */
  netns?: readonly number[];
  /** Drain interval (ms); the latency from a write to its event is about half of it. */
  drainIntervalMs?: number;
  /** Called with every batch of drained records, in order. */
  onEvents?: (events: GuardEvent[]) => void;
}

export interface GuardStats {
  writes: number;
  refused: number;
  droppedRecords: number;
}

export class SysctlGuard {
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(
    private readonly obj: BpfObject,
    private readonly ring: RingBuffer,
    private readonly link: number,
    private readonly onEvents: ((events: GuardEvent[]) => void) | undefined,
  ) {}

  static async start(opts: GuardOptions): Promise<SysctlGuard> {
    await preflight([GUARD_OBJECT]);
    const obj = BpfObject.openBundled(GUARD_OBJECT);
    try {
      obj.setAutoload(NOOP_PROGRAM, false);
      try {
        obj.load();
      } catch (err) {
        throw err instanceof BpfError ? explainBpfRefusal(err, 'loading the sysctl guard') : err;
      }
      for (const r of opts.rules) obj.update('kd_sg_rules', encodeSysctlName(r.name), encodeRule(r.rule), BPF_ANY);
      for (const ns of opts.netns ?? []) obj.update('kd_sg_netns', encodeU32(ns), Buffer.from([1]), BPF_ANY);
      obj.update('kd_sg_cfg', encodeU32(0), encodeGuardConfig({ mode: opts.mode, sandbox: opts.sandbox }), BPF_ANY);
      const ring = obj.ringBuffer('kd_sg_events');
      // Policy and ring are in place before the first write can reach the program.
      let link: number;
      try {
        link = obj.attachCgroup(PROGRAM, opts.cgroupPath);
      } catch (err) {
        throw err instanceof BpfError ? explainBpfRefusal(err, `attaching the sysctl guard to ${opts.cgroupPath}`) : err;
      }
      const guard = new SysctlGuard(obj, ring, link, opts.onEvents);
      guard.timer = setInterval(() => guard.deliver(), opts.drainIntervalMs ?? 5);
      return guard;
    } catch (err) {
      obj.close();
      throw err;
    }
  }

  /**
   * The attachment's fd. A process given a dup of it keeps the guard attached after this one is gone (the gate's
   * reaper holds one until the gated cgroup is empty, so a SIGKILLed gate leaves no unguarded moment).
   */
  linkFd(): number {
    return this.obj.linkFd(this.link);
  }

  /** Lets a sandbox write its net/ keys in one more network namespace. */
  allowNetns(inode: number): void {
    this.obj.update('kd_sg_netns', encodeU32(inode), Buffer.from([1]), BPF_ANY);
  }

  /** Records queued so far (copies), oldest first. */
  drain(): GuardEvent[] {
    if (this.closed) return [];
    return this.ring.consume().map(decodeGuardEvent);
  }

  private deliver(): void {
    const events = this.drain();
    if (events.length > 0) this.onEvents?.(events);
  }

  stats(): GuardStats {
    const stat = (i: number) => {
      const v = this.obj.lookup('kd_sg_stat', encodeU32(i));
      return v ? Number(sumPerCpuU64(v)) : 0;
    };
    return { droppedRecords: stat(0), writes: stat(1), refused: stat(2) };
  }

  /** Hands over what is still queued, then detaches and frees everything; idempotent. */
  close(): void {
    if (this.closed) return;
    this.deliver();
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.ring.close();
    this.obj.close();
  }
}

/**
 * An empty program on the guard's hook, attached to `cgroupPath` (bench/sysctl-guard.ts: what the hook itself costs,
 * apart from what the guard does). Returns what detaches it.
 */
export async function attachEmptySysctlProgram(cgroupPath: string): Promise<() => void> {
  await preflight([GUARD_OBJECT]);
  const obj = BpfObject.openBundled(GUARD_OBJECT);
  try {
    obj.setAutoload(PROGRAM, false);
    obj.load();
    obj.attachCgroup(NOOP_PROGRAM, cgroupPath);
  } catch (err) {
    obj.close();
    throw err;
  }
  return () => obj.close();
}
