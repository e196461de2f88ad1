import type { CheckKind } from './kind.js';
import type { Finding } from '../core/finding.js';
import { windowScalingSpec, type WindowScalingSpec } from './tcp-window-scaling.spec.js';
import { collectShared } from './agent-run.js';
import type { ProbeObservation } from '../probe/index.js';
import { notObservedFinding, connectNote, describeLack, portSamples, portTotals, windowSeconds } from './evidence.js';

/**
 * tcp.windowScaling: the share of new connections on a port that negotiated window scaling, as the probe saw it in
 * the kernel (tcp_sock.rx_opt.wscale_ok at ESTABLISHED), with the side that lacked it when they did not.
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
      const t = portTotals(obs, spec.port);
      const base = {
        host: ctx.host.name,
        check: 'tcp.windowScaling',
        key,
        layer: 'behaviour' as const,
        expected: `share >= ${spec.minShare}`,
        severity: spec.severity,
      };
      const evidence = {
        connections: t.connections,
        negotiated: t.negotiated,
        lackedBy: t.lackedBy,
        byDirection: t.byDirection,
        samples: portSamples(obs, spec.port),
        window: windowSeconds(obs),
        ...connectNote(obs),
      };
      if (t.connections === 0) {
        out.push({ ...base, status: 'unknown', actual: null, reason: `no new TCP connections on port ${spec.port} during the ${windowSeconds(obs)} window: nothing to judge`, evidence });
        continue;
      }
      const share = t.negotiated / t.connections;
      const ok = share >= spec.minShare;
      out.push({
        ...base,
        status: ok ? 'ok' : 'drift',
        actual: `${share.toFixed(2)} (${t.negotiated}/${t.connections})`,
        ...(ok ? {} : { reason: `${t.connections - t.negotiated} of ${t.connections} new connections on port ${spec.port} did not negotiate window scaling: ${describeLack(t.lackedBy)}` }),
        evidence,
      });
    }
    return out;
  },
};
