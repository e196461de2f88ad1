/**
 * JUnit XML for CI test tabs, valid against the Jenkins xUnit junit-10.xsd (test/fixtures/junit/): one <testsuite> per
 * host, one <testcase> per host × check × key × layer, each name unique within its suite.
 * drift → <failure> (a root cause's body names the next step; a consequence's message names the host that explains
 * it); unknown → <skipped> with the reason; suppressed → <skipped> naming the suppression; a host that could not be
 * checked → one testcase "host reachable" with an <error>. A testcase's `time` is its host's wall time shared evenly:
 * kdrift collects a host's state in one go, not per key.
 */
import type { Finding } from '../finding.js';
import type { Report } from '../report.js';
import { changesJunit, driftFailureType } from './changes.js';
import { actualText, detailText, explanationText, orderedHosts, rootCauseOf } from './common.js';
import { escapeXml as x } from './xml-escape.js';

function testcase(report: Report, host: string, f: Finding, name: string, seconds: string): string {
  const open = `    <testcase classname="kdrift.${x(host)}.${x(f.check)}" name="${x(name)}" time="${seconds}">`;
  const what = `expected ${f.expected}, found ${actualText(f)}`;
  if (f.suppressed && f.status !== 'ok') {
    return `${open}\n      <skipped message="${x(`suppressed (${f.status}): ${f.suppressed.reason}`)}"/>\n    </testcase>`;
  }
  if (f.status === 'drift') {
    const cause = rootCauseOf(report, f);
    const next = cause ? `next: ${cause.nextStep.text}` : '';
    const body = [what, detailText(f), next].filter((s) => s.length > 0).join('\n');
    const consequence = f.explainedBy && f.explainedBy.host !== host ? `${explanationText(f.explainedBy)}; ` : '';
    return `${open}\n      <failure type="${driftFailureType(f)}" message="${x(`${f.severity}: ${consequence}${what}`)}">${x(body)}</failure>\n    </testcase>`;
  }
  if (f.status === 'unknown') {
    return `${open}\n      <skipped message="${x(`unknown: ${f.reason ?? 'could not be determined'}`)}"/>\n    </testcase>`;
  }
  return `${open}</testcase>`;
}

/** JUnit's totals head the document, so they are counted first (a pass over the findings, no text). */
function totals(report: Report): { tests: number; failures: number; errors: number } {
  let tests = 0;
  let failures = 0;
  let errors = 0;
  for (const h of report.hosts) {
    if (h.status === 'error') {
      tests += 1;
      errors += 1;
      continue;
    }
    tests += h.findings.length;
    failures += h.findings.filter((a) => a.status === 'drift' && !a.suppressed).length;
  }
  return { tests, failures, errors };
}

/** The document a suite (a host) at a time. */
export function* junitChunks(report: Report): Generator<string> {
  const changes = changesJunit(report);
  const t = totals(report);
  const total = ((report.durationMs ?? 0) / 1000).toFixed(3);
  yield `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<testsuites name="kdrift" tests="${t.tests + (changes?.tests ?? 0)}" failures="${t.failures}" errors="${t.errors}" time="${total}">\n`;
  // The schema has no timestamp on <testsuites>: each suite carries the run's start (no zone suffix, as Ant writes it).
  const stamp = x(report.generatedAt.replace(/\.\d+Z$|Z$/, ''));
  for (const h of orderedHosts(report)) {
    const seconds = ((h.durationMs ?? 0) / 1000).toFixed(3);
    if (h.status === 'error') {
      yield `  <testsuite name="${x(h.name)}" tests="1" failures="0" errors="1" skipped="0" time="${seconds}" timestamp="${stamp}">\n` +
        `    <testcase classname="kdrift.${x(h.name)}" name="host reachable" time="${seconds}">\n` +
        `      <error type="host-error" message="${x(h.error ?? 'could not be checked')}">${x(h.error ?? '')}</error>\n` +
        `    </testcase>\n  </testsuite>\n`;
      continue;
    }
    const f = h.findings;
    const nf = f.filter((a) => a.status === 'drift' && !a.suppressed).length;
    const ns = f.filter((a) => a.status === 'unknown' || (a.suppressed && a.status !== 'ok')).length;
    const each = f.length > 0 ? ((h.durationMs ?? 0) / 1000 / f.length).toFixed(3) : '0.000';
    const names = uniqueNames(f);
    yield `  <testsuite name="${x(h.name)}" tests="${f.length}" failures="${nf}" errors="0" skipped="${ns}" time="${seconds}" timestamp="${stamp}">\n` +
      `    <properties><property name="roles" value="${x(h.roles.join(','))}"/>${h.verdict ? `<property name="verdict" value="${x(h.verdict)}"/>` : ''}</properties>\n` +
      f.map((a, i) => `${testcase(report, h.name, a, names[i] as string, each)}\n`).join('') +
      // Skipped sysctl.d files: not a test of their own, but CI shows a suite's system-err beside its cases.
      (h.warnings?.length ? `    <system-err>${x(h.warnings.map((w) => `warning: skipped ${w.file}: ${w.reason}`).join('\n'))}</system-err>\n` : '') +
      `  </testsuite>\n`;
  }
  if (changes) yield `${changes.suite}\n`;
  yield `</testsuites>\n`;
}

/** `key [layer]` for sysctls, `check key [layer]` for behaviours (two checks may watch one port); `#2` if still equal. */
function uniqueNames(findings: readonly Finding[]): string[] {
  const seen = new Map<string, number>();
  return findings.map((f) => {
    const base = f.layer === 'behaviour' ? `${f.check} ${f.key} [${f.layer}]` : `${f.key} [${f.layer}]`;
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    return n === 1 ? base : `${base} #${n}`;
  });
}
