import { KdriftError } from '../core/errors.js';
import { labExec } from './index.js';
import { labStatus } from './index.js';
import { distScript } from './paths.js';
import { HTTP_PORT, DATA_PATH_NICE, WIRE_NICE } from './plan.js';
import type { LoadResult, ConnectResult } from './load.js';

export type { LoadResult, ConnectResult } from './load.js';

export interface LoadOptions {
  requests?: number;
  /** Response size in bytes (default 8 MiB). */
  size?: number;
  concurrency?: number;
  /** wan (default): lb's WAN address, across the delay line; lan: lb's LAN address (no RTT), for comparison. */
  target?: 'wan' | 'lan';
  timeoutMs?: number;
}

export const DEFAULT_LOAD = { requests: 10, size: 8 * 1024 * 1024, concurrency: 2 } as const;
const MAX_SIZE = 64 * 1024 * 1024;

async function targetAddress(name: string, target: 'wan' | 'lan'): Promise<string> {
  const st = await labStatus(name);
  if (!st.healthy) throw new KdriftError(`lab ${name} is not up and healthy: run kdrift lab up${name === 'kdlab' ? '' : ` --name ${name}`}`);
  const lb = st.hosts.find((h) => h.name === 'lb');
  return target === 'wan' ? st.wan.lbAddress : (lb?.address as string);
}

function parseJson<T>(stdout: string, stderr: string, what: string): T {
  try {
    return JSON.parse(stdout) as T;
  } catch {
    throw new KdriftError(`${what} in the client namespace failed: ${stderr.trim() || stdout.trim() || 'no output'}`);
  }
}

/** Drives HTTP requests client → lb (HAProxy) → app1/app2 from inside the client namespace. */
export async function runLoad(name: string, opts: LoadOptions = {}): Promise<LoadResult> {
  const requests = opts.requests ?? DEFAULT_LOAD.requests;
  const size = opts.size ?? DEFAULT_LOAD.size;
  const concurrency = opts.concurrency ?? DEFAULT_LOAD.concurrency;
  if (!Number.isInteger(size) || size < 0 || size > MAX_SIZE) throw new KdriftError(`size must be 0-${MAX_SIZE} bytes, got ${size}`, '--size');
  const addr = await targetAddress(name, opts.target ?? 'wan');
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const res = await labExec(
    name,
    'client',
    [...DATA_PATH_NICE, process.execPath, distScript('load'), '--url', `http://${addr}:${HTTP_PORT}/bytes/${size}`, '--requests', String(requests), '--concurrency', String(concurrency), '--timeout-ms', String(timeoutMs)],
    { timeoutMs: timeoutMs * Math.ceil(requests / concurrency) + 30_000 },
  );
  return parseJson<LoadResult>(res.stdout, res.stderr, 'the load generator');
}

/**
 * TCP connect times client → lb across the chosen link: one round trip each (SYN → SYN-ACK). The probe is a measuring
 * instrument: it runs at the wire's priority so its own scheduling delay on a busy machine does not count as RTT.
 */
export async function measureConnect(name: string, opts: { count?: number; target?: 'wan' | 'lan' } = {}): Promise<ConnectResult> {
  const addr = await targetAddress(name, opts.target ?? 'wan');
  const res = await labExec(name, 'client', [...WIRE_NICE, process.execPath, distScript('load'), '--connect', `${addr}:${HTTP_PORT}`, '--requests', String(opts.count ?? 20), '--timeout-ms', '5000'], {
    timeoutMs: 120_000,
  });
  return parseJson<ConnectResult>(res.stdout, res.stderr, 'the connect-time probe');
}
