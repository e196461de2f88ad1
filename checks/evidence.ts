/**
 * Pure helpers the behaviour checks share: what the agent saw on one port, summed over directions (the agent runs
 * in the host's own netns), and the evidence a finding carries. Unit-tested in test/unit/probe-judge.test.ts.
 */
import { addCounters, zeroCounters, type PortCounters, type ConnectionSample, type PortSummary, type ProbeObservation } from '../probe/index.js';

export interface PortTotals extends PortCounters {
  /** Per direction: `in` = connections this host accepted on the port, `out` = connections it opened to it. */
  byDirection: Array<Pick<PortSummary, 'direction' | 'connections' | 'negotiated' | 'lackedBy'>>;
}

export function portTotals(obs: ProbeObservation, port: number): PortTotals {
  const t: PortTotals = { ...zeroCounters(), byDirection: [] };
  for (const r of obs.summary) {
    if (r.port !== port) continue;
    addCounters(t, r);
    if (r.connections > 0) {
      t.byDirection.push({ direction: r.direction, connections: r.connections, negotiated: r.negotiated, lackedBy: { ...r.lackedBy } });
    }
  }
  return t;
}

/** Samples of connections on the port (the service port: local for accepted, remote for opened), at most `max`. */
export function portSamples(obs: ProbeObservation, port: number, max = 5): ConnectionSample[] {
  return onPort(obs.samples, port).slice(0, max);
}

/** The samples (of any observer) whose service port is `port`. */
export function onPort<S extends Pick<ConnectionSample, 'direction' | 'local' | 'remote'>>(samples: readonly S[], port: number): S[] {
  return samples.filter((s) => endpointPort(s.direction === 'out' ? s.remote : s.local) === port);
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
