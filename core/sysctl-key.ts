import { z } from 'zod';

/**
 * Sysctl keys are accepted in dotted (`net.ipv4.tcp_sack`) or slashed (`net/ipv4/tcp_sack`) form and normalised to
 * dotted form. Only `[a-z0-9_.-]` segments are accepted, so a key can never name a path outside /proc/sys.
 * Interface names with dots (e.g. `net.ipv4.conf.eth0.1.rp_filter`) are not expressible in dotted form; use the
 * slashed form with the dot kept inside the segment, as sysctl(8) does — hence the internal representation is
 * the list of segments, and `toProcPath` joins them with '/'.
 */
const SEGMENT = /^[a-z0-9_-][a-z0-9_.-]*$/;

export type SysctlKeyError = string;

/** Returns the key's segments, or a message saying what is wrong. */
export function parseSysctlKey(raw: string): { segments: string[] } | { error: SysctlKeyError } {
  if (typeof raw !== 'string' || raw.length === 0) return { error: 'is empty' };
  if (raw.length > 256) return { error: 'is longer than 256 characters' };
  if (raw.startsWith('/')) return { error: `"${raw}" is an absolute path; write it relative to /proc/sys, e.g. net.ipv4.tcp_sack` };
  if (raw.includes('..')) return { error: `"${raw}" contains ".."` };
  const slashed = raw.includes('/');
  const segments = slashed ? raw.split('/') : raw.split('.');
  for (const seg of segments) {
    if (seg.length === 0) return { error: `"${raw}" has an empty segment` };
    if (!SEGMENT.test(seg) || (!slashed && seg.includes('.'))) {
      return { error: `"${raw}" has segment "${seg}" with characters outside [a-z0-9_.-]` };
    }
  }
  if (segments.length < 2) return { error: `"${raw}" is not a sysctl key (expected at least two segments, e.g. net.core.somaxconn)` };
  return { segments };
}

/** Canonical form: dotted; a segment that itself contains '.' forces the slashed form (as sysctl(8) prints it). */
export function normaliseSysctlKey(raw: string): string {
  const parsed = parseSysctlKey(raw);
  if ('error' in parsed) throw new Error(`sysctl key ${parsed.error}`);
  return formatSegments(parsed.segments);
}

function formatSegments(segments: string[]): string {
  return segments.some((s) => s.includes('.')) ? segments.join('/') : segments.join('.');
}

/** /proc/sys path of a (validated) key. */
export function sysctlProcPath(key: string): string {
  const parsed = parseSysctlKey(key);
  if ('error' in parsed) throw new Error(`sysctl key ${parsed.error}`);
  return `/proc/sys/${parsed.segments.join('/')}`;
}

export const sysctlKeySchema = z.string().transform((raw, ctx) => {
  const parsed = parseSysctlKey(raw);
  if ('error' in parsed) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `sysctl key ${parsed.error}` });
    return z.NEVER;
  }
  return formatSegments(parsed.segments);
});

/**
 * Sysctl values as the kernel prints them: whitespace-separated fields (tcp_rmem is "4096 131072 6291456").
 * Multi-field values compare field by field, as tuples.
 */
export function sysctlFields(value: string): string[] {
  return value.trim().split(/\s+/).filter((f) => f.length > 0);
}

export function normaliseSysctlValue(value: string | number | readonly (string | number)[]): string {
  if (Array.isArray(value)) return value.map((v) => String(v).trim()).join(' ');
  return sysctlFields(String(value)).join(' ');
}
