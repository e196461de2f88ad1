/** The additive counters of a per-port summary row. Every place that merges rows (metrics, evidence) sums them here. */
export interface PortCounters {
  /** Real traffic: the agent's own test connections are counted apart, in `own`. */
  connections: number;
  negotiated: number;
  lackedBy: { local: number; peer: number; unknown: number };
  zeroWindow: { sent: number; received: number };
  zeroWindowProbes: { sent: number; received: number };
  retransmits: number;
  dataSegmentsOut: number;
  segmentsIn: number;
  /** The agent's own test connections (tagged in the kernel): never part of `connections`. */
  own: { connections: number; negotiated: number; lackedBy: { local: number; peer: number; unknown: number } };
}

export function addCounters(into: PortCounters, from: PortCounters): void {
  into.connections += from.connections;
  into.negotiated += from.negotiated;
  into.lackedBy.local += from.lackedBy.local;
  into.lackedBy.peer += from.lackedBy.peer;
  into.lackedBy.unknown += from.lackedBy.unknown;
  into.zeroWindow.sent += from.zeroWindow.sent;
  into.zeroWindow.received += from.zeroWindow.received;
  into.zeroWindowProbes.sent += from.zeroWindowProbes.sent;
  into.zeroWindowProbes.received += from.zeroWindowProbes.received;
  into.retransmits += from.retransmits;
  into.dataSegmentsOut += from.dataSegmentsOut;
  into.segmentsIn += from.segmentsIn;
  into.own.connections += from.own.connections;
  into.own.negotiated += from.own.negotiated;
  into.own.lackedBy.local += from.own.lackedBy.local;
  into.own.lackedBy.peer += from.own.lackedBy.peer;
  into.own.lackedBy.unknown += from.own.lackedBy.unknown;
}

/** Fresh all-zero counters (new objects each call: callers add into them). */
export function zeroCounters(): PortCounters {
  return {
    connections: 0,
    negotiated: 0,
    lackedBy: { local: 0, peer: 0, unknown: 0 },
    zeroWindow: { sent: 0, received: 0 },
    zeroWindowProbes: { sent: 0, received: 0 },
    retransmits: 0,
    dataSegmentsOut: 0,
    segmentsIn: 0,
    own: { connections: 0, negotiated: 0, lackedBy: { local: 0, peer: 0, unknown: 0 } },
  };
}
