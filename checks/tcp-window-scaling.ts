import { windowScalingSpec } from './tcp-window-scaling.schema.js';
import { behaviourKind } from './behaviour-kind.js';
import { describeLack, portPeers, portSamples, portTotals, windowSeconds } from './evidence.js';

/**
 * tcp.windowScaling: the share of new connections on one leg (accepted on a listening port, or opened to a peer port)
 * that negotiated window scaling, as the probe saw it in the kernel (tcp_sock.rx_opt.wscale_ok at ESTABLISHED), with
 * the side that lacked it and the peers they were with. Real traffic only: the probe's own test connections are
 * counted apart and judged only when the caller asks (ctx.ownTraffic: verification) and nothing real was seen.
 */
export const windowScalingCheck = behaviourKind({
  specSchema: windowScalingSpec,
  observes: 'wscale',
  expected: (spec) => `share >= ${spec.minShare}`,
  judge(obs, spec, ctx) {
    const t = portTotals(obs, spec.port, spec.direction);
    const leg = spec.direction === 'out' ? `to peers' port ${spec.port}` : `on port ${spec.port}`;
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
    };
    const n = useOwn ? t.own.connections : t.connections;
    const negotiated = useOwn ? t.own.negotiated : t.negotiated;
    if (n === 0) {
      const own = t.own.connections > 0 ? ` (the probe's own ${t.own.connections} test connections are not judged)` : '';
      return { status: 'unknown', actual: null, reason: `no new real TCP connections ${leg} during the ${windowSeconds(obs)} window: nothing to judge${own}`, evidence };
    }
    const share = negotiated / n;
    const ok = share >= spec.minShare;
    const whose = useOwn ? " — the probe's own test connections" : '';
    return {
      status: ok ? 'ok' : 'drift',
      actual: `${share.toFixed(2)} (${negotiated}/${n})${whose}`,
      ...(ok ? {} : { reason: `${n - negotiated} of ${n} new connections ${leg} did not negotiate window scaling: ${describeLack(useOwn ? t.own.lackedBy : t.lackedBy)}` }),
      evidence,
    };
  },
});
