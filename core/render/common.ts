/** Shared helpers for the renderers: which findings to show and how a finding's cells read. */
import type { Finding } from '../finding.js';
import { terminalSafeLine } from '../terminal-text.js';
import type { HostReport, Report } from '../report.js';

export type RenderFormat = 'text' | 'json' | 'md' | 'junit' | 'html' | 'prom';
export const RENDER_FORMATS: readonly RenderFormat[] = ['text', 'json', 'md', 'junit', 'html', 'prom'];

/** What a person needs to see: everything that is not plainly ok (drift, unknown, suppressed). */
export function notableFindings(h: HostReport): Finding[] {
  return h.findings.filter((f) => f.status !== 'ok' || f.suppressed !== undefined);
}

/** Status as shown: `drift`, `unknown`, `suppressed` (a suppressed drift/unknown), `ok`. */
export function shownStatus(f: Finding): 'ok' | 'drift' | 'unknown' | 'suppressed' {
  if (f.suppressed !== undefined && f.status !== 'ok') return 'suppressed';
  return f.status;
}

export function actualText(f: Finding): string {
  return f.actual ?? '—';
}

/** The "why" cell: file:line for persisted findings, the reason, and the suppression if any. */
export function detailText(f: Finding): string {
  const parts: string[] = [];
  if (f.source) parts.push(f.source);
  if (f.reason && f.status !== 'ok') parts.push(f.reason);
  if (f.suppressed) parts.push(`suppressed: ${f.suppressed.reason} (${f.suppressed.source}${f.suppressed.expires ? `, until ${f.suppressed.expires}` : ''})`);
  return parts.join('; ');
}

export function summaryLine(r: Report): string {
  const s = r.summary;
  return `${s.hosts} host${s.hosts === 1 ? '' : 's'}: ${s.drifted} drifted, ${s.errors} error${s.errors === 1 ? '' : 's'}; ${s.findings} drift finding${s.findings === 1 ? '' : 's'}, ${s.unknown} unknown, ${s.suppressed} suppressed`;
}

/** Hosts in a stable order: errors first, then drift, then ok; by name within each. */
export function orderedHosts(r: Report): HostReport[] {
  const rank = { error: 0, drift: 1, ok: 2 } as const;
  return [...r.hosts].sort((a, b) => rank[a.status] - rank[b.status] || a.name.localeCompare(b.name));
}

/**
 * One line of terminal/Markdown-safe text: newlines shown as " / ", every other control character (ESC included, so a
 * hostile host cannot inject terminal escape sequences) shown as an escape such as `\x1b` (core/terminal-text.ts).
 */
export function oneLine(s: string): string {
  return terminalSafeLine(s.replace(/\r?\n/g, ' / '));
}
