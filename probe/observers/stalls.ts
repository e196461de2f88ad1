/**
 * Stalls (bpf/tcp_stalls.bpf.c): zero-window advertisements and probes both ways (cgroup_skb), retransmits
 * (tp_btf/tcp_retransmit_skb, or the classic tracepoint where BTF tracing is refused), data segments; counters only,
 * added into the shared rows.
 */
import { BpfError, type BpfObject } from '../bpf.js';
import { decodeCounterKey, decodeStallValues, type StallCounts } from '../codec.js';
import type { PortSummary, ProbeObservation } from '../observation.js';
import { attachOrExplain, openObserverObject, statSlot, type Observer, type ObserverOptions, type ObserverRun } from './observer.js';

const OBJECT = 'tcp_stalls';
type Hook = 'tp_btf' | 'tracepoint';

export const stallsObserver: Observer<'stalls', Record<never, never>> = {
  name: 'stalls',
  describes: 'zero windows and retransmits',
  objects: [OBJECT],
  defaultOn: true,
  part: {},
  load(opts: ObserverOptions): ObserverRun {
    const open = (hook: Hook) =>
      openObserverObject(OBJECT, 'the stall counters', 'kd_st', opts, 0, (obj) => {
        obj.setAutoload('kd_st_retrans', hook === 'tp_btf');
        obj.setAutoload('kd_st_retrans_tp', hook === 'tracepoint');
      });
    try {
      return new StallsRun(open('tp_btf'), 'tp_btf');
    } catch (err) {
      // BTF tracing programs refused (some kernels/lockdown): the classic tracepoint counts retransmits too.
      if (!(err instanceof BpfError)) throw err;
      return new StallsRun(open('tracepoint'), 'tracepoint');
    }
  },
};

class StallsRun implements ObserverRun {
  constructor(
    private readonly obj: BpfObject,
    private readonly hook: Hook,
  ) {}

  attach(cgroupRoot: string): void {
    attachOrExplain(() => this.obj.attachCgroup('kd_st_egress', cgroupRoot), `kd_st_egress to ${cgroupRoot}`);
    attachOrExplain(() => this.obj.attachCgroup('kd_st_ingress', cgroupRoot), `kd_st_ingress to ${cgroupRoot}`);
    attachOrExplain(() => this.obj.attach(this.hook === 'tp_btf' ? 'kd_st_retrans' : 'kd_st_retrans_tp'), 'the retransmit tracepoint');
  }

  addRows(row: Parameters<NonNullable<ObserverRun['addRows']>>[0]): void {
    for (const [k, v] of this.obj.entries('kd_st_count')) {
      const key = decodeCounterKey(k);
      addStalls(row(key.netnsCookie, key.port, key.direction), decodeStallValues(v));
    }
  }

  fields(): Pick<ProbeObservation, 'retransmitHook'> {
    return { retransmitHook: this.hook };
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
