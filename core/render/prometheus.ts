/**
 * Prometheus text exposition for node_exporter's textfile collector. Bounded labels only: host, role (the host's roles
 * joined by ","), check, key, layer, severity (the declaration's: alert rules route on it) — never per-connection
 * values. `check` is needed beside `key` because two behaviour checks can watch the same port (`port 80`), and a
 * series must be unique.
 */
import type { HostReport, Report } from '../report.js';
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

/**
 * The exposition, streamed: a few lines at a time (a host's series at most), so a 1,000-host fleet's 3 MB of text is
 * never one string.
 */
export function* prometheusChunks(report: Report): Generator<string> {
  const head = (name: string, type: string, help: string) => `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`;
  const lines = (samples: readonly string[]) => (samples.length > 0 ? `${samples.join('\n')}\n` : '');
  const hostRoles = report.hosts.map((h) => `host="${promLabel(h.name)}",role="${promLabel(h.roles.join(','))}"`);

  yield head('kdrift_drift', 'gauge', '1 when the declared value drifted (and no suppression covers it), else 0.');
  for (let i = 0; i < report.hosts.length; i++) {
    const h = report.hosts[i] as HostReport;
    const hostRole = hostRoles[i] as string;
    // labels() spelled out for the 22 series per host: the same text, built once per host instead of per series
    let chunk = '';
    for (const f of h.findings) {
      chunk += `kdrift_drift{${hostRole},check="${promLabel(f.check)}",key="${promLabel(f.key)}",layer="${promLabel(f.layer)}",severity="${promLabel(f.severity)}"} ${countsAsDrift(f) ? 1 : 0}\n`;
    }
    if (chunk) yield chunk;
  }
  yield head('kdrift_host_up', 'gauge', '1 when kdrift could check the host, 0 when it could not (down, auth, timeout).');
  for (let i = 0; i < report.hosts.length; i++) yield `kdrift_host_up{${hostRoles[i] as string}} ${report.hosts[i]?.status === 'error' ? 0 : 1}\n`;
  // A gauge: the count of the LAST run (it goes down when drift is fixed), so no `_total` (a counter's suffix).
  yield head('kdrift_findings', 'gauge', 'Findings of the last run per host and status (ok, drift, unknown, suppressed).');
  for (const h of report.hosts) {
    const counts = { ok: 0, drift: 0, unknown: 0, suppressed: 0 };
    for (const f of h.findings) counts[f.suppressed && f.status !== 'ok' ? 'suppressed' : f.status] += 1;
    yield lines(Object.entries(counts).map(([status, n]) => `kdrift_findings${labels({ host: h.name, status })} ${n}`));
  }
  yield head('kdrift_root_causes', 'gauge', 'Root causes of the last run (drift that nothing else explains).');
  yield `kdrift_root_causes ${report.summary.rootCauses}\n`;
  yield head('kdrift_consequences', 'gauge', 'Drift findings of the last run that a root cause on another host explains.');
  yield `kdrift_consequences ${report.summary.consequences}\n`;
  yield head('kdrift_root_cause', 'gauge', '1 per root cause of the last run, by host and key.');
  yield lines(report.rootCauses.map((c) => `kdrift_root_cause${labels({ host: c.host, check: c.check, key: c.key, severity: c.severity })} 1`));
  yield head('kdrift_skipped_files', 'gauge', 'sysctl.d files the last run could not read, per host.');
  for (const h of report.hosts) yield `kdrift_skipped_files${labels({ host: h.name })} ${h.warnings?.length ?? 0}\n`;
  yield head('kdrift_last_run_timestamp_seconds', 'gauge', 'Unix time the last kdrift run started.');
  yield `kdrift_last_run_timestamp_seconds ${Math.floor(Date.parse(report.generatedAt) / 1000)}\n`;
  if (report.durationMs !== undefined) {
    yield head('kdrift_last_run_duration_seconds', 'gauge', 'Wall time of the last kdrift run.');
    yield `kdrift_last_run_duration_seconds ${(report.durationMs / 1000).toFixed(3)}\n`;
  }
  yield lines(changesPrometheus(report, labels));
}
