import type { CheckKind } from './kind.js';
import type { Finding } from '../core/finding.js';
import { zeroWindowSpec, type ZeroWindowSpec } from './tcp-zero-window.spec.js';
import { collectShared } from '../probe/collect.js';
import type { ProbeObservation } from '../probe/observation.js';
import { notObservedFinding, connectNote, portTotals, windowSeconds } from '../probe/evidence.js';

/**
 * tcp.zeroWindow: zero-window advertisements (either direction) on connections of a port during the window, counted
 * in the kernel from the TCP header of every segment (th->window == 0), with zero-window probes as context.
 */
export const zeroWindowCheck: CheckKind<ZeroWindowSpec, ProbeObservation> = {
  kind: 'tcp.zeroWindow',
  layer: 'behaviour',
  specSchema: zeroWindowSpec,
  collect: (session, specs, ctx) => collectShared(session, specs.values(), ctx),
  judge(obs, specs, ctx) {
    const out: Finding[] = [];
    for (const [key, spec] of specs) {
      if (!obs.observed.includes('stalls')) {
        out.push({ ...notObservedFinding(ctx.host.name, key, spec, 'tcp.zeroWindow'), status: 'unknown', actual: null, reason: 'the agent did not observe zero windows (it ran without --observe stalls)' });
        continue;
      }
      const t = portTotals(obs, spec.port, spec.direction);
      const n = t.zeroWindow.sent + t.zeroWindow.received;
      const base = {
        host: ctx.host.name,
        check: 'tcp.zeroWindow',
        key,
        layer: 'behaviour' as const,
        expected: `zero-window advertisements <= ${spec.max}`,
        severity: spec.severity,
      };
      const evidence = {
        connections: t.connections,
        zeroWindow: t.zeroWindow,
        zeroWindowProbes: t.zeroWindowProbes,
        dataSegmentsOut: t.dataSegmentsOut,
        segmentsIn: t.segmentsIn,
        window: windowSeconds(obs),
        ...connectNote(obs),
      };
      // Segment counters are per port, not per connection; the connection count says whether anything real was seen
      // (the probe's own test connections count only where verification asks for them).
      const seen = t.connections + (ctx.ownTraffic ? t.own.connections : 0);
      if (seen === 0 && t.dataSegmentsOut === 0 && t.segmentsIn === 0 && n === 0) {
        out.push({ ...base, status: 'unknown', actual: null, reason: `no TCP traffic on port ${spec.port} during the ${windowSeconds(obs)} window: nothing to judge`, evidence });
        continue;
      }
      const ok = n <= spec.max;
      out.push({
        ...base,
        status: ok ? 'ok' : 'drift',
        actual: `${n} (sent ${t.zeroWindow.sent}, received ${t.zeroWindow.received})`,
        ...(ok
          ? {}
          : {
              reason:
                `${n} zero-window advertisements on port ${spec.port}: ` +
                (t.zeroWindow.sent >= t.zeroWindow.received ? 'this host could not take data as fast as it arrived (its receivers stalled)' : 'peers stopped taking data from this host'),
            }),
        evidence,
      });
    }
    return out;
  },
};
