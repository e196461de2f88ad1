/**
 * JUnit XML for CI test tabs: one <testsuite> per host, one <testcase> per host × check × key × layer.
 * drift → <failure>; unknown → <skipped> with the reason; suppressed → <skipped> naming the suppression;
 * a host that could not be checked → one testcase "host reachable" with an <error>.
 */
import type { Finding } from '../finding.js';
import type { Report } from '../report.js';
import { changesJunit, driftFailureType } from './changes.js';
import { actualText, detailText, orderedHosts } from './common.js';
import { escapeXml as x } from './xml-escape.js';

function testcase(host: string, f: Finding): string {
  const name = `${f.key} [${f.layer}]`;
  const open = `    <testcase classname="kdrift.${x(host)}.${x(f.check)}" name="${x(name)}">`;
  const what = `expected ${f.expected}, found ${actualText(f)}`;
  if (f.suppressed && f.status !== 'ok') {
    return `${open}\n      <skipped message="${x(`suppressed (${f.status}): ${f.suppressed.reason}`)}"/>\n    </testcase>`;
  }
  if (f.status === 'drift') {
    const body = [what, detailText(f)].filter((s) => s.length > 0).join('\n');
    return `${open}\n      <failure type="${driftFailureType(f)}" message="${x(`${f.severity}: ${what}`)}">${x(body)}</failure>\n    </testcase>`;
  }
  if (f.status === 'unknown') {
    return `${open}\n      <skipped message="${x(`unknown: ${f.reason ?? 'could not be determined'}`)}"/>\n    </testcase>`;
  }
  return `${open}</testcase>`;
}

export function renderJunit(report: Report): string {
  const suites: string[] = [];
  let tests = 0;
  let failures = 0;
  let errors = 0;
  let skipped = 0;
  for (const h of orderedHosts(report)) {
    const seconds = ((h.durationMs ?? 0) / 1000).toFixed(3);
    if (h.status === 'error') {
      tests += 1;
      errors += 1;
      suites.push(
        `  <testsuite name="${x(h.name)}" tests="1" failures="0" errors="1" skipped="0" time="${seconds}">\n` +
          `    <testcase classname="kdrift.${x(h.name)}" name="host reachable">\n` +
          `      <error type="host-error" message="${x(h.error ?? 'could not be checked')}">${x(h.error ?? '')}</error>\n` +
          `    </testcase>\n  </testsuite>`,
      );
      continue;
    }
    const f = h.findings;
    const nf = f.filter((a) => a.status === 'drift' && !a.suppressed).length;
    const ns = f.filter((a) => a.status === 'unknown' || (a.suppressed && a.status !== 'ok')).length;
    tests += f.length;
    failures += nf;
    skipped += ns;
    suites.push(
      `  <testsuite name="${x(h.name)}" tests="${f.length}" failures="${nf}" errors="0" skipped="${ns}" time="${seconds}">\n` +
        `    <properties><property name="roles" value="${x(h.roles.join(','))}"/>${h.verdict ? `<property name="verdict" value="${x(h.verdict)}"/>` : ''}</properties>\n` +
        f.map((a) => `${testcase(h.name, a)}\n`).join('') +
        `  </testsuite>`,
    );
  }
  const changes = changesJunit(report);
  if (changes) {
    suites.push(changes.suite);
    tests += changes.tests;
  }
  const total = ((report.durationMs ?? 0) / 1000).toFixed(3);
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<testsuites name="kdrift" tests="${tests}" failures="${failures}" errors="${errors}" skipped="${skipped}" time="${total}" timestamp="${x(report.generatedAt)}">\n` +
    suites.map((s) => `${s}\n`).join('') +
    `</testsuites>\n`
  );
}
