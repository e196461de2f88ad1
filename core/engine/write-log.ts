/**
 * The on-host sysctl write log `kdrift watch` keeps (JSON lines, one per write: key, old -> result, process, netns,
 * time), and what `kdrift report` takes from it: for a key whose runtime value drifts, the last recorded write that
 * left exactly that value — who changed the kernel, and when. The engine has the sysctl collect exec read the log's end
 * (SysctlState.writeLog): no extra channel or round trip per drifting host; a host without the log (no watcher)
 * reports as before.
 */
import type { Finding } from '../finding.js';

export const WRITE_LOG_PATH = '/var/lib/kdrift/writes.jsonl';

export interface LoggedWrite {
  at: string;
  key: string;
  oldValue: string | null;
  result: string;
  process: { comm: string; pid: number; parentComm: string; ppid: number };
  netns: number;
}

function isLoggedWrite(v: unknown): v is LoggedWrite {
  const w = v as Partial<LoggedWrite> | null;
  return (
    typeof w === 'object' && w !== null && typeof w.at === 'string' && typeof w.key === 'string' && typeof w.result === 'string' &&
    typeof w.process === 'object' && w.process !== null && typeof w.process.comm === 'string'
  );
}

/** Per key, the last logged write that left `values[key]` (files in order: the rotated FILE.1 first, then FILE). */
export function lastWriters(logs: readonly string[], values: ReadonlyMap<string, string>): Map<string, LoggedWrite> {
  const out = new Map<string, LoggedWrite>();
  for (const text of logs) {
    for (const line of text.split('\n')) {
      if (!line.startsWith('{')) continue;
      let w: unknown;
      try {
        w = JSON.parse(line);
      } catch {
        continue; // a line cut by rotation or a crash
      }
      if (isLoggedWrite(w) && values.get(w.key) === w.result) out.set(w.key, w);
    }
  }
  return out;
}

export function describeWriter(w: LoggedWrite): string {
  const p = w.process;
  return `last written ${w.oldValue ?? '?'} -> ${w.result} by ${p.comm}[${p.pid}] (parent ${p.parentComm}[${p.ppid}]) in netns ${w.netns} at ${w.at}`;
}

/** Adds the last attributed writer to each runtime drift finding whose value the log texts (FILE.1, then FILE) explain. */
export function attributeWriters(findings: Finding[], logs: readonly string[]): void {
  if (logs.length === 0) return;
  const drifted = new Map(findings.filter((f) => f.layer === 'runtime' && f.status === 'drift' && f.actual !== null).map((f) => [f.key, f.actual as string]));
  if (drifted.size === 0) return;
  const writers = lastWriters(logs, drifted);
  for (const f of findings) {
    const w = f.layer === 'runtime' && f.status === 'drift' ? writers.get(f.key) : undefined;
    if (!w) continue;
    f.reason = f.reason ? `${f.reason}; ${describeWriter(w)}` : describeWriter(w);
    f.evidence = { ...(f.evidence ?? {}), lastWriter: w };
  }
}
