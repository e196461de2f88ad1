/**
 * Prometheus text exposition for node_exporter's textfile collector. Bounded labels only: host, role (the host's roles
 * joined by ","), check, key, layer, severity (the declaration's: alert rules route on it) — never per-connection
 * values. `check` is needed beside `key` because two behaviour checks can watch the same port (`port 80`), and a
 * series must be unique.
 */
import type { Report } from '../report.js';
import { countsAsDrift } from '../report.js';
import { changesPrometheus } from './changes.js';

/** Label values: backslash, double quote and newline escaped, as the text format requires. */
export function promLabel(v: string): string {
  if (!/[\\"\n]/.test(v)) return v; // the common case; a fleet report has 22,000 series per 1,000 hosts
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labels(l: Record<string, string>): string {
  return `{${Object.entries(l)
    .map(([k, v]) => `${k}="${promLabel(v)}"`)
    .join(',')}}`;
}

export function renderPrometheus(report: Report): string {
  const out: string[] = [];
  const family = (name: string, type: string, help: string, samples: string[]) => {
    out.push(`# HELP ${name} ${help}`);
    out.push(`# TYPE ${name} ${type}`);
    out.push(...samples);
  };
  const drift: string[] = [];
  const up: string[] = [];
  const counts = new Map<string, number>();
  for (const h of report.hosts) {
    // labels() spelled out for the 22 series per host: the same text, built once per host instead of per series
    const hostRole = `host="${promLabel(h.name)}",role="${promLabel(h.roles.join(','))}"`;
    up.push(`kdrift_host_up{${hostRole}} ${h.status === 'error' ? 0 : 1}`);
    for (const f of h.findings) {
      drift.push(`kdrift_drift{${hostRole},check="${promLabel(f.check)}",key="${promLabel(f.key)}",layer="${promLabel(f.layer)}",severity="${promLabel(f.severity)}"} ${countsAsDrift(f) ? 1 : 0}`);
    }
  }
  for (const h of report.hosts) {
    for (const f of h.findings) {
      const status = f.suppressed && f.status !== 'ok' ? 'suppressed' : f.status;
      const k = `${h.name}\u0000${status}`;
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
  }
  const totals: string[] = [];
  for (const h of report.hosts) {
    for (const status of ['ok', 'drift', 'unknown', 'suppressed']) {
      totals.push(`kdrift_findings${labels({ host: h.name, status })} ${counts.get(`${h.name}\u0000${status}`) ?? 0}`);
    }
  }
  family('kdrift_drift', 'gauge', '1 when the declared value drifted (and no suppression covers it), else 0.', drift);
  family('kdrift_host_up', 'gauge', '1 when kdrift could check the host, 0 when it could not (down, auth, timeout).', up);
  // A gauge: the count of the LAST run (it goes down when drift is fixed), so no `_total` (a counter's suffix).
  family('kdrift_findings', 'gauge', 'Findings of the last run per host and status (ok, drift, unknown, suppressed).', totals);
  family('kdrift_root_causes', 'gauge', 'Root causes of the last run (drift that nothing else explains).', [`kdrift_root_causes ${report.summary.rootCauses}`]);
  family('kdrift_consequences', 'gauge', 'Drift findings of the last run that a root cause on another host explains.', [`kdrift_consequences ${report.summary.consequences}`]);
  family('kdrift_root_cause', 'gauge', '1 per root cause of the last run, by host and key.', report.rootCauses.map((c) => `kdrift_root_cause${labels({ host: c.host, check: c.check, key: c.key, severity: c.severity })} 1`));
  family('kdrift_skipped_files', 'gauge', 'sysctl.d files the last run could not read, per host.', skippedFiles(report));
  family('kdrift_last_run_timestamp_seconds', 'gauge', 'Unix time the last kdrift run started.', [
    `kdrift_last_run_timestamp_seconds ${Math.floor(Date.parse(report.generatedAt) / 1000)}`,
  ]);
  if (report.durationMs !== undefined) {
    family('kdrift_last_run_duration_seconds', 'gauge', 'Wall time of the last kdrift run.', [`kdrift_last_run_duration_seconds ${(report.durationMs / 1000).toFixed(3)}`]);
  }
  out.push(...changesPrometheus(report, labels));
  return `${out.join('\n')}\n`;
}

function skippedFiles(report: Report): string[] {
  return report.hosts.map((h) => `kdrift_skipped_files${labels({ host: h.name })} ${h.warnings?.length ?? 0}`);
}
