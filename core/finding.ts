/**
 * The judged result of one check on one host: the unit every report format renders. Defined in zod so the shipped
 * JSON Schema (schema/report-v<N>.json, scripts/gen-schema.ts) is generated from the very types the code uses.
 */
import { z } from 'zod';

export const LAYERS = ['runtime', 'persisted', 'behaviour'] as const;
export type Layer = (typeof LAYERS)[number];
export type FindingStatus = 'ok' | 'drift' | 'unknown';
const SEVERITY_NAMES = ['critical', 'high', 'medium', 'low'] as const;
export type Severity = (typeof SEVERITY_NAMES)[number];
export const SEVERITIES: readonly Severity[] = SEVERITY_NAMES;
export const severitySchema = z.enum(SEVERITY_NAMES);

export const suppressionSchema = z
  .object({
    reason: z.string(),
    /** ISO date; after it the finding counts again. */
    expires: z.string().optional(),
    /** Where the suppression was declared (file:line). */
    source: z.string(),
  })
  .strict();
export type Suppression = z.infer<typeof suppressionSchema>;

/** A consequence: this finding is what another host's (or this host's) config drift looks like from here. */
export const explanationSchema = z
  .object({
    /** The host whose drift explains this finding. */
    host: z.string(),
    key: z.string(),
    /** The value that host runs with (runtime), or null when unread. */
    value: z.string().nullable(),
    /** file:line that sets it for a boot, when the persisted layer drifts too. */
    source: z.string().optional(),
    /** Connections of this finding attributed to that host. */
    connections: z.number().int().min(0),
  })
  .strict();
export type Explanation = z.infer<typeof explanationSchema>;

export const findingSchema = z
  .object({
    host: z.string(),
    /** Check kind: `sysctl`, `tcp.windowScaling`, ... */
    check: z.string(),
    /** What was checked: a sysctl key, or for behaviours the port and direction (`port 80 in`). */
    key: z.string(),
    layer: z.enum(LAYERS),
    status: z.enum(['ok', 'drift', 'unknown']),
    /** Human-readable expectation, e.g. `= 1`, `>= 4096`, `share >= 0.99`. */
    expected: z.string(),
    /** What was found; null when it could not be read (status unknown). */
    actual: z.string().nullable(),
    severity: severitySchema,
    /** For persisted findings: the file:line that sets the value a boot would apply. */
    source: z.string().optional(),
    /** Why the status is unknown, or what the drift means. */
    reason: z.string().optional(),
    /** Behaviour evidence: counts, sample connections, peers. Small, JSON-serialisable. */
    evidence: z.record(z.unknown()).optional(),
    /** Set when a .kdriftignore entry matches: counted and listed, never dropped. */
    suppressed: suppressionSchema.optional(),
    /** Set by the root-cause pass (core/engine/root-cause.ts) when another drift explains this one. */
    explainedBy: explanationSchema.optional(),
    /** Stable across runs: a hash of host + check + key + layer (core/report-diff.ts). */
    id: z.string().optional(),
    /** Against the previous report (--previous / --state-dir), on counting drift only. */
    change: z.enum(['new', 'still drifting']).optional(),
  })
  .strict();
export type Finding = z.infer<typeof findingSchema>;
