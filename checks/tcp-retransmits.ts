import { retransmitsSpec } from './tcp-retransmits.schema.js';
import { behaviourKind } from './behaviour-kind.js';
import { portTotals, windowSeconds } from './evidence.js';

/** tcp.retransmits: retransmitted segments per data segment sent on connections of a port. */
export const retransmitsCheck = behaviourKind({
  specSchema: retransmitsSpec,
  observes: 'stalls',
  expected: (spec) => `rate <= ${spec.maxRate}`,
  judge(obs, spec) {
    const t = portTotals(obs, spec.port, spec.direction);
    const evidence = { connections: t.connections, retransmits: t.retransmits, dataSegmentsOut: t.dataSegmentsOut, hook: obs.retransmitHook };
    if (t.dataSegmentsOut < spec.minSegments) {
      const actual = t.dataSegmentsOut === 0 ? null : `${t.retransmits}/${t.dataSegmentsOut}`;
      const reason = `${t.dataSegmentsOut} data segments sent on port ${spec.port} during the ${windowSeconds(obs)} window, fewer than the ${spec.minSegments} a rate needs`;
      return { status: 'unknown', actual, reason, evidence };
    }
    const rate = t.retransmits / t.dataSegmentsOut;
    const ok = rate <= spec.maxRate;
    return {
      status: ok ? 'ok' : 'drift',
      actual: `${rate.toFixed(4)} (${t.retransmits}/${t.dataSegmentsOut})`,
      ...(ok ? {} : { reason: `${t.retransmits} of ${t.dataSegmentsOut} data segments on port ${spec.port} were retransmissions` }),
      evidence,
    };
  },
});
