/**
 * What changed since the last run: every finding gets a stable id (host + check + key + layer), and a report is
 * compared with the previous one by those ids:
 *   new             drifts now, did not drift (or did not exist) last time;
 *   still drifting  drifted last time and drifts now;
 *   resolved        drifted last time; now checked and not drifting (ok, unknown, suppressed, or no longer declared).
 * A host that could not be checked now resolves nothing: its old drift is listed as `unverified`, not as fixed.
 */
import crypto from 'node:crypto';
import { z } from 'zod';
import { KdriftError } from './errors.js';
import { formatZodError } from './zod-error.js';
import type { Finding, Layer, Severity } from './finding.js';
import { countsAsDrift, type Report } from './report.js';

export type FindingChange = 'new' | 'still drifting';

/** A drift of the previous run that no longer counts. */
export interface ResolvedFinding {
  id: string;
  host: string;
  check: string;
  key: string;
  layer: Layer;
  severity: Severity;
  expected: string;
  /** What the previous run found. */
  previousActual: string | null;
  /** What this run found, when the finding still exists (e.g. `ok`, `unknown`, `suppressed`); absent = no longer declared. */
  now?: 'ok' | 'unknown' | 'suppressed';
}

export interface ReportChanges {
  /** generatedAt of the report compared against. */
  since: string;
  /** Ids of this run's counting drift findings by change (each drift finding also carries `change`). */
  new: string[];
  stillDrifting: string[];
  resolved: ResolvedFinding[];
  /** Ids of previous drift on hosts that could not be checked now: neither resolved nor confirmed. */
  unverified: string[];
}

/** One-shot hashing (node ≥ 20.12) where there is: a fleet report hashes 22,000 ids. */
const sha256Hex: (s: string) => string =
  typeof (crypto as { hash?: unknown }).hash === 'function'
    ? (s) => (crypto as unknown as { hash(alg: string, data: string, enc: 'hex'): string }).hash('sha256', s, 'hex')
    : (s) => crypto.createHash('sha256').update(s).digest('hex');

/** sha256 over the identity fields, NUL-separated (no field contains NUL), first 16 hex digits. */
export function findingId(f: Pick<Finding, 'host' | 'check' | 'key' | 'layer'>): string {
  const identity = `${f.host}\0${f.check}\0${f.key}\0${f.layer}`;
  let id = knownIds.get(identity);
  if (id === undefined) {
    id = sha256Hex(identity).slice(0, 16);
    if (knownIds.size >= KNOWN_IDS_KEPT) knownIds.clear();
    knownIds.set(identity, id);
  }
  return id;
}

/** Ids already computed: report --every gives the same findings their ids run after run. */
const knownIds = new Map<string, string>();
const KNOWN_IDS_KEPT = 500_000;

/** Sets `id` on every finding of the report (in place; findings are fresh objects of this run). */
export function assignFindingIds(report: Report): Report {
  for (const h of report.hosts) for (const f of h.findings) f.id = findingId(f);
  return report;
}

/**
 * Only what the comparison needs is validated from a previous report, so a report written by an older or newer kdrift
 * (extra fields, findings without ids) still compares.
 */
const previousSchema = z.object({
  generatedAt: z.string(),
  hosts: z.array(
    z.object({
      name: z.string(),
      status: z.string(),
      findings: z.array(
        z.object({
          host: z.string(),
          check: z.string(),
          key: z.string(),
          layer: z.enum(['runtime', 'persisted', 'behaviour']),
          status: z.enum(['ok', 'drift', 'unknown']),
          severity: z.enum(['critical', 'high', 'medium', 'low']),
          expected: z.string(),
          actual: z.string().nullable(),
          suppressed: z.unknown().optional(),
        }).passthrough(),
      ),
    }).passthrough(),
  ),
}).passthrough();

export type PreviousReport = z.infer<typeof previousSchema>;

/** Parses a previous JSON report; `source` names the file in the error. */
export function parsePreviousReport(text: string, source: string): PreviousReport {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new KdriftError(`not a JSON report: ${(err as Error).message}`, source);
  }
  const r = previousSchema.safeParse(raw);
  if (!r.success) throw new KdriftError(`not a kdrift JSON report: ${formatZodError(r.error)}`, source);
  return r.data;
}

/** Marks each counting drift finding `new` / `still drifting`, and lists what resolved; sets report.changes. */
export function diffReports(report: Report, previous: PreviousReport): Report {
  assignFindingIds(report);
  const before = new Map<string, PreviousReport['hosts'][number]['findings'][number]>();
  for (const h of previous.hosts) {
    for (const f of h.findings) if (f.status === 'drift' && f.suppressed === undefined) before.set(findingId(f), f);
  }
  const changes: ReportChanges = { since: previous.generatedAt, new: [], stillDrifting: [], resolved: [], unverified: [] };
  const seen = new Set<string>();
  const erroredHosts = new Set(report.hosts.filter((h) => h.status === 'error').map((h) => h.name));
  for (const h of report.hosts) {
    for (const f of h.findings) {
      const id = f.id as string;
      seen.add(id);
      const was = before.get(id);
      if (countsAsDrift(f)) {
        f.change = was ? 'still drifting' : 'new';
        (was ? changes.stillDrifting : changes.new).push(id);
      } else if (was) {
        // Not counting drift: ok, unknown, or a drift/unknown an active suppression covers.
        const now = f.suppressed !== undefined && f.status !== 'ok' ? 'suppressed' : (f.status as 'ok' | 'unknown');
        changes.resolved.push(resolved(id, was, now));
      }
    }
  }
  const checkedHosts = new Set(report.hosts.filter((h) => h.status !== 'error').map((h) => h.name));
  for (const [id, was] of before) {
    if (seen.has(id)) continue;
    if (erroredHosts.has(was.host) || !checkedHosts.has(was.host)) changes.unverified.push(id);
    else changes.resolved.push(resolved(id, was));
  }
  report.changes = changes;
  return report;
}

function resolved(id: string, was: PreviousReport['hosts'][number]['findings'][number], now?: ResolvedFinding['now']): ResolvedFinding {
  return {
    id,
    host: was.host,
    check: was.check,
    key: was.key,
    layer: was.layer,
    severity: was.severity,
    expected: was.expected,
    previousActual: was.actual,
    ...(now ? { now } : {}),
  };
}
