/**
 * The per-value drift rule: does a value meet a declared expectation (equals / oneOf / min / max, tuples field by field)?
 */
import type { SysctlExpectation } from '../baseline.js';
import { sysctlFields } from '../sysctl-key.js';

/** Human form of an expectation, used in findings: `= 1`, `>= 4096 87380 6291456`, `one of 1 | 2`. */
export function describeExpectation(e: SysctlExpectation): string {
  if (e.equals !== undefined) return `= ${e.equals}`;
  if (e.oneOf !== undefined) return `one of ${e.oneOf.join(' | ')}`;
  const parts: string[] = [];
  if (e.min !== undefined) parts.push(`>= ${e.min}`);
  if (e.max !== undefined) parts.push(`<= ${e.max}`);
  return parts.join(' and ');
}

/**
 * Field by field: `null` fields are unknown (a boot that sets only some fields of a tuple). Returns true / false when
 * the known fields decide, null when the answer depends on an unknown field.
 */
export function meetsExpectationFields(e: SysctlExpectation, got: readonly (string | null)[]): boolean | null {
  const same = (want: string): boolean | null => {
    const w = sysctlFields(want);
    if (w.length !== got.length) return false;
    if (w.some((f, i) => got[i] !== null && got[i] !== f)) return false;
    return got.every((f) => f !== null) ? true : null;
  };
  const anyOf = (results: (boolean | null)[]) => (results.includes(true) ? true : results.includes(null) ? null : false);
  if (e.equals !== undefined) return same(e.equals);
  if (e.oneOf !== undefined) return anyOf(e.oneOf.map(same));
  let result: boolean | null = true;
  const check = (bound: string, ok: (a: number, b: number) => boolean) => {
    const b = sysctlFields(bound).map(Number);
    if (b.length !== got.length) {
      result = false;
      return;
    }
    got.forEach((f, i) => {
      if (f === null) {
        if (result === true) result = null;
      } else if (!/^-?\d+$/.test(f) || !ok(Number(f), b[i] as number)) result = false;
    });
  };
  if (e.min !== undefined) check(e.min, (a, b) => a >= b);
  if (e.max !== undefined) check(e.max, (a, b) => a <= b);
  return result;
}

/** Does `actual` meet the expectation? Multi-field values compare as tuples. */
export function meetsExpectation(e: SysctlExpectation, actual: string): boolean {
  return meetsExpectationFields(e, sysctlFields(actual)) === true;
}
