/**
 * One self-contained HTML file: inline CSS, no scripts, nothing fetched (opens from a mail attachment or an artifact
 * store without a server). Every value from hosts or files is escaped.
 */
import type { Report } from '../report.js';
import { changesHtml } from './changes.js';
import { actualText, detailText, notableFindings, orderedHosts, shownStatus, summaryLine } from './common.js';
import { escapeXml as e } from './xml-escape.js';

const CSS = `
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222;background:#fff}
h1{font-size:1.4em;margin:0 0 .3em}h2{font-size:1.15em;margin:1.6em 0 .4em}
.summary{display:flex;gap:1em;flex-wrap:wrap;margin:1em 0}
.card{border:1px solid #ddd;border-radius:6px;padding:.6em 1em;min-width:7em}
.card b{display:block;font-size:1.6em}
table{border-collapse:collapse;width:100%;margin:.4em 0}
th,td{border-bottom:1px solid #eee;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f6f6f6}
td.k{font-family:ui-monospace,monospace}
.drift,.error{color:#b00020;font-weight:600}.unknown{color:#9a6700}.suppressed{color:#777}.ok{color:#1a7f37}
details{margin:.3em 0}summary{cursor:pointer}
.muted{color:#777}
`;

export function renderHtml(report: Report): string {
  const s = report.summary;
  const hosts = orderedHosts(report);
  const cards = [
    ['hosts', s.hosts],
    ['drifted', s.drifted],
    ['errors', s.errors],
    ['drift findings', s.findings],
    ['unknown', s.unknown],
    ['suppressed', s.suppressed],
  ]
    .map(([label, n]) => `<div class="card"><b>${e(String(n))}</b>${e(String(label))}</div>`)
    .join('');
  const findingRows = (findings: ReturnType<typeof notableFindings>, host: string) =>
    findings
      .map((f) => {
        const st = shownStatus(f);
        return `<tr><td>${e(host)}</td><td>${e(f.check)}</td><td class="k">${e(f.key)}</td><td>${e(f.layer)}</td><td class="${st}">${e(st)}</td><td class="k">${e(f.expected)}</td><td class="k">${e(actualText(f))}</td><td>${e(f.severity)}</td><td>${e(detailText(f))}</td></tr>`;
      })
      .join('\n');
  const head = '<tr><th>Host</th><th>Check</th><th>Key</th><th>Layer</th><th>Status</th><th>Expected</th><th>Actual</th><th>Severity</th><th>Detail</th></tr>';
  const notable = hosts.filter((h) => h.status !== 'error').flatMap((h) => notableFindings(h).map((f) => ({ h, f })));
  const parts: string[] = [];
  parts.push(`<h1>kdrift report${report.stack ? ` — stack ${e(report.stack)}` : ''}</h1>`);
  parts.push(`<p class="muted">${e(summaryLine(report))}. Generated ${e(report.generatedAt)}.</p>`);
  parts.push(`<div class="summary">${cards}</div>`);
  const errors = hosts.filter((h) => h.status === 'error');
  if (errors.length > 0) {
    parts.push('<h2>Hosts that could not be checked</h2><ul>');
    for (const h of errors) parts.push(`<li><b>${e(h.name)}</b>: <span class="error">${e(h.error ?? 'could not be checked')}</span></li>`);
    parts.push('</ul>');
  }
  parts.push('<h2>Needs attention</h2>');
  if (notable.length === 0) parts.push('<p class="ok">No drift: every declared value is in place.</p>');
  else parts.push(`<table>${head}\n${notable.map(({ h, f }) => findingRows([f], h.name)).join('\n')}</table>`);
  for (const x of report.expiredSuppressions ?? []) {
    parts.push(`<p class="unknown">Suppression expired on ${e(x.expires)} (${e(x.source)}: ${e(x.reason)}): ${x.matched} finding(s) count again.</p>`);
  }
  if (report.changes) parts.push(changesHtml(report));
  parts.push('<h2>All hosts</h2>');
  for (const h of hosts) {
    const label = `${h.name} — ${h.status}${h.verdict ? ` (${h.verdict})` : ''} — roles ${h.roles.join(', ')}`;
    parts.push(`<details${h.status === 'ok' ? '' : ' open'}><summary class="${h.status}">${e(label)}</summary>`);
    if (h.findings.length > 0) parts.push(`<table>${head}\n${findingRows(h.findings, h.name)}</table>`);
    else parts.push(`<p class="muted">${e(h.error ?? 'no findings')}</p>`);
    parts.push('</details>');
  }
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>kdrift report${report.stack ? ` — ${e(report.stack)}` : ''}</title>
<style>${CSS}</style>
</head>
<body>
${parts.join('\n')}
</body>
</html>
`;
}
