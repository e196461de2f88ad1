import { congestionControlSpec } from './tcp-congestion-control.schema.js';
import { behaviourKind } from './behaviour-kind.js';
import { onPort, windowSeconds } from './evidence.js';

/** What the agent could not name (bpf_getsockopt refused): neither the declared algorithm nor another one. */
const UNNAMED = 'unknown';

/**
 * tcp.congestionControl: the congestion control algorithm new connections on a port actually use, as the kernel names
 * it at ESTABLISHED (bpf_getsockopt TCP_CONGESTION), against the declared one. The netns's
 * net.ipv4.tcp_congestion_control is only the default: a route's `congctl`, an application's setsockopt or a BPF
 * program can override it per connection, and a module that cannot be loaded falls back to reno.
 */
export const congestionControlCheck = behaviourKind({
  specSchema: congestionControlSpec,
  observes: 'congestion',
  expected: (spec) => `algorithm = ${spec.algorithm}`,
  judge(obs, spec) {
    const rows = (obs.congestion?.rows ?? []).filter((r) => r.port === spec.port && r.connections > 0);
    const byAlgorithm: Record<string, number> = {};
    for (const r of rows) byAlgorithm[r.algorithm] = (byAlgorithm[r.algorithm] ?? 0) + r.connections;
    const connections = rows.reduce((n, r) => n + r.connections, 0);
    const named = connections - (byAlgorithm[UNNAMED] ?? 0);
    const matching = byAlgorithm[spec.algorithm] ?? 0;
    // Connections on another algorithm are the evidence a reader wants first.
    const samples = onPort(obs.congestion?.samples ?? [], spec.port);
    const evidence = {
      connections,
      byAlgorithm,
      byDirection: rows.map((r) => ({ direction: r.direction, algorithm: r.algorithm, connections: r.connections })),
      samples: [...samples.filter((s) => s.algorithm !== spec.algorithm), ...samples.filter((s) => s.algorithm === spec.algorithm)].slice(0, 5),
    };
    if (named === 0) {
      const reason =
        connections === 0
          ? `no new TCP connections on port ${spec.port} during the ${windowSeconds(obs)} window: nothing to judge`
          : `the kernel did not name the algorithm of any of the ${connections} new connections on port ${spec.port}`;
      return { status: 'unknown', actual: null, reason, evidence };
    }
    const used = Object.entries(byAlgorithm)
      .filter(([a]) => a !== UNNAMED)
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
    const actual = used.map(([a, n]) => `${a} (${n}/${named})`).join(', ');
    if (matching === named) return { status: 'ok', actual, evidence };
    const others = used.filter(([a]) => a !== spec.algorithm).map(([a, n]) => `${n} used ${a}`);
    return {
      status: 'drift',
      actual,
      reason:
        `${named - matching} of ${named} new connections on port ${spec.port} did not use the declared ${spec.algorithm}: ${others.join(', ')} ` +
        `(the netns's net.ipv4.tcp_congestion_control is their default; a route's congctl or the application's TCP_CONGESTION overrides it)`,
      evidence,
    };
  },
});
