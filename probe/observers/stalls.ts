/**
 * Stalls (bpf/tcp_stalls.bpf.c): zero-window advertisements and probes both ways, data segments (tp_btf/net_dev_queue
 * for what this host sends, tp_btf/tcp_probe for what established sockets receive), retransmits
 * (tp_btf/tcp_retransmit_skb); counters only, added into the shared rows.
 */
import type { BpfObject } from '../bpf.js';
import { decodeCounterKey, decodeStallValues, type StallCounts } from '../codec.js';
import type { PortSummary, ProbeObservation } from '../observation.js';
import { attachOrExplain, openObserverObject, statSlot, type Observer, type ObserverOptions, type ObserverRun } from './observer.js';

const OBJECT = 'tcp_stalls';

export const stallsObserver: Observer<'stalls', Record<never, never>> = {
  name: 'stalls',
  describes: 'zero windows and retransmits',
  objects: [OBJECT],
  defaultOn: true,
  part: {},
  load(opts: ObserverOptions): ObserverRun {
    return new StallsRun(openObserverObject(OBJECT, 'the stall counters', 'kd_st', opts, 0));
  },
};

/** The programs and the tracepoint each attaches to (libbpf attaches by section name). */
const PROGRAMS = [
  ['kd_st_egress', 'tp_btf/net_dev_queue'],
  ['kd_st_ingress', 'tp_btf/tcp_probe'],
  ['kd_st_retrans', 'tp_btf/tcp_retransmit_skb'],
] as const;

class StallsRun implements ObserverRun {
  constructor(private readonly obj: BpfObject) {}

  attach(): void {
    for (const [prog, hook] of PROGRAMS) attachOrExplain(() => this.obj.attach(prog), `${prog} to ${hook}`);
  }

  addRows(row: Parameters<NonNullable<ObserverRun['addRows']>>[0]): void {
    for (const [k, v] of this.obj.entries('kd_st_count')) {
      const key = decodeCounterKey(k);
      addStalls(row(key.netnsCookie, key.port, key.direction), decodeStallValues(v));
    }
  }

  fields(): Pick<ProbeObservation, 'retransmitHook'> {
    return { retransmitHook: 'tp_btf' };
  }

  dropped(): { events: number; counterKeys: number } {
    return { events: 0, counterKeys: statSlot(this.obj, 'kd_st_stat', 0) };
  }

  close(): void {
    this.obj.close();
  }
}

function addStalls(r: PortSummary, s: StallCounts): void {
  r.zeroWindow.sent += s.zeroWindowSent;
  r.zeroWindow.received += s.zeroWindowReceived;
  r.zeroWindowProbes.sent += s.zeroWindowProbesSent;
  r.zeroWindowProbes.received += s.zeroWindowProbesReceived;
  r.retransmits += s.retransmits;
  r.dataSegmentsOut += s.dataSegmentsOut;
  r.segmentsIn += s.segmentsIn;
}
