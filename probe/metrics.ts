import { addCounters } from './counters.js';
import http from 'node:http';
import type { PortSummary } from './observation.js';

/** What an observer's own part writes its metric families through (probe/observers/observer.ts `metrics`). */
export interface MetricsWriter {
  readonly perNetns: boolean;
  family(name: string, type: 'counter' | 'gauge', help: string): void;
  /** One sample of a per-port row: port, direction (and netns when perNetns) plus `extra` labels. */
  sample(name: string, row: Pick<PortSummary, 'port' | 'direction' | 'netnsCookie'>, extra: Record<string, string>, value: number): void;
}

/**
 * Prometheus text exposition of the probe's counters. Labels are bounded: port, direction, outcome / side (or an
 * observer's own bounded label, e.g. the congestion control algorithm), and the netns cookie only when the probe
 * watches every netns. Never a per-connection label. `parts` adds the observers' own families.
 */
export function renderMetrics(
  rows: readonly PortSummary[],
  opts: { perNetns: boolean; droppedEvents: number; parts?: (w: MetricsWriter) => void },
): string {
  const out: string[] = [];
  const family = (name: string, type: 'counter' | 'gauge', help: string) => out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  const labels = (r: Pick<PortSummary, 'port' | 'direction' | 'netnsCookie'>, extra: Record<string, string> = {}) => {
    const l: Record<string, string> = { port: String(r.port), direction: r.direction, ...extra };
    if (opts.perNetns) l.netns = r.netnsCookie;
    return `{${Object.entries(l)
      .map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`))}"`)
      .join(',')}}`;
  };
  const merged = opts.perNetns ? [...rows] : mergeNetns(rows);

  family('kdrift_tcp_connections_total', 'counter', 'New TCP connections seen by the probe, by window-scaling outcome.');
  for (const r of merged) {
    out.push(`kdrift_tcp_connections_total${labels(r, { outcome: 'negotiated' })} ${r.negotiated}`);
    for (const side of ['local', 'peer', 'unknown'] as const) out.push(`kdrift_tcp_connections_total${labels(r, { outcome: `lacked_${side}` })} ${r.lackedBy[side]}`);
  }
  family('kdrift_probe_own_connections_total', 'counter', "The probe's own test connections (not part of kdrift_tcp_connections_total), by outcome.");
  for (const r of merged) {
    out.push(`kdrift_probe_own_connections_total${labels(r, { outcome: 'negotiated' })} ${r.own.negotiated}`);
    out.push(`kdrift_probe_own_connections_total${labels(r, { outcome: 'lacked' })} ${r.own.connections - r.own.negotiated}`);
  }
  family('kdrift_tcp_zero_window_total', 'counter', 'Segments advertising a zero receive window (side=sent: this host advertised it).');
  for (const r of merged) {
    out.push(`kdrift_tcp_zero_window_total${labels(r, { side: 'sent' })} ${r.zeroWindow.sent}`);
    out.push(`kdrift_tcp_zero_window_total${labels(r, { side: 'received' })} ${r.zeroWindow.received}`);
  }
  family('kdrift_tcp_zero_window_probes_total', 'counter', 'Zero-window probes.');
  for (const r of merged) {
    out.push(`kdrift_tcp_zero_window_probes_total${labels(r, { side: 'sent' })} ${r.zeroWindowProbes.sent}`);
    out.push(`kdrift_tcp_zero_window_probes_total${labels(r, { side: 'received' })} ${r.zeroWindowProbes.received}`);
  }
  family('kdrift_tcp_retransmits_total', 'counter', 'Retransmitted segments.');
  for (const r of merged) out.push(`kdrift_tcp_retransmits_total${labels(r)} ${r.retransmits}`);
  family('kdrift_tcp_data_segments_out_total', 'counter', 'Data segments sent (retransmits included).');
  for (const r of merged) out.push(`kdrift_tcp_data_segments_out_total${labels(r)} ${r.dataSegmentsOut}`);
  opts.parts?.({ perNetns: opts.perNetns, family, sample: (name, row, extra, value) => out.push(`${name}${labels(row, extra)} ${value}`) });
  family('kdrift_probe_dropped_events_total', 'counter', 'Connection samples the kernel could not queue (counts stay exact).');
  out.push(`kdrift_probe_dropped_events_total ${opts.droppedEvents}`);
  return out.join('\n') + '\n';
}

function mergeNetns(rows: readonly PortSummary[]): PortSummary[] {
  const by = new Map<string, PortSummary>();
  for (const r of rows) {
    const id = `${r.port}/${r.direction}`;
    const m = by.get(id);
    if (!m) {
      by.set(id, structuredClone({ ...r, netnsCookie: '' }));
      continue;
    }
    addCounters(m, r);
  }
  return [...by.values()];
}

/** Serves GET /metrics until closed. */
export function serveMetrics(host: string, port: number, render: () => string): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || (req.url !== '/metrics' && req.url !== '/')) {
      res.writeHead(404).end('not found\n');
      return;
    }
    try {
      const body = render();
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(body);
    } catch (err) {
      res.writeHead(500).end(`${(err as Error).message}\n`);
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
