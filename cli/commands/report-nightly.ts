/**
 * The nightly side of `kdrift report` / `kdrift check`, kept apart from the report command itself:
 *   --previous FILE / --state-dir DIR   compare with the last report (new / still drifting / resolved), and with
 *                                       --state-dir keep this report as the next run's previous one;
 *   --every DUR [--listen ADDR]         keep running: rescan every DUR over kept connections, serve the latest
 *                                       report as Prometheus metrics on http://ADDR/metrics.
 */
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { KdriftError } from '../../core/errors.js';
import { parseDurationMs } from '../../core/duration.js';
import { diffReports, parsePreviousReport, type PreviousReport } from '../../core/report-diff.js';
import type { Report } from '../../core/report.js';
import { KeptSessions } from '../../core/engine/index.js';
import type { SessionOptions } from '../../core/sessions.js';
import { renderChunks } from '../../core/render/index.js';
import { writeText } from '../stdout.js';

export const nightlyOptions = {
  previous: { type: 'string' },
  'state-dir': { type: 'string' },
  every: { type: 'string' },
  listen: { type: 'string' },
} as const;

export const nightlyOptionsUsage = `Changes and repeated runs:
  --previous FILE           compare with this earlier JSON report: each drift finding is marked new or still
                            drifting, and the drift that resolved is listed (every format shows it)
  --state-dir DIR           keep the last report in DIR/last-report.json: compare with it (when there), then replace it
  --every DUR               keep running: check again every DUR (e.g. 30s, 5m) over the same SSH connections
                            (reconnecting the ones that dropped); outputs are rewritten after every run
  --listen ADDR             with --every: serve the latest report as Prometheus metrics on http://ADDR/metrics
                            (ADDR = host:port, e.g. 127.0.0.1:9465)
`;

export interface NightlyValues {
  previous?: string | undefined;
  'state-dir'?: string | undefined;
  every?: string | undefined;
  listen?: string | undefined;
}

const STATE_FILE = 'last-report.json';

/** Compares each run with the previous one and, with a state dir, remembers the run for the next. */
export class ChangeTracking {
  private previous: PreviousReport | undefined;

  private constructor(
    private readonly stateFile: string | undefined,
    previous: PreviousReport | undefined,
    private readonly enabled: boolean,
  ) {
    this.previous = previous;
  }

  /** Validates the options and reads the previous report before any host is touched. */
  static async open(values: NightlyValues): Promise<ChangeTracking> {
    if (values.previous !== undefined && values['state-dir'] !== undefined) throw new KdriftError('give --previous FILE or --state-dir DIR, not both');
    if (values.previous !== undefined) return new ChangeTracking(undefined, await readPrevious(values.previous, true), true);
    if (values['state-dir'] !== undefined) {
      const file = path.resolve(values['state-dir'], STATE_FILE);
      return new ChangeTracking(file, await readPrevious(file, false), true);
    }
    return new ChangeTracking(undefined, undefined, false);
  }

  /** File the caller writes this run's JSON report to (atomically), when a state dir is kept. */
  get stateOutput(): string | undefined {
    return this.stateFile;
  }

  /** Marks changes against the previous run (nothing on the first run of a state dir); the next run compares with this one. */
  apply(report: Report): Report {
    if (!this.enabled) return report;
    if (this.previous) diffReports(report, this.previous);
    this.previous = parsePreviousReport(JSON.stringify(report), 'this run');
    return report;
  }
}

async function readPrevious(file: string, required: boolean): Promise<PreviousReport | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (!required && code === 'ENOENT') return undefined;
    throw new KdriftError(`cannot read the previous report: ${code ?? String(err)}`, file);
  }
  return parsePreviousReport(text, file);
}

/** --every DUR → ms (validated up front); undefined when not given. --listen needs --every. */
export function everyOption(values: NightlyValues): { everyMs?: number; listen?: { host: string; port: number } } {
  if (values.every === undefined) {
    if (values.listen !== undefined) throw new KdriftError('--listen serves the results of repeated runs: give --every DUR too');
    return {};
  }
  const ms = parseDurationMs(values.every);
  if (ms === undefined || ms < 1000) throw new KdriftError(`--every must be a duration of at least 1s (e.g. 30s, 5m), got "${values.every}"`);
  if (values.listen === undefined) return { everyMs: ms };
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:]+)):(\d{1,5})$/.exec(values.listen);
  const port = Number(m?.[3]);
  if (!m || port < 1 || port > 65535) throw new KdriftError(`--listen must be HOST:PORT (e.g. 127.0.0.1:9465), got "${values.listen}"`);
  return { everyMs: ms, listen: { host: (m[1] ?? m[2]) as string, port } };
}

/** Serves the latest report's Prometheus text on /metrics (404 elsewhere; 503 until the first run is done). */
export async function serveMetrics(listen: { host: string; port: number }, latest: () => Report | undefined): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (url !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('kdrift: metrics are on /metrics\n');
      return;
    }
    const report = latest();
    if (!report) {
      res.writeHead(503, { 'content-type': 'text/plain' }).end('kdrift: first run not finished yet\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
    // streamed: 3 MB per scrape at 1,000 hosts
    void writeText(res, renderChunks(report, 'prom')).then(() => res.end(), () => res.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(new KdriftError(`cannot listen on ${listen.host}:${listen.port}: ${err.code ?? err.message}`)));
    server.listen(listen.port, listen.host, () => resolve());
  });
  return server;
}

/** Resolves on SIGINT / SIGTERM (the loop of --every ends there, closing connections and the server). */
export function untilSignal(): { stopped: Promise<void>; isStopped: () => boolean } {
  let stop = false;
  const stopped = new Promise<void>((resolve) => {
    const on = () => {
      stop = true;
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve();
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
  return { stopped, isStopped: () => stop };
}

/**
 * --every: runs `once` over kept connections every `everyMs` (measured start to start; a run longer than the
 * interval is followed at once by the next) until SIGINT/SIGTERM, serving the latest report when `listen` is given.
 * Returns the exit code of the last finished run.
 */
export async function runEvery(
  once: (kept: KeptSessions) => Promise<{ report: Report; code: number }>,
  opts: { everyMs: number; listen?: { host: string; port: number }; sessionOptions: SessionOptions },
): Promise<number> {
  const kept = new KeptSessions(opts.sessionOptions);
  let latest: Report | undefined;
  const server = opts.listen ? await serveMetrics(opts.listen, () => latest) : undefined;
  const signal = untilSignal();
  let code = 0;
  try {
    for (let n = 1; !signal.isStopped(); n++) {
      const t0 = Date.now();
      const cpu0 = process.cpuUsage();
      const run = await once(kept);
      const cpu = process.cpuUsage(cpu0);
      latest = run.report;
      code = run.code;
      const s = run.report.summary;
      process.stderr.write(`kdrift: run ${n}: ${s.hosts} hosts in ${((Date.now() - t0) / 1000).toFixed(2)} s (${((cpu.user + cpu.system) / 1e6).toFixed(2)} s CPU), ${s.drifted} drifted, ${s.errors} errors; next in ${Math.max(0, (t0 + opts.everyMs - Date.now()) / 1000).toFixed(1)} s\n`);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([signal.stopped, new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, t0 + opts.everyMs - Date.now()))))]);
      clearTimeout(timer);
    }
  } finally {
    await kept.closeAll();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }
  return code;
}
