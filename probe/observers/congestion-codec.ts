/**
 * Byte layouts of bpf/tcp_cc.h (little-endian host order; addresses in network order). Pure: unit-tested without a
 * kernel. Keep in step with the _Static_asserts there.
 */
import { directionName, formatAddr, type Direction } from '../codec.js';

export const CC_NAME_MAX = 16;
export const CC_KEY_SIZE = 32;
export const CC_EVENT_SIZE = 72;

/** The name the kernel gave, up to the first NUL; empty (getsockopt refused) reads as 'unknown'. */
export function decodeAlgorithm(b: Buffer): string {
  const end = b.indexOf(0);
  const name = b.subarray(0, end < 0 ? b.length : end).toString('latin1');
  return name.length > 0 ? name : 'unknown';
}

/** struct kd_cc_key. */
export interface CongestionKey {
  netnsCookie: bigint;
  port: number;
  direction: Direction;
  algorithm: string;
}
export function decodeCongestionKey(b: Buffer): CongestionKey {
  if (b.length < CC_KEY_SIZE) throw new Error(`congestion counter key is ${b.length} bytes, expected ${CC_KEY_SIZE}`);
  return {
    netnsCookie: b.readBigUInt64LE(0),
    port: b.readUInt16LE(8),
    direction: directionName(b.readUInt8(10)),
    algorithm: decodeAlgorithm(b.subarray(16, 16 + CC_NAME_MAX)),
  };
}

/** struct kd_cc_event. */
export interface CongestionEvent {
  netnsCookie: bigint;
  tsNs: bigint;
  direction: Direction;
  localPort: number;
  remotePort: number;
  algorithm: string;
  localAddr: string;
  remoteAddr: string;
}
export function decodeCongestionEvent(b: Buffer): CongestionEvent {
  if (b.length < CC_EVENT_SIZE) throw new Error(`congestion event is ${b.length} bytes, expected ${CC_EVENT_SIZE}`);
  const family = b.readUInt8(16) === 4 ? 4 : 6;
  return {
    netnsCookie: b.readBigUInt64LE(0),
    tsNs: b.readBigUInt64LE(8),
    direction: directionName(b.readUInt8(17)),
    localPort: b.readUInt16LE(18),
    remotePort: b.readUInt16LE(20),
    algorithm: decodeAlgorithm(b.subarray(24, 24 + CC_NAME_MAX)),
    localAddr: formatAddr(b.subarray(40, 56), family),
    remoteAddr: formatAddr(b.subarray(56, 72), family),
  };
}
