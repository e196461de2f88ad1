/** Human text: a summary line and one table of what needs attention. Colours only when the caller says so. */
import type { Report } from '../report.js';
import { changesText } from './changes.js';
import { actualText, detailText, notableFindings, oneLine, orderedHosts, rootCauseReach, rootCauseTitle, shownStatus, summaryLine, verdictLine, warningsOf } from './common.js';

export interface TextOptions {
  /** ANSI colours (the CLI passes true only for a TTY without NO_COLOR). */
  color?: boolean;
  /** List ok findings too. */
  verbose?: boolean;
}

const ANSI = { red: '\x1b[31m', yellow: '\x1b[33m', green: '\x1b[32m', dim: '\x1b[2m', bold: '\x1b[1m', reset: '\x1b[0m' };

/** The text a line at a time (the table's widths are measured over its rows first). */
export function* textChunks(report: Report, opts: TextOptions = {}): Generator<string> {
  const paint = (code: keyof typeof ANSI, s: string) => (opts.color ? `${ANSI[code]}${s}${ANSI.reset}` : s);
  const statusColour = { drift: 'red', error: 'red', unknown: 'yellow', suppressed: 'dim', ok: 'green' } as const;
  yield `${paint('bold', `kdrift report${report.stack ? ` (stack ${report.stack})` : ''} — ${report.generatedAt}`)}\n`;
  const verdict = verdictLine(report);
  yield `${paint(verdict.level === 'ok' ? 'green' : 'red', oneLine(verdict.text))}\n`;
  yield `${summaryLine(report)}\n`;
  yield '\n';
  // Root causes first, most important first, each with the next step: what an on-call engineer acts on.
  if (report.rootCauses.length > 0) {
    yield `${paint('bold', `Root causes (${report.rootCauses.length}):`)}\n`;
    for (const [i, c] of report.rootCauses.entries()) {
      yield `${paint('red', oneLine(`  ${i + 1}. [${c.severity}] ${rootCauseTitle(c)}`))}\n`;
      const reach = rootCauseReach(c);
      if (reach) yield `${oneLine(`     ${reach}`)}\n`;
      yield `${paint('bold', oneLine(`     next: ${c.nextStep.text}`))}\n`;
    }
    yield '\n';
  }

  const header = ['HOST', 'CHECK', 'KEY', 'LAYER', 'STATUS', 'EXPECTED', 'ACTUAL', 'DETAIL'];
  const rows: { cells: string[]; status: keyof typeof statusColour }[] = [];
  const push = (cells: string[], status: keyof typeof statusColour) => rows.push({ cells: cells.map(oneLine), status });
  for (const h of orderedHosts(report)) {
    if (h.status === 'error') {
      push([h.name, '-', '-', '-', 'error', '-', '-', h.error ?? 'could not be checked'], 'error');
      continue;
    }
    const shown = opts.verbose ? h.findings : notableFindings(h);
    for (const f of shown) {
      const st = shownStatus(f);
      push([h.name, f.check, f.key, f.layer, st, f.expected, actualText(f), detailText(f)], st);
    }
  }
  if (rows.length === 0) {
    yield `${paint('green', 'No drift: every declared value is in place.')}\n`;
  } else {
    const widths = header.map((hd, i) => Math.max(hd.length, ...rows.map((r) => (i === header.length - 1 ? 0 : (r.cells[i] as string).length))));
    const fmt = (cells: string[]) =>
      cells
        .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] as number)))
        .join('  ')
        .trimEnd();
    yield `${paint('bold', fmt(header))}\n`;
    for (const r of rows) {
      const text = fmt(r.cells);
      yield `${r.status === 'ok' ? text : paint(statusColour[r.status], text)}\n`;
    }
  }
  // Per host: every host that is not ok (and, verbose, every host); a fleet of 1,000 clean hosts is one line.
  yield '\n';
  yield 'Hosts:\n';
  let okCount = 0;
  for (const h of orderedHosts(report)) {
    if (h.status === 'ok' && !opts.verbose) {
      okCount += 1;
      continue;
    }
    const n = h.findings.length;
    const st = h.status === 'ok' ? `ok (${n} check${n === 1 ? '' : 's'})` : h.status;
    const verdict = h.verdict && h.verdict !== 'ok' ? ` — ${h.verdict}` : '';
    const why = h.status === 'error' ? `: ${h.error ?? 'could not be checked'}` : '';
    yield `${paint(h.status === 'ok' ? 'green' : 'red', oneLine(`  ${h.name} [${h.roles.join(', ')}]: ${st}${verdict}${why}`))}\n`;
  }
  if (okCount > 0) yield `${paint('green', `  ${okCount} host${okCount === 1 ? '' : 's'} ok`)}\n`;
  for (const w of warningsOf(report)) yield `${paint('yellow', oneLine(`warning: ${w}`))}\n`;
  for (const e of report.expiredSuppressions ?? []) {
    yield `${paint('yellow', oneLine(`Suppression expired on ${e.expires} (${e.source}: ${e.reason}): ${e.matched} finding${e.matched === 1 ? '' : 's'} count again`))}\n`;
  }
  for (const line of changesText(report)) yield `${line}\n`;
}
