import { z } from 'zod';
import { sysctlKeySchema, normaliseSysctlValue, sysctlFields } from './sysctl-key.js';
import { SEVERITIES, type Severity } from './finding.js';
import { behaviourSpecSchema } from '../checks/registry.js';
import { formatZodError } from './zod-error.js';
import { KdriftError } from './errors.js';

/**
 * The declared kernel state per role. One source of truth: stacks/ declares it in TypeScript, and both the Pulumi
 * program and the CLI parse it through `parseBaseline` (so a bad declaration fails the same way everywhere).
 */
const severitySchema = z.enum(SEVERITIES as [Severity, ...Severity[]]);
export const remediationPolicySchema = z.enum(['auto', 'manual', 'never']);
export type RemediationPolicy = z.infer<typeof remediationPolicySchema>;

const scalar = z.union([z.string(), z.number()]);
/** A sysctl value: a scalar or, for multi-field sysctls (tcp_rmem), a tuple. Normalised to the kernel's "a b c" form. */
const sysctlValueSchema = z
  .union([scalar, z.array(scalar).min(1)], {
    errorMap: () => ({ message: 'must be a number, a string, or a list of them (one per field, e.g. [4096, 131072, 6291456])' }),
  })
  .transform((v, ctx) => {
    const text = normaliseSysctlValue(v as string | number | (string | number)[]);
    if (text.length === 0) ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'value is empty' });
    if (/[\n\r\0]/.test(String(v))) ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'value contains a newline or NUL' });
    return text;
  });
/** Bounds are integers per field. */
const numericValueSchema = sysctlValueSchema.superRefine((text, ctx) => {
  for (const f of sysctlFields(text)) {
    if (!/^-?\d+$/.test(f)) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `"${f}" is not an integer (min/max compare numbers)` });
  }
});

export const sysctlExpectationSchema = z
  .object({
    equals: sysctlValueSchema.optional(),
    oneOf: z.array(sysctlValueSchema).min(1).optional(),
    min: numericValueSchema.optional(),
    max: numericValueSchema.optional(),
    severity: severitySchema.default('medium'),
    remediation: remediationPolicySchema.default('manual'),
    /** Why this value: shown in reports next to a drift. */
    reason: z.string().optional(),
  })
  .strict()
  .superRefine((e, ctx) => {
    const kinds = [e.equals !== undefined, e.oneOf !== undefined, e.min !== undefined || e.max !== undefined].filter(Boolean).length;
    if (kinds !== 1) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'needs exactly one of equals, oneOf, or min/max' });
      return;
    }
    if (e.min !== undefined && e.max !== undefined) {
      const lo = sysctlFields(e.min).map(Number);
      const hi = sysctlFields(e.max).map(Number);
      if (lo.length !== hi.length) ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'min and max have different numbers of fields' });
      else if (lo.some((v, i) => v > (hi[i] as number))) ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'min is greater than max' });
    }
  });
export type SysctlExpectation = z.output<typeof sysctlExpectationSchema>;

const sysctlMapSchema = z.record(z.string(), z.unknown()).transform((raw, ctx) => {
  const out = new Map<string, SysctlExpectation>();
  for (const [rawKey, rawExp] of Object.entries(raw)) {
    const key = sysctlKeySchema.safeParse(rawKey);
    if (!key.success) {
      for (const issue of key.error.issues) ctx.addIssue({ ...issue, path: [rawKey] });
      continue;
    }
    if (out.has(key.data)) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: [rawKey], message: `duplicate of key ${key.data}` });
      continue;
    }
    const exp = sysctlExpectationSchema.safeParse(rawExp);
    if (!exp.success) {
      for (const issue of exp.error.issues) ctx.addIssue({ ...issue, path: [rawKey, ...issue.path] });
      continue;
    }
    out.set(key.data, exp.data);
  }
  return out;
});

export const roleBaselineSchema = z
  .object({
    description: z.string().optional(),
    sysctls: sysctlMapSchema.default({}),
    behaviours: z.array(behaviourSpecSchema).default([]),
  })
  .strict();
export type RoleBaseline = z.output<typeof roleBaselineSchema>;

const roleNameSchema = z.string().regex(/^[a-z][a-z0-9-]*$/, 'role names are lower-case words joined by "-"');
export const baselineSchema = z
  .object({ roles: z.record(roleNameSchema, roleBaselineSchema) })
  .strict()
  .superRefine((b, ctx) => {
    for (const [role, rb] of Object.entries(b.roles)) {
      rb.behaviours.forEach((beh, i) => {
        for (const dep of beh.dependsOn) {
          if (!rb.sysctls.has(dep)) {
            ctx.addIssue({
              code: z.ZodIssueCode.custom,
              path: ['roles', role, 'behaviours', i, 'dependsOn'],
              message: `depends on ${dep}, which role ${role} does not declare in sysctls`,
            });
          }
        }
      });
    }
  });
export type Baseline = z.output<typeof baselineSchema>;

/** Validates a baseline; `source` names the file (or module) in every error. */
export function parseBaseline(input: unknown, source: string): Baseline {
  const res = baselineSchema.safeParse(input);
  if (!res.success) throw new KdriftError(formatZodError(res.error), source);
  return res.data;
}

// The drift rule for values (meetsExpectation, describeExpectation) is the sysctl rules': core/sysctl-rules/expectation.ts.
