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

/** The Markdown a line at a time. */
export function* markdownChunks(report: Report): Generator<string> {
  const s = report.summary;
  const icon = s.errors > 0 ? '❌' : s.findings > 0 ? '⚠️' : '✅';
  yield `## ${icon} kdrift report${report.stack ? ` — stack \`${report.stack}\`` : ''}\n`;
  yield '\n';
  yield `**${mdCell(verdictLine(report).text)}**\n`;
  yield '\n';
  yield `${summaryLine(report)}. Generated ${report.generatedAt}.\n`;
  yield '\n';
  if (report.rootCauses.length > 0) {
    yield '### Root causes\n';
    yield '\n';
    yield '| # | Severity | Root cause | Explains | Next step |\n';
    yield '|---|---|---|---|---|\n';
    for (const [i, c] of report.rootCauses.entries()) {
      const next = c.nextStep.kind === 'command' ? `\`${c.nextStep.text.replace(/`/g, '')}\`` : mdCell(c.nextStep.text);
      yield `| ${i + 1} | ${c.severity} | ${mdCell(rootCauseTitle(c))} | ${mdCell(rootCauseReach(c))} | ${next} |\n`;
    }
    yield '\n';
  }
  const hosts = orderedHosts(report);
  const errors = hosts.filter((h) => h.status === 'error');
  if (errors.length > 0) {
    yield '### Hosts that could not be checked\n';
    yield '\n';
    for (const h of errors) yield `- **${mdCell(h.name)}**: ${mdCell(h.error ?? 'could not be checked')}\n`;
    yield '\n';
  }
  const rows = hosts.flatMap((h) => notableFindings(h).map((f) => ({ h, f })));
  if (rows.length > 0) {
    yield '### Findings\n';
    yield '\n';
    yield '| Host | Check | Key | Layer | Status | Expected | Actual | Severity | Detail |\n';
    yield '|---|---|---|---|---|---|---|---|---|\n';
    for (const { h, f } of rows) {
      const st = shownStatus(f);
      const cells = [h.name, f.check, f.key, f.layer, st === 'drift' ? '**drift**' : st, f.expected, actualText(f), f.severity, detailText(f)];
      yield `| ${cells.map((c, i) => (i === 4 ? c : mdCell(c))).join(' | ')} |\n`;
    }
    yield '\n';
  } else if (errors.length === 0) {
    yield 'No drift: every declared value is in place.\n';
    yield '\n';
  }
  yield '### Hosts\n';
  yield '\n';
  yield '| Host | Roles | Status | Verdict | Findings |\n';
  yield '|---|---|---|---|---|\n';
  for (const h of hosts) {
    yield `| ${mdCell(h.name)} | ${mdCell(h.roles.join(', '))} | ${h.status} | ${mdCell(h.verdict ?? '')} | ${h.findings.length} |\n`;
  }
  for (const w of warningsOf(report)) {
    yield '\n';
    yield `> Warning: ${mdCell(w)}\n`;
  }
  for (const e of report.expiredSuppressions ?? []) {
    yield '\n';
    yield `> Suppression expired on ${e.expires} (${mdCell(e.source)}: ${mdCell(e.reason)}): ${e.matched} finding(s) count again.\n`;
  }
  for (const line of changesMarkdown(report, mdCell)) yield `${line}\n`;
}
