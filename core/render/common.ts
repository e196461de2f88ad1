/** Shared helpers for the renderers: which findings to show and how a finding's cells read. */
import type { Explanation, Finding } from '../finding.js';
import { terminalSafeLine } from '../terminal-text.js';
import type { HostReport, Report, RootCause } from '../report.js';

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

/** "explained by lb: net.ipv4.tcp_window_scaling = 0 (/etc/sysctl.d/90-harden.conf:2)" (or "by this host"). */
export function explanationText(e: Explanation, host?: string): string {
  const who = e.host === host ? 'this host' : e.host;
  return `explained by ${who}: ${e.key} = ${e.value ?? '?'}${e.source ? ` (${e.source})` : ''}`;
}

/** The "why" cell: the explanation first, file:line for persisted findings, the reason, and the suppression if any. */
export function detailText(f: Finding): string {
  const parts: string[] = [];
  if (f.explainedBy) parts.push(explanationText(f.explainedBy, f.host));
  if (f.source) parts.push(f.source);
  if (f.reason && f.status !== 'ok') parts.push(f.reason);
  if (f.suppressed) parts.push(`suppressed: ${f.suppressed.reason} (${f.suppressed.source}${f.suppressed.expires ? `, until ${f.suppressed.expires}` : ''})`);
  return parts.join('; ');
}

const plural = (n: number, word: string, many = `${word}s`) => `${n} ${n === 1 ? word : many}`;

export function summaryLine(r: Report): string {
  const s = r.summary;
  return (
    `${plural(s.hosts, 'host')}: ${s.drifted} drifted, ${plural(s.errors, 'error')}; ${plural(s.rootCauses, 'root cause')}, ` +
    `${plural(s.consequences, 'consequence')}; ${plural(s.findings, 'drift finding')}, ${s.unknown} unknown, ${s.suppressed} suppressed`
  );
}

/**
 * The one-line verdict an on-call engineer reads first: what is wrong and where, or that nothing is.
 * `level` says how to colour it.
 */
export function verdictLine(r: Report): { level: 'ok' | 'drift' | 'error'; text: string } {
  const s = r.summary;
  const errors = r.hosts.filter((h) => h.status === 'error').map((h) => h.name);
  const errText = errors.length > 0 ? `${plural(errors.length, 'host')} could not be checked (${errors.join(', ')})` : '';
  if (r.rootCauses.length === 0) {
    if (errors.length > 0) return { level: 'error', text: `${errText}; no drift on the others` };
    const probe = r.probe ? ' and behaviour matches' : '';
    return { level: 'ok', text: `No drift: ${plural(s.hosts, 'host')} checked, every declared value is in place${probe}.` };
  }
  const top = r.rootCauses[0] as RootCause;
  const more = r.rootCauses.length > 1 ? `, and ${plural(r.rootCauses.length - 1, 'other root cause')}` : '';
  const explains = top.explains.hosts.length > 0 ? ` — explains ${plural(top.explains.findings, 'finding')} on ${top.explains.hosts.join(', ')}` : '';
  const text = `Drift: ${rootCauseTitle(top)}${explains}${more}.${errText ? ` ${errText}.` : ''}`;
  return { level: errors.length > 0 ? 'error' : 'drift', text };
}

/** "lb: net.ipv4.tcp_window_scaling = 0, expected = 1 (runtime, persisted: /etc/sysctl.d/90-harden.conf:2)". */
export function rootCauseTitle(c: RootCause): string {
  const where = c.layers.join(', ') + (c.source ? `: ${c.source}` : '');
  const what = c.check === 'sysctl' ? `${c.key} = ${c.actual ?? '?'}, expected ${c.expected}` : `${c.check} ${c.key} ${c.actual ?? '?'}, expected ${c.expected}`;
  return `${c.host}: ${what} (${where})`;
}

/** "explains app1, app2 (2 findings, 60 connections); shown on lb by tcp.windowScaling port 80". */
export function rootCauseReach(c: RootCause): string {
  const parts: string[] = [];
  if (c.explains.hosts.length > 0) parts.push(`explains ${c.explains.hosts.join(', ')} (${plural(c.explains.findings, 'finding')}, ${plural(c.explains.connections, 'connection')})`);
  else if (c.explains.connections > 0) parts.push(plural(c.explains.connections, 'connection'));
  if (c.explains.ownBehaviour.length > 0) parts.push(`shown on ${c.host} by ${c.explains.ownBehaviour.join(', ')}`);
  return parts.join('; ');
}

/** The root cause a config finding belongs to (same host and key), for its next step. */
export function rootCauseOf(r: Report, f: Finding): RootCause | undefined {
  return r.rootCauses.find((c) => c.host === f.host && c.key === f.key && c.check === f.check);
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

/** Warnings as lines: "lb: skipped /etc/sysctl.d/99-junk.conf: binary data". */
export function warningsOf(r: Report): string[] {
  return r.hosts.flatMap((h) => (h.warnings ?? []).map((w) => `${h.name}: skipped ${w.file}: ${w.reason}`));
}
