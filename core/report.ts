/**
 * The Report: one object every renderer (core/render/) turns into a format. Versioned. Defined in zod: the TS types
 * below are derived from the schemas, and scripts/gen-schema.ts turns `reportSchema` into schema/report-v<N>.json, the
 * JSON Schema every JSON report validates against (core/render/README.md documents the fields).
 */
import { z } from 'zod';
import { findingSchema, severitySchema, LAYERS, type Finding, type Layer } from './finding.js';
import { EX_USAGE } from './errors.js';

/** What changed since the previous report (core/report-diff.ts computes it; its interfaces have this shape). */
const resolvedFindingSchema = z
  .object({
    id: z.string(),
    host: z.string(),
    check: z.string(),
    key: z.string(),
    layer: z.enum(LAYERS),
    severity: severitySchema,
    expected: z.string(),
    previousActual: z.string().nullable(),
    now: z.enum(['ok', 'unknown', 'suppressed']).optional(),
  })
  .strict();
export const reportChangesSchema = z
  .object({
    since: z.string(),
    new: z.array(z.string()),
    stillDrifting: z.array(z.string()),
    resolved: z.array(resolvedFindingSchema),
    unverified: z.array(z.string()),
  })
  .strict();

export const REPORT_VERSION = 2;

/**
 * Config and behaviour joined, per host (only when behaviour was probed):
 *   'both'                                      config drift and behaviour drift;
 *   'behaviour drift'                           behaviour drifts while the declared config is in place;
 *   'config drift not yet shown by behaviour'   config drifts, and a behaviour that depends on a drifted key was
 *                                               observed without drift (e.g. no affected connections yet);
 *   'config drift'                              config drifts, and no behaviour that depends on the drifted keys was
 *                                               observed ok (none declared, or it could not be observed);
 *   'ok'                                        neither.
 */
export const VERDICTS = ['config drift', 'behaviour drift', 'both', 'config drift not yet shown by behaviour', 'ok'] as const;
export type Verdict = (typeof VERDICTS)[number];
export type HostStatus = 'ok' | 'drift' | 'error';

/** A file of the sysctl.d family the host's config check skipped (unreadable, binary, a huge line, a symlink loop). */
export const fileWarningSchema = z.object({ file: z.string(), reason: z.string() }).strict();
export type FileWarning = z.infer<typeof fileWarningSchema>;

export const hostReportSchema = z
  .object({
    name: z.string(),
    roles: z.array(z.string()),
    /** error: the host could not be checked (see `error`); drift: at least one counting drift finding. */
    status: z.enum(['ok', 'drift', 'error']),
    verdict: z.enum(VERDICTS).optional(),
    error: z.string().optional(),
    findings: z.array(findingSchema),
    /** Files of the sysctl.d family skipped on this host, and why: listed in every format. */
    warnings: z.array(fileWarningSchema).optional(),
    /** Addresses the host answers on: the inventory's, plus those its probe agent reported (LAN, WAN). */
    addresses: z.array(z.string()).optional(),
    /** Wall time spent on this host (connect + collect + judge). */
    durationMs: z.number().optional(),
  })
  .strict();
export type HostReport = z.infer<typeof hostReportSchema>;

export const expiredSuppressionSchema = z
  .object({
    source: z.string(),
    reason: z.string(),
    expires: z.string(),
    /** Findings it would have suppressed: they count again. */
    matched: z.number().int(),
  })
  .strict();
export type ExpiredSuppression = z.infer<typeof expiredSuppressionSchema>;

/**
 * What to do about a root cause: `command` is the exact kdrift command (argv), `manual` says what to change and where
 * (a key kdrift may not change by itself), `investigate` names what to look at (drift no declared key explains).
 */
export const nextStepSchema = z
  .object({
    kind: z.enum(['command', 'manual', 'investigate']),
    /** kind command: the argv to run (`kdrift fix --host lb --stack lab --dry-run`). */
    argv: z.array(z.string()).optional(),
    /** One line for a person: the command as text, or what to change and where. */
    text: z.string(),
  })
  .strict();
export type NextStep = z.infer<typeof nextStepSchema>;

/**
 * A root cause: a drift that no other drift explains. Config drift of a host (its runtime and persisted findings on
 * one key together), or a behaviour drift nothing declared explains. `explains` counts the consequences it accounts
 * for on other hosts (findings marked `explainedBy` this host and key) and on this host's own behaviour.
 */
export const rootCauseSchema = z
  .object({
    host: z.string(),
    check: z.string(),
    key: z.string(),
    severity: severitySchema,
    layers: z.array(z.enum(LAYERS)),
    expected: z.string(),
    actual: z.string().nullable(),
    /** file:line a boot applies, when the persisted layer drifts. */
    source: z.string().optional(),
    reason: z.string().optional(),
    explains: z
      .object({
        /** Other hosts whose findings it explains. */
        hosts: z.array(z.string()),
        /** Consequence findings on other hosts. */
        findings: z.number().int(),
        /** Connections (on every host, its own included) that lacked the behaviour because of it. */
        connections: z.number().int(),
        /** This host's own behaviour findings it explains ("shown by behaviour"). */
        ownBehaviour: z.array(z.string()),
      })
      .strict(),
    nextStep: nextStepSchema,
  })
  .strict();
export type RootCause = z.infer<typeof rootCauseSchema>;

/** One connection leg of the fleet picture: who connects to whom on which port, and how many negotiated. */
export const legSchema = z
  .object({
    /** The connecting side: an inventory host name, or an address outside the inventory. */
    from: z.string(),
    /** The accepting side. */
    to: z.string(),
    port: z.number().int(),
    connections: z.number().int(),
    negotiated: z.number().int(),
    /** Host whose probe saw the leg. */
    observedBy: z.string(),
  })
  .strict();
export type Leg = z.infer<typeof legSchema>;

export const reportSummarySchema = z
  .object({
    hosts: z.number().int(),
    /** Hosts with status drift. */
    drifted: z.number().int(),
    /** Hosts with status error. */
    errors: z.number().int(),
    /** Drift findings that count (status drift, not suppressed). */
    findings: z.number().int(),
    /** Findings (drift or unknown) matched by an active suppression: listed, not counted. */
    suppressed: z.number().int(),
    /** Findings with status unknown (not suppressed). */
    unknown: z.number().int(),
    /** Root causes (see rootCauses). */
    rootCauses: z.number().int(),
    /** Counting drift findings on other hosts that a root cause explains. */
    consequences: z.number().int(),
  })
  .strict();
export type ReportSummary = z.infer<typeof reportSummarySchema>;

export const reportSchema = z
  .object({
    version: z.literal(REPORT_VERSION),
    /** ISO 8601 time the run started. */
    generatedAt: z.string(),
    /** Pulumi stack the inventory came from, or null for a plain inventory / --local. */
    stack: z.string().nullable(),
    /** Whether behaviour (probe) checks ran. */
    probe: z.boolean(),
    summary: reportSummarySchema,
    /** Most important first: severity, then how many hosts and connections each explains. */
    rootCauses: z.array(rootCauseSchema),
    hosts: z.array(hostReportSchema),
    /** Connection legs the probes saw, between inventory hosts (and outside peers). */
    legs: z.array(legSchema).optional(),
    /** Suppressions whose date has passed; the findings they matched count again. */
    expiredSuppressions: z.array(expiredSuppressionSchema).optional(),
    /** Wall time of the whole run. */
    durationMs: z.number().optional(),
    /** What changed since the previous report (--previous / --state-dir). */
    changes: reportChangesSchema.optional(),
  })
  .strict();
export type Report = z.infer<typeof reportSchema>;

/** A finding counts against the host when it drifts and no active suppression covers it. */
export function countsAsDrift(f: Finding): boolean {
  return f.status === 'drift' && f.suppressed === undefined;
}

export function isConfigLayer(layer: Layer): boolean {
  return layer === 'runtime' || layer === 'persisted';
}

export function hostStatus(findings: readonly Finding[]): HostStatus {
  return findings.some(countsAsDrift) ? 'drift' : 'ok';
}

export function summarise(hosts: readonly HostReport[], rootCauses: readonly RootCause[] = []): ReportSummary {
  const all = hosts.flatMap((h) => h.findings);
  return {
    hosts: hosts.length,
    drifted: hosts.filter((h) => h.status === 'drift').length,
    errors: hosts.filter((h) => h.status === 'error').length,
    findings: all.filter(countsAsDrift).length,
    suppressed: all.filter((f) => f.suppressed !== undefined && f.status !== 'ok').length,
    unknown: all.filter((f) => f.status === 'unknown' && f.suppressed === undefined).length,
    rootCauses: rootCauses.length,
    consequences: all.filter((f) => countsAsDrift(f) && f.explainedBy !== undefined && f.explainedBy.host !== f.host).length,
  };
}

export type FailOn = 'drift' | 'error' | 'none';

/** Exit codes, documented beside each other in README and `kdrift --help`. */
export const EXIT = { ok: 0, couldNotCheck: 1, drift: 2, usage: EX_USAGE } as const;

/**
 * CI exit code. Default (fail-on drift): 1 when any host could not be checked, else 2 when drift counts, else 0.
 * `--fail-on error`: drift alone exits 0 (report-only runs that must still notice unreachable hosts).
 * `--fail-on none`: always 0 once the report is written (dashboards).
 */
export function exitCodeFor(report: Report, failOn: FailOn = 'drift'): number {
  if (failOn === 'none') return EXIT.ok;
  if (report.summary.errors > 0) return EXIT.couldNotCheck;
  if (failOn === 'drift' && report.summary.findings > 0) return EXIT.drift;
  return EXIT.ok;
}
