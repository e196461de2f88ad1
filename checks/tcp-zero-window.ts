import { zeroWindowSpec } from './tcp-zero-window.schema.js';
import { behaviourKind } from './behaviour-kind.js';
import { portTotals, windowSeconds } from './evidence.js';

/**
 * tcp.zeroWindow: zero-window advertisements (either direction) on connections of a port during the window, counted
 * in the kernel from the TCP header of every segment (th->window == 0), with zero-window probes as context.
 */
export const zeroWindowCheck = behaviourKind({
  specSchema: zeroWindowSpec,
  observes: 'stalls',
  expected: (spec) => `zero-window advertisements <= ${spec.max}`,
  judge(obs, spec, ctx) {
    const t = portTotals(obs, spec.port, spec.direction);
    const n = t.zeroWindow.sent + t.zeroWindow.received;
    const evidence = { connections: t.connections, zeroWindow: t.zeroWindow, zeroWindowProbes: t.zeroWindowProbes, dataSegmentsOut: t.dataSegmentsOut, segmentsIn: t.segmentsIn };
    // Segment counters are per port, not per connection; the connection count says whether anything real was seen
    // (the probe's own test connections count only where verification asks for them).
    const seen = t.connections + (ctx.ownTraffic ? t.own.connections : 0);
    if (seen === 0 && t.dataSegmentsOut === 0 && t.segmentsIn === 0 && n === 0) {
      return { status: 'unknown', actual: null, reason: `no TCP traffic on port ${spec.port} during the ${windowSeconds(obs)} window: nothing to judge`, evidence };
    }
    const ok = n <= spec.max;
    const who = t.zeroWindow.sent >= t.zeroWindow.received ? 'this host could not take data as fast as it arrived (its receivers stalled)' : 'peers stopped taking data from this host';
    return {
      status: ok ? 'ok' : 'drift',
      actual: `${n} (sent ${t.zeroWindow.sent}, received ${t.zeroWindow.received})`,
      ...(ok ? {} : { reason: `${n} zero-window advertisements on port ${spec.port}: ${who}` }),
      evidence,
    };
  },
});
