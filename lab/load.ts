/**
 * The lab's load generator: what an operator's dashboard would show for clients of the load balancer.
 * Runs INSIDE the client namespace (labExec), so its requests cross the WAN link. Every request is a new TCP
 * connection (the outage hits new connections: window scaling is negotiated in the handshake).
 *
 * Usage: node dist/lab/load.js --url http://ADDR/bytes/N --requests N --concurrency C [--timeout-ms MS]
 *        node dist/lab/load.js --connect ADDR:PORT --requests N        (TCP connect times only: the link's RTT)
 * Prints one JSON object (LoadResult or ConnectResult) on stdout.
 */
import http from 'node:http';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

export interface LoadResult {
  url: string;
  requests: number;
  errors: number;
  concurrency: number;
  bytes: number;
  durationMs: number;
  bytesPerSecond: number;
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
  minMs: number;
  meanMs: number;
  errorSamples: string[];
}

export interface ConnectResult {
  target: string;
  connects: number;
  errors: number;
  p50Ms: number;
  minMs: number;
  maxMs: number;
  meanMs: number;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}

const round = (n: number) => Math.round(n * 100) / 100;

function oneRequest(url: string, timeoutMs: number): Promise<{ ms: number; bytes: number; error?: string }> {
  const start = performance.now();
  return new Promise((resolve) => {
    let bytes = 0;
    let done = false;
    const finish = (error?: string) => {
      if (done) return;
      done = true;
      resolve({ ms: performance.now() - start, bytes, ...(error ? { error } : {}) });
    };
    const req = http.get(url, { agent: false, timeout: timeoutMs }, (res) => {
      const expected = Number(res.headers['content-length'] ?? -1);
      res.on('data', (b: Buffer) => (bytes += b.length));
      res.on('end', () => {
        if (res.statusCode !== 200) finish(`HTTP ${res.statusCode}`);
        else if (expected >= 0 && bytes !== expected) finish(`short body: ${bytes} of ${expected} bytes`);
        else finish();
      });
      res.on('error', (e) => finish(e.message));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on('error', (e) => finish(e.message));
  });
}

export async function runHttpLoad(url: string, requests: number, concurrency: number, timeoutMs: number): Promise<LoadResult> {
  const times: number[] = [];
  const errorSamples: string[] = [];
  let errors = 0;
  let bytes = 0;
  let next = 0;
  const start = performance.now();
  const worker = async () => {
    while (next < requests) {
      next++;
      const r = await oneRequest(url, timeoutMs);
      bytes += r.bytes;
      if (r.error) {
        errors++;
        if (errorSamples.length < 5) errorSamples.push(r.error);
      } else times.push(r.ms);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, requests) }, worker));
  const durationMs = performance.now() - start;
  times.sort((a, b) => a - b);
  return {
    url,
    requests,
    errors,
    concurrency,
    bytes,
    durationMs: round(durationMs),
    bytesPerSecond: Math.round(bytes / (durationMs / 1000)),
    p50Ms: round(percentile(times, 50)),
    p95Ms: round(percentile(times, 95)),
    maxMs: round(times[times.length - 1] ?? 0),
    minMs: round(times[0] ?? 0),
    meanMs: round(times.length ? times.reduce((a, b) => a + b, 0) / times.length : 0),
    errorSamples,
  };
}

/** `warmup` connects first, not counted: the first ones after a (re)start pay for JIT and thread-pool start-up. */
export async function runConnects(host: string, port: number, count: number, timeoutMs: number, warmup = 10): Promise<ConnectResult> {
  let times: number[] = [];
  let errors = 0;
  for (let i = 0; i < count + warmup; i++) {
    if (i === warmup) {
      times = [];
      errors = 0;
    }
    const start = performance.now();
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host, port, timeout: timeoutMs });
      s.once('connect', () => {
        times.push(performance.now() - start);
        s.destroy();
        resolve(true);
      });
      s.once('timeout', () => {
        s.destroy();
        resolve(false);
      });
      s.once('error', () => resolve(false));
    });
    if (!ok) errors++;
  }
  times.sort((a, b) => a - b);
  return {
    target: `${host}:${port}`,
    connects: count,
    errors,
    p50Ms: round(percentile(times, 50)),
    minMs: round(times[0] ?? 0),
    maxMs: round(times[times.length - 1] ?? 0),
    meanMs: round(times.length ? times.reduce((a, b) => a + b, 0) / times.length : 0),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      connect: { type: 'string' },
      requests: { type: 'string', default: '10' },
      concurrency: { type: 'string', default: '2' },
      'timeout-ms': { type: 'string', default: '120000' },
    },
  });
  const requests = Number(values.requests);
  const concurrency = Number(values.concurrency);
  const timeoutMs = Number(values['timeout-ms']);
  if (!(requests >= 1) || !(concurrency >= 1) || !(timeoutMs > 0)) throw new Error('--requests, --concurrency and --timeout-ms must be positive');
  let out: LoadResult | ConnectResult;
  if (values.connect) {
    const m = /^([0-9.]+):(\d+)$/.exec(values.connect);
    if (!m) throw new Error('--connect ADDR:PORT');
    out = await runConnects(m[1] as string, Number(m[2]), requests, timeoutMs);
  } else if (values.url) {
    out = await runHttpLoad(values.url, requests, concurrency, timeoutMs);
  } else throw new Error('give --url or --connect');
  process.stdout.write(JSON.stringify(out) + '\n');
}

// Only when run as a script (the CLI imports the types and percentile()).
if (process.argv[1] && /load\.[jt]s$/.test(process.argv[1])) {
  main().catch((e: unknown) => {
    process.stderr.write(`load: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
