import type { CheckKind } from './kind.js';
import type { Finding } from '../core/finding.js';
import { retransmitsSpec, type RetransmitsSpec } from './tcp-retransmits.spec.js';
import { collectShared } from '../probe/collect.js';
import type { ProbeObservation } from '../probe/observation.js';
import { notObservedFinding, connectNote, portTotals, windowSeconds } from '../probe/evidence.js';

/** tcp.retransmits: retransmitted segments per data segment sent on connections of a port. */
export const retransmitsCheck: CheckKind<RetransmitsSpec, ProbeObservation> = {
  kind: 'tcp.retransmits',
  layer: 'behaviour',
  specSchema: retransmitsSpec,
  collect: (session, specs, ctx) => collectShared(session, specs.values(), ctx),
  judge(obs, specs, ctx) {
    const out: Finding[] = [];
    for (const [key, spec] of specs) {
      if (!obs.observed.includes('stalls')) {
        out.push({ ...notObservedFinding(ctx.host.name, key, spec, 'tcp.retransmits'), status: 'unknown', actual: null, reason: 'the agent did not observe retransmits (it ran without --observe stalls)' });
        continue;
      }
      const t = portTotals(obs, spec.port, spec.direction);
      const base = {
        host: ctx.host.name,
        check: 'tcp.retransmits',
        key,
        layer: 'behaviour' as const,
        expected: `rate <= ${spec.maxRate}`,
        severity: spec.severity,
      };
      const evidence = {
        connections: t.connections,
        retransmits: t.retransmits,
        dataSegmentsOut: t.dataSegmentsOut,
        hook: obs.retransmitHook,
        window: windowSeconds(obs),
        ...connectNote(obs),
      };
      if (t.dataSegmentsOut < spec.minSegments) {
        const actual = t.dataSegmentsOut === 0 ? null : `${t.retransmits}/${t.dataSegmentsOut}`;
        const reason = `${t.dataSegmentsOut} data segments sent on port ${spec.port} during the ${windowSeconds(obs)} window, fewer than the ${spec.minSegments} a rate needs`;
        out.push({ ...base, status: 'unknown', actual, reason, evidence });
        continue;
      }
      const rate = t.retransmits / t.dataSegmentsOut;
      const ok = rate <= spec.maxRate;
      out.push({
        ...base,
        status: ok ? 'ok' : 'drift',
        actual: `${rate.toFixed(4)} (${t.retransmits}/${t.dataSegmentsOut})`,
        ...(ok ? {} : { reason: `${t.retransmits} of ${t.dataSegmentsOut} data segments on port ${spec.port} were retransmissions` }),
        evidence,
      });
    }
    return out;
  },
};
