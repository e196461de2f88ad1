/**
 * The "changes since the previous report" section every format shows when the report carries `changes`
 * (core/report-diff.ts): counts, then the new and resolved findings. Each renderer calls its own function here, so
 * the section is one call per renderer.
 */
import type { Finding } from '../finding.js';
import type { Report } from '../report.js';
import type { ResolvedFinding } from '../report-diff.js';
import { actualText, oneLine } from './common.js';
import { escapeXml } from './xml-escape.js';

interface ChangeRows {
  counts: string;
  fresh: Finding[];
  resolved: ResolvedFinding[];
}

function rows(report: Report): ChangeRows | undefined {
  const c = report.changes;
  if (!c) return undefined;
  const fresh = report.hosts.flatMap((h) => h.findings.filter((f) => f.change === 'new'));
  const unverified = c.unverified.length > 0 ? `, ${c.unverified.length} unverified (host not checked)` : '';
  return { counts: `${c.new.length} new, ${c.stillDrifting.length} still drifting, ${c.resolved.length} resolved${unverified} since ${c.since}`, fresh, resolved: c.resolved };
}

const resolvedNow = (r: ResolvedFinding) => (r.now ? `now ${r.now}` : 'no longer declared');

export function changesText(report: Report): string[] {
  const r = rows(report);
  if (!r) return [];
  const out = ['', `Changes: ${r.counts}`];
  for (const f of r.fresh) out.push(oneLine(`  new       ${f.host}  ${f.check}  ${f.key}  ${f.layer}  expected ${f.expected}, found ${actualText(f)}`));
  for (const x of r.resolved) out.push(oneLine(`  resolved  ${x.host}  ${x.check}  ${x.key}  ${x.layer}  was ${x.previousActual ?? '—'}, ${resolvedNow(x)}`));
  return out;
}

export function changesMarkdown(report: Report, cell: (s: string) => string): string[] {
  const r = rows(report);
  if (!r) return [];
  const out = ['', '### Changes since the previous report', '', cell(r.counts)];
  if (r.fresh.length + r.resolved.length > 0) {
    out.push('', '| Change | Host | Check | Key | Layer | Detail |', '|---|---|---|---|---|---|');
    for (const f of r.fresh) out.push(`| **new** | ${[f.host, f.check, f.key, f.layer, `expected ${f.expected}, found ${actualText(f)}`].map(cell).join(' | ')} |`);
    for (const x of r.resolved) out.push(`| resolved | ${[x.host, x.check, x.key, x.layer, `was ${x.previousActual ?? '—'}, ${resolvedNow(x)}`].map(cell).join(' | ')} |`);
  }
  return out;
}

export function changesHtml(report: Report): string {
  const r = rows(report);
  if (!r) return '';
  const e = escapeXml;
  const tr = (change: string, cls: string, cells: string[]) => `<tr><td class="${cls}">${e(change)}</td>${cells.map((c) => `<td>${e(c)}</td>`).join('')}</tr>`;
  const body = [
    ...r.fresh.map((f) => tr('new', 'drift', [f.host, f.check, f.key, f.layer, `expected ${f.expected}, found ${actualText(f)}`])),
    ...r.resolved.map((x) => tr('resolved', 'ok', [x.host, x.check, x.key, x.layer, `was ${x.previousActual ?? '—'}, ${resolvedNow(x)}`])),
  ];
  const table = body.length > 0 ? `<table><tr><th>Change</th><th>Host</th><th>Check</th><th>Key</th><th>Layer</th><th>Detail</th></tr>\n${body.join('\n')}</table>` : '';
  return `<h2>Changes since the previous report</h2><p class="muted">${e(r.counts)}</p>${table}`;
}

/** JUnit: resolved findings as passing testcases of their own suite (new/still drifting ride on the failures' type). */
export function changesJunit(report: Report): { suite: string; tests: number } | undefined {
  const r = rows(report);
  if (!r) return undefined;
  const x = escapeXml;
  const cases = r.resolved.map((f) => `    <testcase classname="kdrift.${x(f.host)}.${x(f.check)}" name="${x(`resolved: ${f.key} [${f.layer}]`)}"/>\n`);
  return {
    suite: `  <testsuite name="changes" tests="${cases.length}" failures="0" errors="0" skipped="0">\n    <properties><property name="changes" value="${x(r.counts)}"/></properties>\n${cases.join('')}  </testsuite>`,
    tests: cases.length,
  };
}

/** Prometheus: counts by change, and a 1 per new drift finding (bounded: only this run's new drift). */
export function changesPrometheus(report: Report, labels: (l: Record<string, string>) => string): string[] {
  const c = report.changes;
  if (!c) return [];
  const out = [
    '# HELP kdrift_changes Drift findings compared with the previous report, by change (new, still_drifting, resolved, unverified).',
    '# TYPE kdrift_changes gauge',
    ...([['new', c.new.length], ['still_drifting', c.stillDrifting.length], ['resolved', c.resolved.length], ['unverified', c.unverified.length]] as const).map(
      ([change, n]) => `kdrift_changes${labels({ change })} ${n}`,
    ),
    '# HELP kdrift_drift_new 1 for each drift finding that did not drift in the previous report.',
    '# TYPE kdrift_drift_new gauge',
  ];
  for (const h of report.hosts) {
    for (const f of h.findings) if (f.change === 'new') out.push(`kdrift_drift_new${labels({ host: h.name, role: h.roles.join(','), check: f.check, key: f.key, layer: f.layer })} 1`);
  }
  return out;
}

/** JUnit failure type for a drift finding: says whether it is new when the report was compared. */
export function driftFailureType(f: Finding): string {
  return f.change === 'new' ? 'new drift' : f.change === 'still drifting' ? 'still drifting' : 'drift';
}
