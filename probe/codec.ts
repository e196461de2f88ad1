/**
 * Byte layouts shared with bpf/tcp_wscale.h and bpf/tcp_stalls.h (little-endian host order; addresses in network
 * order). Pure functions: unit-tested without a kernel. Keep in step with the _Static_asserts in those headers.
 */
import { isIP } from 'node:net';

export type Direction = 'out' | 'in' | 'unknown';
export type Offer = 'yes' | 'no' | 'unknown';
export type Outcome = 'negotiated' | 'local' | 'peer' | 'unknown';

const DIRECTIONS: readonly Direction[] = ['unknown', 'out', 'in'];
const OFFERS: readonly Offer[] = ['no', 'yes', 'unknown'];
const OUTCOMES: readonly Outcome[] = ['negotiated', 'local', 'peer', 'unknown'];

export function directionName(code: number): Direction {
  return DIRECTIONS[code] ?? 'unknown';
}
export function outcomeName(code: number): Outcome {
  return OUTCOMES[code] ?? 'unknown';
}
function offerName(code: number): Offer {
  return OFFERS[code] ?? 'unknown';
}

/** struct kd_cfg (bpf/common.h). */
export interface FilterConfig {
  /** Only this netns (its cookie); absent: every netns. */
  netnsCookie?: bigint;
  /** Only these service ports; empty: every port. Up to CONFIG_INLINE_PORTS are compared inline in the kernel; more
   * go to the observer's `<prefix>_port` hash (the caller writes them there). */
  ports: readonly number[];
  /** EVENTS_* bits: which connection events the kernel emits. */
  events: number;
  sampleShift: number;
  /** Look connections up in kd_ws_own (only while the agent drives its own test connections). */
  ownFilter?: boolean;
}
export const EVENTS_NEGOTIATED = 1;
export const EVENTS_LACKING = 2;
/** How many ports struct kd_cfg holds inline (KD_CFG_PORTS in bpf/common.h). */
export const CONFIG_INLINE_PORTS = 8;
export const CONFIG_SIZE = 32;

/** struct kd_cfg (bpf/common.h). */
export function encodeConfig(c: FilterConfig): Buffer {
  const b = Buffer.alloc(CONFIG_SIZE);
  const inline = c.ports.length <= CONFIG_INLINE_PORTS;
  b.writeUInt8(c.netnsCookie === undefined ? 0 : 1, 0);
  b.writeUInt8(c.ports.length === 0 ? 0 : inline ? 1 : 2, 1);
  b.writeUInt8(c.events & 3, 2);
  b.writeUInt8(Math.max(0, Math.min(15, c.sampleShift)), 3);
  b.writeUInt8(c.ownFilter ? 1 : 0, 4);
  b.writeUInt8(inline ? c.ports.length : 0, 5);
  b.writeBigUInt64LE(c.netnsCookie ?? 0n, 8);
  if (inline) c.ports.forEach((p, i) => b.writeUInt16LE(p, 16 + 2 * i));
  return b;
}

export function encodeU64(v: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(v);
  return b;
}
export function encodeU16(v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(v);
  return b;
}
export function encodeU32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return b;
}

/** Sum of a per-CPU u64 value buffer (one 8-byte slot per possible CPU). */
export function sumPerCpuU64(buf: Buffer): bigint {
  let s = 0n;
  for (let off = 0; off + 8 <= buf.length; off += 8) s += buf.readBigUInt64LE(off);
  return s;
}

/** struct kd_ws_key / kd_st_key (16 bytes; outcome byte only meaningful for kd_ws_key). */
export interface CounterKey {
  netnsCookie: bigint;
  port: number;
  direction: Direction;
  outcome: Outcome;
  /** One of the agent's own test connections (kd_ws_key only). */
  own: boolean;
}
/**
 * A kd_ws_slots index (KD_WS_SLOT in bpf/tcp_wscale.bpf.c: the counters of an inline filter) → its counter key, given
 * the ports and netns the filter was configured with; undefined for a slot no configured port has.
 */
export function decodeWscaleSlot(index: number, ports: readonly number[], netnsCookie: bigint): CounterKey | undefined {
  const own = (index & 1) === 1;
  const outcome = outcomeName((index >> 1) & 3);
  const passive = ((index >> 3) & 1) === 1;
  const port = ports[index >> 4];
  if (port === undefined) return undefined;
  return { netnsCookie, port, direction: passive ? 'in' : 'out', outcome, own };
}

export function decodeCounterKey(b: Buffer): CounterKey {
  return {
    netnsCookie: b.readBigUInt64LE(0),
    port: b.readUInt16LE(8),
    direction: directionName(b.readUInt8(10)),
    outcome: outcomeName(b.readUInt8(11)),
    own: b.readUInt8(12) !== 0,
  };
}

/** struct kd_st_val, summed over CPUs. */
export interface StallCounts {
  zeroWindowSent: number;
  zeroWindowReceived: number;
  zeroWindowProbesSent: number;
  zeroWindowProbesReceived: number;
  retransmits: number;
  dataSegmentsOut: number;
  segmentsIn: number;
}
export const STALL_VALUE_SIZE = 64;
export function decodeStallValues(buf: Buffer): StallCounts {
  const sums = new Array<bigint>(8).fill(0n);
  for (let cpu = 0; cpu + STALL_VALUE_SIZE <= buf.length; cpu += STALL_VALUE_SIZE) {
    for (let f = 0; f < 8; f++) sums[f] = (sums[f] as bigint) + buf.readBigUInt64LE(cpu + f * 8);
  }
  const n = (i: number) => Number(sums[i]);
  return {
    zeroWindowSent: n(0),
    zeroWindowReceived: n(1),
    zeroWindowProbesSent: n(2),
    zeroWindowProbesReceived: n(3),
    retransmits: n(4),
    dataSegmentsOut: n(5),
    segmentsIn: n(6),
  };
}

/** struct kd_ws_event (64 bytes). */
export interface WscaleEvent {
  netnsCookie: bigint;
  tsNs: bigint;
  family: 4 | 6;
  direction: Direction;
  wscaleOk: boolean;
  sndWscale: number;
  rcvWscale: number;
  localOffered: Offer;
  peerOffered: Offer;
  outcome: Outcome;
  localAddr: string;
  localPort: number;
  remoteAddr: string;
  remotePort: number;
  /** One of the agent's own test connections. */
  own: boolean;
}
export const WSCALE_EVENT_SIZE = 64;

export function decodeWscaleEvent(b: Buffer): WscaleEvent {
  if (b.length < WSCALE_EVENT_SIZE) throw new Error(`wscale event is ${b.length} bytes, expected ${WSCALE_EVENT_SIZE}`);
  const family = b.readUInt8(16) === 4 ? 4 : 6;
  return {
    netnsCookie: b.readBigUInt64LE(0),
    tsNs: b.readBigUInt64LE(8),
    family,
    direction: directionName(b.readUInt8(17)),
    wscaleOk: b.readUInt8(18) !== 0,
    sndWscale: b.readUInt8(19),
    rcvWscale: b.readUInt8(20),
    localOffered: offerName(b.readUInt8(21)),
    peerOffered: offerName(b.readUInt8(22)),
    outcome: outcomeName(b.readUInt8(23)),
    localPort: b.readUInt16LE(24),
    remotePort: b.readUInt16LE(26),
    own: b.readUInt8(28) !== 0,
    localAddr: formatAddr(b.subarray(32, 48), family),
    remoteAddr: formatAddr(b.subarray(48, 64), family),
  };
}

/** 4 or 16 bytes in network order → text; v4-mapped v6 addresses print as IPv4. */
export function formatAddr(bytes: Buffer, family: 4 | 6): string {
  if (family === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  const mapped = bytes.subarray(0, 10).every((x) => x === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  if (mapped) return `${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  // Compress the longest run of zero groups (RFC 5952).
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i >= 2) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(':');
  const text = `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
  return isIP(text) ? text : groups.join(':');
}

/** `1.2.3.4:80` / `[::1]:80`. */
export function endpoint(addr: string, port: number): string {
  return addr.includes(':') ? `[${addr}]:${port}` : `${addr}:${port}`;
}
