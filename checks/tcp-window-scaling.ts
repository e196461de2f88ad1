import { windowScalingSpec } from './tcp-window-scaling.schema.js';
import { behaviourKind } from './behaviour-kind.js';
import { describeLack, portSamples, portTotals, windowSeconds } from './evidence.js';

/**
 * tcp.windowScaling: the share of new connections on a port that negotiated window scaling, as the probe saw it in
 * the kernel (tcp_sock.rx_opt.wscale_ok at ESTABLISHED), with the side that lacked it when they did not.
 */
export const windowScalingCheck = behaviourKind({
  specSchema: windowScalingSpec,
  observes: 'wscale',
  expected: (spec) => `share >= ${spec.minShare}`,
  judge(obs, spec) {
    const t = portTotals(obs, spec.port);
    const evidence = { connections: t.connections, negotiated: t.negotiated, lackedBy: t.lackedBy, byDirection: t.byDirection, samples: portSamples(obs, spec.port) };
    if (t.connections === 0) {
      return { status: 'unknown', actual: null, reason: `no new TCP connections on port ${spec.port} during the ${windowSeconds(obs)} window: nothing to judge`, evidence };
    }
    const share = t.negotiated / t.connections;
    const ok = share >= spec.minShare;
    return {
      status: ok ? 'ok' : 'drift',
      actual: `${share.toFixed(2)} (${t.negotiated}/${t.connections})`,
      ...(ok ? {} : { reason: `${t.connections - t.negotiated} of ${t.connections} new connections on port ${spec.port} did not negotiate window scaling: ${describeLack(t.lackedBy)}` }),
      evidence,
    };
  },
});
