/** Markdown for a PR or issue comment: summary, a table of what needs attention, host errors, suppressions. */
import type { Report } from '../report.js';
import { changesMarkdown } from './changes.js';
import { actualText, detailText, notableFindings, orderedHosts, rootCauseReach, rootCauseTitle, shownStatus, summaryLine, verdictLine, warningsOf } from './common.js';

/** Table cells: pipes and newlines would break the row; backslash-escape the characters Markdown would interpret. */
export function mdCell(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s
    .replace(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/g, '')
    .replace(/[\\`*_{}[\]<>|#!~]/g, '\\$&')
    .replace(/\r?\n/g, '<br>');
}

export function renderMarkdown(report: Report): string {
  const out: string[] = [];
  const s = report.summary;
  const icon = s.errors > 0 ? '❌' : s.findings > 0 ? '⚠️' : '✅';
  out.push(`## ${icon} kdrift report${report.stack ? ` — stack \`${report.stack}\`` : ''}`);
  out.push('');
  out.push(`**${mdCell(verdictLine(report).text)}**`);
  out.push('');
  out.push(`${summaryLine(report)}. Generated ${report.generatedAt}.`);
  out.push('');
  if (report.rootCauses.length > 0) {
    out.push('### Root causes');
    out.push('');
    out.push('| # | Severity | Root cause | Explains | Next step |');
    out.push('|---|---|---|---|---|');
    report.rootCauses.forEach((c, i) => {
      const next = c.nextStep.kind === 'command' ? `\`${c.nextStep.text.replace(/`/g, '')}\`` : mdCell(c.nextStep.text);
      out.push(`| ${i + 1} | ${c.severity} | ${mdCell(rootCauseTitle(c))} | ${mdCell(rootCauseReach(c))} | ${next} |`);
    });
    out.push('');
  }
  const hosts = orderedHosts(report);
  const errors = hosts.filter((h) => h.status === 'error');
  if (errors.length > 0) {
    out.push('### Hosts that could not be checked');
    out.push('');
    for (const h of errors) out.push(`- **${mdCell(h.name)}**: ${mdCell(h.error ?? 'could not be checked')}`);
    out.push('');
  }
  const rows = hosts.flatMap((h) => notableFindings(h).map((f) => ({ h, f })));
  if (rows.length > 0) {
    out.push('### Findings');
    out.push('');
    out.push('| Host | Check | Key | Layer | Status | Expected | Actual | Severity | Detail |');
    out.push('|---|---|---|---|---|---|---|---|---|');
    for (const { h, f } of rows) {
      const st = shownStatus(f);
      const cells = [h.name, f.check, f.key, f.layer, st === 'drift' ? '**drift**' : st, f.expected, actualText(f), f.severity, detailText(f)];
      out.push(`| ${cells.map((c, i) => (i === 4 ? c : mdCell(c))).join(' | ')} |`);
    }
    out.push('');
  } else if (errors.length === 0) {
    out.push('No drift: every declared value is in place.');
    out.push('');
  }
  out.push('### Hosts');
  out.push('');
  out.push('| Host | Roles | Status | Verdict | Findings |');
  out.push('|---|---|---|---|---|');
  for (const h of hosts) {
    out.push(`| ${mdCell(h.name)} | ${mdCell(h.roles.join(', '))} | ${h.status} | ${mdCell(h.verdict ?? '')} | ${h.findings.length} |`);
  }
  for (const w of warningsOf(report)) {
    out.push('');
    out.push(`> Warning: ${mdCell(w)}`);
  }
  for (const e of report.expiredSuppressions ?? []) {
    out.push('');
    out.push(`> Suppression expired on ${e.expires} (${mdCell(e.source)}: ${mdCell(e.reason)}): ${e.matched} finding(s) count again.`);
  }
  out.push(...changesMarkdown(report, mdCell));
  return `${out.join('\n')}\n`;
}
