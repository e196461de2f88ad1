/**
 * One agent run: attach, optionally drive test connections, observe for the window (or until SIGINT/SIGTERM), then
 * detach and return the observation. The probe is closed on every path, signals included.
 */
import os from 'node:os';
import type { Server } from 'node:http';
import { Probe } from './agent.js';
import { driveConnections, type ConnectTarget, type DriveResult } from './connect.js';
import { renderMetrics, serveMetrics, type MetricsWriter } from './metrics.js';
import type { ProbeObservation } from './observation.js';
import { observers, type ObserverName } from './observers/index.js';

export interface ProbeRunOptions {
  ports: number[];
  netns: 'self' | 'all';
  /** Observation window; undefined = until signalled. */
  durationMs?: number;
  connect: ConnectTarget[];
  connectCount: number;
  samples: number;
  /** Observers to load (default: probe/observers' defaults). */
  observe?: readonly ObserverName[];
  serve?: { host: string; port: number };
  /** Called once attached (e.g. to print where metrics are served). */
  onReady?: (info: { netnsCookie: bigint; metricsAddress?: string }) => void;
}

export async function runProbe(opts: ProbeRunOptions): Promise<ProbeObservation> {
  const probe = await Probe.start({
    ports: opts.ports,
    netns: opts.netns,
    tagOwn: opts.connect.length > 0,
    ...(opts.observe ? { observe: opts.observe } : {}),
  });
  let server: Server | undefined;
  let stop: () => void = () => {};
  const stopped = new Promise<void>((resolve) => {
    stop = resolve;
  });
  const onSignal = () => stop();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    let metricsAddress: string | undefined;
    if (opts.serve) {
      server = await serveMetrics(opts.serve.host, opts.serve.port, () => {
        const snap = probe.snapshot(0);
        const parts = (w: MetricsWriter) => observers.forEach((o) => o.metrics?.(snap, w));
        return renderMetrics(snap.summary, { perNetns: opts.netns === 'all', droppedEvents: snap.dropped.events, parts });
      });
      const a = server.address();
      metricsAddress = typeof a === 'object' && a ? `${a.address}:${a.port}` : String(a);
    }
    opts.onReady?.({ netnsCookie: probe.netnsCookie, metricsAddress });

    const timer = opts.durationMs !== undefined ? setTimeout(stop, opts.durationMs) : undefined;
    const connects: DriveResult[] = [];
    for (const t of opts.connect) connects.push(await driveConnections(t, opts.connectCount, 3000, (p) => probe.markOwn(p)));
    await stopped;
    if (timer) clearTimeout(timer);

    const { summary, samples, dropped, retransmitHook, peers = [], peersComplete = true, ...parts } = probe.snapshot(opts.samples);
    return {
      version: 1,
      host: os.hostname(),
      netns: opts.netns,
      netnsCookie: probe.netnsCookie.toString(),
      ports: opts.ports,
      startedAt: new Date(probe.startedAtMs).toISOString(),
      durationMs: Date.now() - probe.startedAtMs,
      observed: probe.observed,
      retransmitHook,
      connect: mergeConnects(connects),
      summary,
      samples,
      dropped,
      peers,
      peersComplete,
      addresses: ownAddresses(),
      ...parts,
    };
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    server?.close();
    server?.closeAllConnections();
    probe.close();
  }
}

/** Every non-loopback address of this host's netns: a report resolves peers seen elsewhere to this host with it. */
export function ownAddresses(): string[] {
  return Object.values(os.networkInterfaces())
    .flatMap((list) => list ?? [])
    .filter((a) => !a.internal && !a.address.startsWith('fe80:'))
    .map((a) => a.address);
}

function mergeConnects(rs: DriveResult[]): ProbeObservation['connect'] {
  if (rs.length === 0) return null;
  return {
    target: rs.map((r) => r.target).join(','),
    attempted: rs.reduce((n, r) => n + r.attempted, 0),
    succeeded: rs.reduce((n, r) => n + r.succeeded, 0),
    errors: rs.flatMap((r) => r.errors.map((e) => `${r.target}: ${e}`)),
  };
}

/** The human summary `kdrift probe` prints without --json. */
export function renderHuman(o: ProbeObservation): string {
  const lines: string[] = [];
  lines.push(
    `kdrift probe on ${o.host}: ${(o.durationMs / 1000).toFixed(1)} s, netns ${o.netns === 'self' ? `self (cookie ${o.netnsCookie})` : 'all'}, ` +
      `ports ${o.ports.length ? o.ports.join(', ') : 'all'}`,
  );
  if (o.connect) lines.push(`test connections to ${o.connect.target}: ${o.connect.succeeded}/${o.connect.attempted} established${o.connect.errors.length ? ` (${o.connect.errors.join('; ')})` : ''}`);
  const parts = observers.flatMap((ob) => ob.render?.(o) ?? []);
  if (o.summary.length === 0) {
    if (parts.length === 0) lines.push('no TCP activity seen on the watched ports');
  } else {
    const head = ['port', 'dir', 'netns', 'conns', 'wscale', 'share', 'lacked local/peer/unknown', 'zero-win sent/recv', 'retrans', 'segs out'];
    const rows = o.summary.map((r) => [
      String(r.port),
      r.direction,
      r.netnsCookie,
      r.own.connections > 0 ? `${r.connections} (+${r.own.connections} own)` : String(r.connections),
      String(r.negotiated),
      r.share === null ? '-' : r.share.toFixed(2),
      `${r.lackedBy.local}/${r.lackedBy.peer}/${r.lackedBy.unknown}`,
      `${r.zeroWindow.sent}/${r.zeroWindow.received}`,
      String(r.retransmits),
      String(r.dataSegmentsOut),
    ]);
    const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
    const fmt = (cells: string[]) => cells.map((c, i) => c.padEnd(width[i] as number)).join('  ').trimEnd();
    lines.push(fmt(head), ...rows.map(fmt));
  }
  const lacking = o.samples.filter((s) => !s.wscaleOk);
  for (const s of lacking.slice(0, 5)) {
    lines.push(`  not negotiated: ${s.local} ${s.direction === 'in' ? '<-' : '->'} ${s.remote} (lacked by ${s.outcome}; we offered ${s.localOffered}, peer offered ${s.peerOffered})`);
  }
  lines.push(...parts);
  if (o.dropped.events > 0 || o.dropped.counterKeys > 0) lines.push(`dropped: ${o.dropped.events} samples, ${o.dropped.counterKeys} counter keys`);
  return lines.join('\n') + '\n';
}
