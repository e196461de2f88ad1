import type { SysctlExpectation } from '../core/baseline.js';
import { meetsExpectation } from '../core/sysctl-rules/index.js';
import { sysctlFields, normaliseSysctlValue } from '../core/sysctl-key.js';

/**
 * The value remediation writes for one key: the smallest change that meets the expectation.
 *  - equals → that value;
 *  - oneOf  → the first listed value (a current value that is already listed is kept);
 *  - min/max → each field of the current value clamped into [min, max] (tuples per field), so a tcp_rmem whose
 *    third field is too small changes only that field. Without a usable current value: min (or max when only max).
 * `preferred` values (e.g. what the persisted layer already says) win when they meet the expectation, so runtime and
 * boot end up agreeing instead of kdrift inventing a third value.
 */
export function targetValue(exp: SysctlExpectation, current: string | null, preferred: (string | null | undefined)[] = []): string {
  for (const p of [...preferred, current]) {
    if (p !== null && p !== undefined && meetsExpectation(exp, p)) return normaliseSysctlValue(p);
  }
  if (exp.equals !== undefined) return exp.equals;
  if (exp.oneOf !== undefined) return exp.oneOf[0] as string;
  return clampToBounds(exp, current);
}

function clampToBounds(exp: SysctlExpectation, current: string | null): string {
  const lo = exp.min !== undefined ? sysctlFields(exp.min).map(Number) : undefined;
  const hi = exp.max !== undefined ? sysctlFields(exp.max).map(Number) : undefined;
  const width = (lo ?? hi ?? []).length;
  const cur = current === null ? [] : sysctlFields(current);
  const usable = cur.length === width && cur.every((f) => /^-?\d+$/.test(f));
  const fields: number[] = [];
  for (let i = 0; i < width; i++) {
    const l = lo?.[i];
    const h = hi?.[i];
    let v = usable ? Number(cur[i]) : (l ?? (h as number));
    if (l !== undefined && v < l) v = l;
    if (h !== undefined && v > h) v = h;
    fields.push(v);
  }
  return fields.join(' ');
}

/** True when two sysctl values are the same field by field (the kernel prints tabs, declarations spaces). */
export function sameSysctlValue(a: string | null | undefined, b: string | null | undefined): boolean {
  if (a === null || a === undefined || b === null || b === undefined) return a === b;
  return normaliseSysctlValue(a) === normaliseSysctlValue(b);
}
