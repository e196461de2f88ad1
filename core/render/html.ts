/**
 * One self-contained HTML page for the on-call engineer: inline CSS, no scripts, nothing fetched (opens from a mail
 * attachment or an artifact store without a server). Order: a verdict banner; root causes, most important first, each
 * with its next step; the fleet picture (inline SVG, legs coloured by negotiated share); then per host what needs
 * attention, with ok rows collapsed. A clean report says so in its banner. Every value from hosts or files is escaped.
 */
import type { Finding } from '../finding.js';
import type { HostReport, Report } from '../report.js';
import { changesHtml } from './changes.js';
import { actualText, detailText, notableFindings, orderedHosts, rootCauseReach, rootCauseTitle, shownStatus, summaryLine, verdictLine, warningsOf } from './common.js';
import { fleetSvgChunks } from './fleet-svg.js';
import { escapeXml as e } from './xml-escape.js';

const CSS = `
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222;background:#fff}
h1{font-size:1.3em;margin:0 0 .5em}h2{font-size:1.1em;margin:1.6em 0 .4em}
.banner{padding:.8em 1em;border-radius:6px;font-size:1.15em;font-weight:600;margin:0 0 .6em}
.banner-ok{background:#e6f4ea;color:#1a7f37;border:1px solid #a6d8b5}
.banner-drift{background:#fdecee;color:#b00020;border:1px solid #f1aeb5}
.banner-error{background:#fff4e5;color:#8a4b00;border:1px solid #f5c98b}
.cause{border-left:5px solid #b00020;background:#fff8f8;padding:.5em 1em;margin:.5em 0}
.cause.sev-medium,.cause.sev-low{border-color:#9a6700;background:#fffbf0}
.cause .next{font-family:ui-monospace,monospace;background:#f3f3f3;padding:.2em .5em;border-radius:4px;display:inline-block;margin-top:.3em}
table{border-collapse:collapse;width:100%;margin:.4em 0}
th,td{border-bottom:1px solid #eee;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f6f6f6}
td.k{font-family:ui-monospace,monospace}
.drift,.error{color:#b00020;font-weight:600}.unknown{color:#9a6700}.suppressed{color:#777}.ok{color:#1a7f37}
details{margin:.3em 0}summary{cursor:pointer}
.muted{color:#777}
#fleet{max-width:100%;height:auto;border:1px solid #eee;border-radius:6px;background:#fcfcfc}
#fleet .leg line{stroke-width:3}#fleet .leg text{font-size:11px;fill:#333}
#fleet .leg-good line{stroke:#1a7f37}#fleet .leg-partial line{stroke:#d29922}#fleet .leg-bad line{stroke:#b00020}
#fleet marker.leg-good path{fill:#1a7f37}#fleet marker.leg-partial path{fill:#d29922}#fleet marker.leg-bad path{fill:#b00020}
#fleet rect{stroke-width:2;fill:#fff}#fleet .name{font-weight:600;font-size:13px}#fleet .sub{font-size:10px;fill:#666}
#fleet .node-ok rect{stroke:#1a7f37}#fleet .node-drift rect{stroke:#b00020;fill:#fdecee}#fleet .node-error rect{stroke:#8a4b00;fill:#fff4e5}
#fleet .node-outside rect{stroke:#999;stroke-dasharray:4 3}
`;

const HEAD = '<tr><th>Check</th><th>Key</th><th>Layer</th><th>Status</th><th>Expected</th><th>Actual</th><th>Severity</th><th>Detail</th></tr>';

function row(f: Finding): string {
  const st = shownStatus(f);
  return `<tr class="row-${st}"><td>${e(f.check)}</td><td class="k">${e(f.key)}</td><td>${e(f.layer)}</td><td class="${st}">${e(st)}</td><td class="k">${e(f.expected)}</td><td class="k">${e(actualText(f))}</td><td>${e(f.severity)}</td><td>${e(detailText(f))}</td></tr>`;
}

function hostSection(h: HostReport): string {
  const label = `${h.name} — ${h.status}${h.verdict ? ` (${h.verdict})` : ''} — roles ${h.roles.join(', ')}`;
  if (h.status === 'error') return `<section class="host" data-host="${e(h.name)}"><h3 class="error">${e(label)}</h3><p class="error">${e(h.error ?? 'could not be checked')}</p></section>`;
  const notable = notableFindings(h);
  const ok = h.findings.filter((f) => !notable.includes(f));
  const parts = [`<section class="host" data-host="${e(h.name)}"><h3 class="${h.status}">${e(label)}</h3>`];
  if (notable.length > 0) parts.push(`<table>${HEAD}${notable.map(row).join('')}</table>`);
  if (ok.length > 0) parts.push(`<details class="ok-rows"><summary class="ok">${ok.length} ok check${ok.length === 1 ? '' : 's'}</summary><table>${HEAD}${ok.map(row).join('')}</table></details>`);
  if (h.findings.length === 0) parts.push('<p class="muted">no findings</p>');
  parts.push('</section>');
  return parts.join('');
}

/** The page a section at a time: the head, the summary parts, then a host section per chunk. */
export function* htmlChunks(report: Report): Generator<string> {
  const verdict = verdictLine(report);
  yield `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>kdrift report${report.stack ? ` — ${e(report.stack)}` : ''}</title>
<style>${CSS}</style>
</head>
<body>
`;
  yield `<h1>kdrift report${report.stack ? ` — stack ${e(report.stack)}` : ''}</h1>`;
  yield `\n<div id="verdict" class="banner banner-${verdict.level}" role="status">${e(verdict.text)}</div>`;
  yield `\n<p class="muted">${e(summaryLine(report))}. Generated ${e(report.generatedAt)}.</p>`;
  if (report.rootCauses.length > 0) {
    yield `\n<h2>Root causes (${report.rootCauses.length})</h2>`;
    for (const [i, c] of report.rootCauses.entries()) {
      const reach = rootCauseReach(c);
      yield `\n<div class="cause sev-${c.severity}" data-host="${e(c.host)}" data-key="${e(c.key)}"><b>${i + 1}. [${e(c.severity)}] ${e(rootCauseTitle(c))}</b>` +
        (reach ? `<div>${e(reach)}</div>` : '') +
        `<div>Next step: <span class="next next-${c.nextStep.kind}">${e(c.nextStep.text)}</span></div></div>`;
    }
  }
  if ((report.legs ?? []).length > 0 || report.hosts.length > 1) {
    yield '\n<h2>Fleet</h2>';
    yield '\n';
    yield* fleetSvgChunks(report);
  }
  for (const w of warningsOf(report)) yield `\n<p class="unknown warning">Warning: ${e(w)}</p>`;
  for (const x of report.expiredSuppressions ?? []) {
    yield `\n<p class="unknown">Suppression expired on ${e(x.expires)} (${e(x.source)}: ${e(x.reason)}): ${x.matched} finding(s) count again.</p>`;
  }
  if (report.changes) yield `\n${changesHtml(report)}`;
  const hosts = orderedHosts(report);
  const attention = hosts.filter((h) => h.status !== 'ok');
  const clean = hosts.filter((h) => h.status === 'ok');
  if (attention.length > 0) {
    yield '\n<h2>Hosts that need attention</h2>';
    for (const h of attention) yield `\n${hostSection(h)}`;
  }
  if (clean.length > 0) {
    yield `\n<details class="ok-hosts"><summary class="ok">${clean.length} host${clean.length === 1 ? '' : 's'} ok: ${e(clean.map((h) => h.name).join(', '))}</summary>`;
    for (const h of clean) yield hostSection(h);
    yield '</details>';
  }
  yield '\n</body>\n</html>\n';
}
