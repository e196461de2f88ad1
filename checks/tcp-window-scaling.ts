import type { CheckKind } from './kind.js';
import type { Finding } from '../core/finding.js';
import { windowScalingSpec, type WindowScalingSpec } from './tcp-window-scaling.spec.js';
import { collectShared } from '../probe/collect.js';
import type { ProbeObservation } from '../probe/observation.js';
import { notObservedFinding, connectNote, describeLack, portPeers, portSamples, portTotals, windowSeconds } from '../probe/evidence.js';

/**
 * tcp.windowScaling: the share of new connections on one leg (accepted on a listening port, or opened to a peer port)
 * that negotiated window scaling, as the probe saw it in the kernel (tcp_sock.rx_opt.wscale_ok at ESTABLISHED), with
 * the side that lacked it and the peers they were with. Real traffic only: the probe's own test connections are
 * counted apart and judged only when the caller asks (ctx.ownTraffic) and nothing real was seen.
 */
export const windowScalingCheck: CheckKind<WindowScalingSpec, ProbeObservation> = {
  kind: 'tcp.windowScaling',
  layer: 'behaviour',
  specSchema: windowScalingSpec,
  collect: (session, specs, ctx) => collectShared(session, specs.values(), ctx),
  judge(obs, specs, ctx) {
    const out: Finding[] = [];
    for (const [key, spec] of specs) {
      if (!obs.observed.includes('wscale')) {
        out.push({ ...notObservedFinding(ctx.host.name, key, spec, 'tcp.windowScaling'), status: 'unknown', actual: null, reason: 'the agent did not observe window scaling (it ran without --observe wscale)' });
        continue;
      }
      const t = portTotals(obs, spec.port, spec.direction);
      const leg = spec.direction === 'out' ? `to peers' port ${spec.port}` : `on port ${spec.port}`;
      const base = {
        host: ctx.host.name,
        check: 'tcp.windowScaling',
        key,
        layer: 'behaviour' as const,
        expected: `share >= ${spec.minShare}`,
        severity: spec.severity,
      };
      const useOwn = t.connections === 0 && ctx.ownTraffic === true && t.own.connections > 0;
      const evidence = {
        direction: spec.direction,
        connections: t.connections,
        negotiated: t.negotiated,
        lackedBy: t.lackedBy,
        own: t.own,
        byDirection: t.byDirection,
        peers: portPeers(obs, spec.port, spec.direction),
        ...(obs.peersComplete ? {} : { peersSampled: true }),
        hostAddresses: obs.addresses,
        samples: portSamples(obs, spec.port, 5, spec.direction, useOwn),
        window: windowSeconds(obs),
        ...connectNote(obs),
      };
      const n = useOwn ? t.own.connections : t.connections;
      const ok_n = useOwn ? t.own.negotiated : t.negotiated;
      if (n === 0) {
        const own = t.own.connections > 0 ? ` (the probe's own ${t.own.connections} test connections are not judged)` : '';
        out.push({ ...base, status: 'unknown', actual: null, reason: `no new real TCP connections ${leg} during the ${windowSeconds(obs)} window: nothing to judge${own}`, evidence });
        continue;
      }
      const share = ok_n / n;
      const ok = share >= spec.minShare;
      const whose = useOwn ? " — the probe's own test connections" : '';
      out.push({
        ...base,
        status: ok ? 'ok' : 'drift',
        actual: `${share.toFixed(2)} (${ok_n}/${n})${whose}`,
        ...(ok ? {} : { reason: `${n - ok_n} of ${n} new connections ${leg} did not negotiate window scaling: ${describeLack(useOwn ? t.own.lackedBy : t.lackedBy)}` }),
        evidence,
      });
    }
    return out;
  },
};
