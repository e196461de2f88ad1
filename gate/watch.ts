/**
 * `kdrift watch`, the library side: the sysctl guard in audit mode on the cgroup v2 root, so every sysctl write on
 * the host — any process, any network namespace — is attributed (who, when, old -> new, netns) and judged against the
 * declared roles the moment it is drained (every 5 ms). Keeps a bounded on-host log (JSON lines, rotated once at a
 * size cap: at most twice the cap on disk) and Prometheus counters with bounded labels (result, and the key only for
 * declared keys).
 */
import { appendFile, mkdir, rename, stat } from 'node:fs/promises';
import path from 'node:path';
import type { SysctlExpectation } from '../core/baseline.js';
import { SysctlGuard, cgroup2Root } from '../probe/index.js';
import { judgeWrite, monotonicToWall, type JudgedWrite } from './judge.js';

export { WRITE_LOG_PATH as DEFAULT_WRITE_LOG } from '../core/engine/index.js';
export const DEFAULT_LOG_MAX_BYTES = 4 * 1024 * 1024;

export interface WatchOptions {
  /** The declarations a write is judged against, by the writer's netns; undefined = attributed, not judged. */
  judgeFor: (netns: number) => { host?: string; specs: ReadonlyMap<string, SysctlExpectation> } | undefined;
  onWrite: (w: JudgedWrite) => void;
  /** JSON-lines log of every write; undefined = none. */
  logFile?: string;
  logMaxBytes?: number;
}

export class SysctlWatch {
  private readonly writes = { allowed: 0, conflict: 0 };
  private readonly conflictsByKey = new Map<string, number>();
  private logChain: Promise<void> = Promise.resolve();

  private constructor(
    private readonly guard: SysctlGuard,
    readonly cgroupRoot: string,
  ) {}

  static async start(opts: WatchOptions): Promise<SysctlWatch> {
    const root = await cgroup2Root();
    if (opts.logFile) await mkdir(path.dirname(opts.logFile), { recursive: true });
    let watch: SysctlWatch | undefined;
    const pending: JudgedWrite[] = [];
    const guard = await SysctlGuard.start({
      cgroupPath: root,
      mode: 'audit',
      sandbox: false,
      rules: [],
      onEvents: (events) => {
        const nowMono = process.hrtime.bigint();
        const nowWall = Date.now();
        for (const e of events) {
          const target = opts.judgeFor(e.netns);
          const w = judgeWrite(e, target?.specs ?? new Map(), monotonicToWall(e.tsNs, nowMono, nowWall));
          if (target?.host) w.host = target.host;
          if (watch) watch.record(w, opts);
          else pending.push(w);
        }
      },
    });
    watch = new SysctlWatch(guard, root);
    for (const w of pending) watch.record(w, opts);
    return watch;
  }

  private record(w: JudgedWrite, opts: WatchOptions): void {
    if (w.conflict) {
      this.writes.conflict++;
      this.conflictsByKey.set(w.key, (this.conflictsByKey.get(w.key) ?? 0) + 1);
    } else this.writes.allowed++;
    if (opts.logFile) {
      const file = opts.logFile;
      const cap = opts.logMaxBytes ?? DEFAULT_LOG_MAX_BYTES;
      this.logChain = this.logChain.then(() => appendBounded(file, JSON.stringify(w) + '\n', cap)).catch(() => undefined);
    }
    opts.onWrite(w);
  }

  /** Prometheus text exposition. */
  metrics(): string {
    const out: string[] = [];
    out.push('# HELP kdrift_sysctl_writes_total Sysctl writes seen on this host, by whether they contradict a declared value.');
    out.push('# TYPE kdrift_sysctl_writes_total counter');
    out.push(`kdrift_sysctl_writes_total{result="allowed"} ${this.writes.allowed}`);
    out.push(`kdrift_sysctl_writes_total{result="conflict"} ${this.writes.conflict}`);
    out.push('# HELP kdrift_sysctl_conflicting_writes_total Writes contradicting a declared value, per declared key.');
    out.push('# TYPE kdrift_sysctl_conflicting_writes_total counter');
    for (const [key, n] of [...this.conflictsByKey].sort()) out.push(`kdrift_sysctl_conflicting_writes_total{key="${key}"} ${n}`);
    out.push('# HELP kdrift_sysctl_guard_dropped_records_total Writes the kernel could not queue for attribution (ring full).');
    out.push('# TYPE kdrift_sysctl_guard_dropped_records_total counter');
    out.push(`kdrift_sysctl_guard_dropped_records_total ${this.guard.stats().droppedRecords}`);
    return out.join('\n') + '\n';
  }

  /** Detaches (delivering what is queued) and waits for the log to be written. */
  async close(): Promise<void> {
    this.guard.close();
    await this.logChain;
  }
}

/** Appends a line; past the cap the file moves to FILE.1 (replacing the previous one) and a new file starts. */
export async function appendBounded(file: string, line: string, maxBytes: number): Promise<void> {
  const size = await stat(file).then(
    (s) => s.size,
    () => 0,
  );
  if (size > 0 && size + Buffer.byteLength(line) > maxBytes) await rename(file, `${file}.1`);
  await appendFile(file, line, { mode: 0o640 });
}
