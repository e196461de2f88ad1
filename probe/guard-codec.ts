/**
 * Byte layouts shared with bpf/sysctl_guard.h (little-endian host order). Pure functions, unit-tested without a
 * kernel; keep in step with the header's _Static_asserts.
 */
export const NAME_LEN = 128;
export const VAL_LEN = 128;
export const MAX_FIELDS = 4;
export const MAX_ALTS = 4;
export const TEXT_LEN = 64;
export const RULE_SIZE = 8 + 64 + 128 + 256;
export const EVENT_SIZE = 48 + 32 + 128 * 3;

export type GuardMode = 'audit' | 'deny';
/** Why a write conflicts in the kernel's eyes (refused when `denied`). */
export type GuardVerdict = 'ok' | 'policy' | 'not-netns' | 'unparsed';
const VERDICTS: readonly GuardVerdict[] = ['ok', 'policy', 'not-netns', 'unparsed'];

const F_NAME_TRUNC = 1;
const F_OLD_UNREADABLE = 2;
const F_NEW_TRUNC = 4;
const F_PROTECTED = 8;
const F_DENIED = 16;
const F_PARTIAL = 32;

export const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;

/** What a kernel rule can hold (bpf/sysctl_guard.h). */
export const GUARD_LIMITS = { INT64_MIN, INT64_MAX, MAX_FIELDS, MAX_ALTS, TEXT_LEN } as const;

/** struct kd_sg_cfg. */
export function encodeGuardConfig(c: { mode: GuardMode; sandbox: boolean }): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt8(c.mode === 'deny' ? 1 : 0, 0);
  b.writeUInt8(c.sandbox ? 1 : 0, 1);
  return b;
}

/** A key relative to /proc/sys ("net/ipv4/tcp_window_scaling"), NUL-padded: the kd_sg_rules hash key. */
export function encodeSysctlName(procRelative: string): Buffer {
  const raw = Buffer.from(procRelative, 'utf8');
  if (raw.length >= NAME_LEN) throw new Error(`sysctl name ${procRelative} is longer than ${NAME_LEN - 1} bytes`);
  const b = Buffer.alloc(NAME_LEN);
  raw.copy(b);
  return b;
}

/** A rule as the kernel checks it (see bpf/sysctl_guard.h). */
export type KernelRule =
  | { kind: 'range'; min: bigint[]; max: bigint[] }
  | { kind: 'set'; alternatives: bigint[][] }
  | { kind: 'text'; texts: string[] };

export function encodeRule(r: KernelRule): Buffer {
  const b = Buffer.alloc(RULE_SIZE);
  const minOff = 8;
  const maxOff = minOff + 8 * MAX_FIELDS;
  const altOff = maxOff + 8 * MAX_FIELDS;
  const textOff = altOff + 8 * MAX_FIELDS * MAX_ALTS;
  // Bounds default to "anything": a SET rule never trips the range test the kernel also runs.
  for (let f = 0; f < MAX_FIELDS; f++) {
    b.writeBigInt64LE(INT64_MIN, minOff + 8 * f);
    b.writeBigInt64LE(INT64_MAX, maxOff + 8 * f);
  }
  if (r.kind === 'range') {
    if (r.min.length !== r.max.length || r.min.length < 1 || r.min.length > MAX_FIELDS) throw new Error('range rule needs 1..4 fields');
    b.writeUInt8(1, 0);
    b.writeUInt8(r.min.length, 1);
    r.min.forEach((v, f) => b.writeBigInt64LE(v, minOff + 8 * f));
    r.max.forEach((v, f) => b.writeBigInt64LE(v, maxOff + 8 * f));
  } else if (r.kind === 'set') {
    const nf = r.alternatives[0]?.length ?? 0;
    if (r.alternatives.length < 1 || r.alternatives.length > MAX_ALTS || nf < 1 || nf > MAX_FIELDS || r.alternatives.some((a) => a.length !== nf)) {
      throw new Error('set rule needs 1..4 alternatives of the same 1..4 fields');
    }
    b.writeUInt8(2, 0);
    b.writeUInt8(nf, 1);
    b.writeUInt8(r.alternatives.length, 2);
    r.alternatives.forEach((alt, a) => alt.forEach((v, f) => b.writeBigInt64LE(v, altOff + 8 * (a * MAX_FIELDS + f))));
  } else {
    if (r.texts.length < 1 || r.texts.length > MAX_ALTS) throw new Error('text rule needs 1..4 texts');
    b.writeUInt8(3, 0);
    b.writeUInt8(r.texts.length, 2);
    r.texts.forEach((t, a) => {
      const raw = Buffer.from(t, 'utf8');
      if (raw.length >= TEXT_LEN) throw new Error(`text "${t}" is longer than ${TEXT_LEN - 1} bytes`);
      raw.copy(b, textOff + TEXT_LEN * a);
    });
  }
  return b;
}

/** One sysctl write, as the kernel recorded it. */
export interface GuardEvent {
  tsNs: bigint;
  cgroupId: bigint;
  pid: number;
  tgid: number;
  ppid: number;
  /** Inode number of the writer's network namespace. */
  netns: number;
  uid: number;
  verdict: GuardVerdict;
  denied: boolean;
  protected: boolean;
  partial: boolean;
  nameTruncated: boolean;
  newTruncated: boolean;
  comm: string;
  parentComm: string;
  /** Relative to /proc/sys, slashed: "net/ipv4/tcp_window_scaling". */
  name: string;
  /** null when the key cannot be read (write-only keys). */
  oldValue: string | null;
  newValue: string;
}

function cString(buf: Buffer, off: number, len: number): string {
  const s = buf.subarray(off, off + len);
  const nul = s.indexOf(0);
  return s.subarray(0, nul < 0 ? len : nul).toString('utf8');
}

export function decodeGuardEvent(b: Buffer): GuardEvent {
  if (b.length < EVENT_SIZE) throw new Error(`guard event is ${b.length} bytes, expected ${EVENT_SIZE}`);
  const flags = b.readUInt8(37);
  return {
    tsNs: b.readBigUInt64LE(0),
    cgroupId: b.readBigUInt64LE(8),
    pid: b.readUInt32LE(16),
    tgid: b.readUInt32LE(20),
    ppid: b.readUInt32LE(24),
    netns: b.readUInt32LE(28),
    uid: b.readUInt32LE(32),
    verdict: VERDICTS[b.readUInt8(36)] ?? 'unparsed',
    denied: (flags & F_DENIED) !== 0,
    protected: (flags & F_PROTECTED) !== 0,
    partial: (flags & F_PARTIAL) !== 0,
    nameTruncated: (flags & F_NAME_TRUNC) !== 0,
    newTruncated: (flags & F_NEW_TRUNC) !== 0,
    comm: cString(b, 48, 16),
    parentComm: cString(b, 64, 16),
    name: cString(b, 80, NAME_LEN),
    oldValue: (flags & F_OLD_UNREADABLE) !== 0 ? null : cString(b, 80 + NAME_LEN, VAL_LEN),
    newValue: cString(b, 80 + NAME_LEN + VAL_LEN, VAL_LEN),
  };
}
