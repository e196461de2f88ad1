/**
 * The Report: one object every renderer (core/render/) turns into a format. Versioned; the JSON renderer writes it as
 * is, so this file IS the JSON schema (documented in core/render/README.md).
 */
import type { Finding, Layer } from './finding.js';
import type { ReportChanges } from './report-diff.js';

export const REPORT_VERSION = 1;

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
export type Verdict = 'config drift' | 'behaviour drift' | 'both' | 'config drift not yet shown by behaviour' | 'ok';
export type HostStatus = 'ok' | 'drift' | 'error';

export interface HostReport {
  name: string;
  roles: string[];
  /** error: the host could not be checked (see `error`); drift: at least one counting drift finding. */
  status: HostStatus;
  verdict?: Verdict;
  error?: string;
  findings: Finding[];
  /** Wall time spent on this host (connect + collect + judge). */
  durationMs?: number;
}

export interface ExpiredSuppression {
  source: string;
  reason: string;
  expires: string;
  /** Findings it would have suppressed: they count again. */
  matched: number;
}

export interface ReportSummary {
  hosts: number;
  /** Hosts with status drift. */
  drifted: number;
  /** Hosts with status error. */
  errors: number;
  /** Drift findings that count (status drift, not suppressed). */
  findings: number;
  /** Findings (drift or unknown) matched by an active suppression: listed, not counted. */
  suppressed: number;
  /** Findings with status unknown (not suppressed). */
  unknown: number;
}

export interface Report {
  version: typeof REPORT_VERSION;
  /** ISO 8601 time the run started. */
  generatedAt: string;
  /** Pulumi stack the inventory came from, or null for a plain inventory / --local. */
  stack: string | null;
  /** Whether behaviour (probe) checks ran. */
  probe: boolean;
  summary: ReportSummary;
  hosts: HostReport[];
  /** Suppressions whose date has passed; the findings they matched count again. */
  expiredSuppressions?: ExpiredSuppression[];
  /** Wall time of the whole run. */
  durationMs?: number;
  /** What changed since the previous report (--previous / --state-dir). */
  changes?: ReportChanges;
}

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

export function summarise(hosts: readonly HostReport[]): ReportSummary {
  const all = hosts.flatMap((h) => h.findings);
  return {
    hosts: hosts.length,
    drifted: hosts.filter((h) => h.status === 'drift').length,
    errors: hosts.filter((h) => h.status === 'error').length,
    findings: all.filter(countsAsDrift).length,
    suppressed: all.filter((f) => f.suppressed !== undefined && f.status !== 'ok').length,
    unknown: all.filter((f) => f.status === 'unknown' && f.suppressed === undefined).length,
  };
}

export type FailOn = 'drift' | 'error' | 'none';

/**
 * CI exit code. Default (fail-on drift): 1 when any host could not be checked, else 2 when drift counts, else 0.
 * `--fail-on error`: drift alone exits 0 (report-only runs that must still notice unreachable hosts).
 * `--fail-on none`: always 0 once the report is written (dashboards).
 */
export function exitCodeFor(report: Report, failOn: FailOn = 'drift'): number {
  if (failOn === 'none') return 0;
  if (report.summary.errors > 0) return 1;
  if (failOn === 'drift' && report.summary.findings > 0) return 2;
  return 0;
}
