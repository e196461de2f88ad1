/**
 * Declared policy → the sysctl guard's kernel rules (gate/ and watch: the agent, probe/, knows rules, not baselines). A role's sysctl expectations (equals / oneOf / min / max, tuples
 * per field) compile into kd_sg_rules entries keyed by the /proc/sys-relative name; what the kernel cannot check
 * exactly is listed in `notEnforced` with the reason (it is still recorded and judged in user space).
 *   equals / oneOf of integers (tuples of up to 4 fields, up to 4 alternatives) → SET: the resulting tuple must equal
 *     one alternative;
 *   min / max of integers (per field)                                          → RANGE;
 *   equals / oneOf with a non-integer value                                    → TEXT: the written bytes must be one
 *     alternative as `sysctl -w` / `echo` write it ("v" or "v\n"); other spellings ("a  b" for "a b") are refused,
 *     which is conservative. At most 2 such values per key (4 kernel slots).
 */
import type { SysctlExpectation } from '../core/baseline.js';
import { sysctlFields, sysctlProcPath } from '../core/sysctl-key.js';
import { GUARD_LIMITS, type GuardRule, type KernelRule } from '../probe/index.js';

const { INT64_MAX, INT64_MIN, MAX_ALTS, MAX_FIELDS, TEXT_LEN } = GUARD_LIMITS;

export interface CompiledRule extends GuardRule {
  /** The key as declared. */
  key: string;
}

export interface CompiledPolicy {
  rules: CompiledRule[];
  notEnforced: { key: string; why: string }[];
}

const INT = /^-?\d+$/;

function toInt64(text: string): bigint | undefined {
  if (!INT.test(text)) return undefined;
  const v = BigInt(text);
  return v < INT64_MIN || v > INT64_MAX ? undefined : v;
}

function intTuple(value: string): bigint[] | undefined {
  const fields = sysctlFields(value).map(toInt64);
  if (fields.length === 0 || fields.length > MAX_FIELDS || fields.some((f) => f === undefined)) return undefined;
  return fields as bigint[];
}

export function compileRule(e: SysctlExpectation): KernelRule | { why: string } {
  const values = e.equals !== undefined ? [e.equals] : e.oneOf;
  if (values !== undefined) {
    if (values.length > MAX_ALTS) return { why: `oneOf has ${values.length} values; the kernel checks at most ${MAX_ALTS}` };
    const tuples = values.map(intTuple);
    if (tuples.every((t): t is bigint[] => t !== undefined) && tuples.every((t) => t.length === tuples[0]?.length)) {
      return { kind: 'set', alternatives: tuples };
    }
    const texts = values.flatMap((v) => {
      const t = sysctlFields(v).join(' ');
      return [t, `${t}\n`];
    });
    if (texts.length > MAX_ALTS) return { why: `the kernel compares at most ${MAX_ALTS / 2} non-integer values per key` };
    const long = texts.find((t) => Buffer.byteLength(t) >= TEXT_LEN);
    if (long !== undefined) return { why: `value "${long.trim()}" is longer than the ${TEXT_LEN - 2} bytes the kernel compares` };
    return { kind: 'text', texts };
  }
  const lo = e.min !== undefined ? intTuple(e.min) : undefined;
  const hi = e.max !== undefined ? intTuple(e.max) : undefined;
  if ((e.min !== undefined && !lo) || (e.max !== undefined && !hi)) {
    return { why: `bounds must be integers of at most ${MAX_FIELDS} fields within 64 bits` };
  }
  const n = (lo ?? hi)?.length ?? 0;
  return {
    kind: 'range',
    min: lo ?? Array.from({ length: n }, () => INT64_MIN),
    max: hi ?? Array.from({ length: n }, () => INT64_MAX),
  };
}

export function compilePolicy(specs: ReadonlyMap<string, SysctlExpectation>): CompiledPolicy {
  const rules: CompiledRule[] = [];
  const notEnforced: CompiledPolicy['notEnforced'] = [];
  for (const [key, e] of specs) {
    const r = compileRule(e);
    if ('why' in r) notEnforced.push({ key, why: r.why });
    else rules.push({ key, name: sysctlProcPath(key).slice('/proc/sys/'.length), rule: r });
  }
  return { rules, notEnforced };
}
