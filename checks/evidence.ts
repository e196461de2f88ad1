/**
 * Pure helpers the behaviour checks share: what the agent saw on one port, summed over directions (the agent runs
 * in the host's own netns), and the evidence a finding carries. Unit-tested in test/unit/probe-judge.test.ts.
 */
import {
  addCounters,
  zeroCounters,
  type PortCounters,
  type ConnectionSample,
  type PeerSummary,
  type PortSummary,
  type ProbeObservation,
} from '../probe/index.js';

/** `in`: connections this host accepted on its listening port; `out`: connections it opened to that peer port. */
export type LegDirection = 'in' | 'out';

export interface PortTotals extends PortCounters {
  /** Per direction: `in` = connections this host accepted on the port, `out` = connections it opened to it. */
  byDirection: Array<Pick<PortSummary, 'direction' | 'connections' | 'negotiated' | 'lackedBy'>>;
}

/** Totals on a port, in one direction when given (a declaration's leg), else both. */
export function portTotals(obs: ProbeObservation, port: number, direction?: LegDirection): PortTotals {
  const t: PortTotals = { ...zeroCounters(), byDirection: [] };
  for (const r of obs.summary) {
    if (r.port !== port) continue;
    if (direction !== undefined && r.direction !== direction) continue;
    addCounters(t, r);
    if (r.connections > 0) {
      t.byDirection.push({ direction: r.direction, connections: r.connections, negotiated: r.negotiated, lackedBy: { ...r.lackedBy } });
    }
  }
  return t;
}

/**
 * Samples of connections on the port (the service port: local for accepted, remote for opened), at most `max`: real
 * connections, or the probe's own when `own` (what verification judges on a quiet host).
 */
export function portSamples(obs: ProbeObservation, port: number, max = 5, direction?: LegDirection, own = false): ConnectionSample[] {
  return onPort(obs.samples, port)
    .filter((s) => s.own === own && (direction === undefined || s.direction === direction))
    .slice(0, max);
}

/** The samples (of any observer) whose service port is `port`. */
export function onPort<S extends Pick<ConnectionSample, 'direction' | 'local' | 'remote'>>(samples: readonly S[], port: number): S[] {
  return samples.filter((s) => endpointPort(s.direction === 'out' ? s.remote : s.local) === port);
}

/** Real connections per peer address on the port (and direction): what the root-cause pass resolves to hosts. */
export function portPeers(obs: ProbeObservation, port: number, direction?: LegDirection): PeerSummary[] {
  return obs.peers.filter((p) => p.port === port && (direction === undefined || p.direction === direction));
}

function endpointPort(ep: string): number {
  return Number(ep.slice(ep.lastIndexOf(':') + 1));
}

/** Which side the non-negotiated connections are attributed to, in words, most frequent first. */
export function describeLack(l: PortTotals['lackedBy']): string {
  const parts: Array<[number, string]> = [
    [l.local, `${l.local} lacked by this host (its netns has net.ipv4.tcp_window_scaling=0)`],
    [l.peer, `${l.peer} lacked by the peer (its SYN or SYN-ACK offered no window scaling: the peer or a middlebox)`],
    [l.unknown, `${l.unknown} with the lacking side unknown`],
  ];
  return parts
    .filter(([n]) => n > 0)
    .sort((a, b) => b[0] - a[0])
    .map(([, text]) => text)
    .join('; ');
}

export function windowSeconds(obs: ProbeObservation): string {
  return `${(obs.durationMs / 1000).toFixed(1)} s`;
}

export function connectNote(obs: ProbeObservation): Record<string, unknown> {
  return obs.connect ? { testConnections: obs.connect } : {};
}
