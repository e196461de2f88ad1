/**
 * What changed since the previous report (core/report-diff.ts) on the fixed report: ids stable across runs, new /
 * still drifting / resolved / unverified, and every format showing the changes (JUnit by expat, Prometheus by promtool).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fixedReport } from '../fixtures/report/fixed-report.js';
import { assignFindingIds, diffReports, findingId, parsePreviousReport } from '../../core/report-diff.js';
import { render, RENDER_FORMATS } from '../../core/render/index.js';
import type { Report } from '../../core/report.js';
import { KdriftError } from '../../core/errors.js';

const clone = (r: Report): Report => structuredClone(r);
const previousOf = (r: Report) => parsePreviousReport(render(assignFindingIds(clone(r)), 'json'), 'previous.json');

/** Sets one finding's status/actual (host, key, layer) in a copy. */
function withFinding(r: Report, host: string, key: string, layer: string, status: 'ok' | 'drift', actual: string): Report {
  const out = clone(r);
  const f = out.hosts.find((h) => h.name === host)?.findings.find((x) => x.key === key && x.layer === layer);
  assert.ok(f, `${host} ${key} ${layer} in the fixture`);
  f.status = status;
  f.actual = actual;
  const h = out.hosts.find((x) => x.name === host);
  if (h && h.status !== 'error') h.status = h.findings.some((x) => x.status === 'drift' && !x.suppressed) ? 'drift' : 'ok';
  return out;
}

describe('report diff (what changed since the previous report)', () => {
  it('finding_ids_are_stable_hashes_of_host_check_key_layer', () => {
    const a = assignFindingIds(clone(fixedReport));
    const b = assignFindingIds(clone(fixedReport));
    const ids = a.hosts.flatMap((h) => h.findings.map((f) => f.id));
    assert.deepEqual(ids, b.hosts.flatMap((h) => h.findings.map((f) => f.id)));
    assert.equal(new Set(ids).size, ids.length, 'unique within a report');
    for (const id of ids) assert.match(id ?? '', /^[0-9a-f]{16}$/);
    assert.notEqual(findingId({ host: 'lb', check: 'sysctl', key: 'k', layer: 'runtime' }), findingId({ host: 'lb', check: 'sysctl', key: 'k', layer: 'persisted' }));
  });

  it('same_report_twice_every_drift_is_still_drifting_nothing_new_or_resolved', () => {
    const r = diffReports(clone(fixedReport), previousOf(fixedReport));
    const drifting = r.hosts.flatMap((h) => h.findings.filter((f) => f.status === 'drift' && !f.suppressed));
    assert.ok(drifting.length > 0);
    assert.deepEqual(r.changes?.new, []);
    assert.deepEqual(r.changes?.resolved, []);
    assert.equal(r.changes?.stillDrifting.length, drifting.length);
    for (const f of drifting) assert.equal(f.change, 'still drifting');
  });

  it('fixed_key_is_resolved_new_drift_is_new_errored_host_is_unverified_not_resolved', () => {
    // previous: lb runtime drift (fixture) + app1 somaxconn-like drift made up here; app2 errored in the fixture.
    const app1 = fixedReport.hosts.find((h) => h.name === 'app1');
    const app1Finding = app1?.findings.find((f) => f.layer === 'runtime');
    assert.ok(app1Finding);
    const before = withFinding(withFinding(fixedReport, 'lb', 'net.ipv4.tcp_window_scaling', 'runtime', 'drift', '0'), 'app1', app1Finding.key, 'runtime', 'drift', '1');
    // now: lb's runtime fixed, app1's drift gone, and client drifts somewhere new (if it has findings) — use lb persisted as the still one.
    const now = withFinding(withFinding(fixedReport, 'lb', 'net.ipv4.tcp_window_scaling', 'runtime', 'ok', '1'), 'app1', app1Finding.key, 'runtime', 'ok', app1Finding.expected);
    const prev = parsePreviousReport(render(assignFindingIds(before), 'json'), 'prev.json');
    // app2 errors in the fixture: give it a drift in the previous report to see it come back as unverified
    prev.hosts.push({ name: 'app2', status: 'drift', findings: [{ host: 'app2', check: 'sysctl', key: 'net.core.somaxconn', layer: 'runtime', status: 'drift', severity: 'medium', expected: '>= 4096', actual: '128' }] });
    const r = diffReports(now, prev);
    const c = r.changes;
    assert.ok(c);
    const resolvedKeys = c.resolved.map((x) => `${x.host} ${x.key} ${x.layer} ${x.now ?? 'absent'}`).sort();
    assert.deepEqual(resolvedKeys, [`app1 ${app1Finding.key} runtime ok`, 'lb net.ipv4.tcp_window_scaling runtime ok'].sort());
    assert.deepEqual(c.unverified, [findingId({ host: 'app2', check: 'sysctl', key: 'net.core.somaxconn', layer: 'runtime' })]);
    const lbPersisted = r.hosts.find((h) => h.name === 'lb')?.findings.find((f) => f.key === 'net.ipv4.tcp_window_scaling' && f.layer === 'persisted');
    assert.equal(lbPersisted?.change, 'still drifting');
    const behaviour = r.hosts.find((h) => h.name === 'lb')?.findings.find((f) => f.layer === 'behaviour');
    assert.equal(behaviour?.change, before.hosts.find((h) => h.name === 'lb')?.findings.find((f) => f.layer === 'behaviour')?.status === 'drift' ? 'still drifting' : 'new');
  });

  it('every_format_shows_the_changes_and_prometheus_passes_promtool', () => {
    const now = withFinding(fixedReport, 'lb', 'net.ipv4.tcp_window_scaling', 'runtime', 'ok', '1');
    const r = diffReports(now, previousOf(fixedReport));
    assert.ok((r.changes?.resolved.length ?? 0) >= 1);
    for (const f of RENDER_FORMATS) assert.match(render(r, f), /resolved/, f);
    assert.match(render(r, 'text'), /^Changes: \d+ new, \d+ still drifting, 1 resolved/m);
    assert.match(render(r, 'json'), /"change": "still drifting"/);
    const prom = render(r, 'prom');
    assert.match(prom, /^kdrift_changes\{change="resolved"\} 1$/m);
    // promtool is the oracle for the exposition format (lint problems exit non-zero too)
    execFileSync('promtool', ['check', 'metrics'], { input: prom });
    const xml = render(r, 'junit');
    execFileSync('python3', ['-c', 'import sys, xml.dom.minidom; xml.dom.minidom.parseString(sys.stdin.buffer.read())'], { input: xml });
    assert.match(xml, /<testcase classname="kdrift\.lb\.sysctl" name="resolved: net\.ipv4\.tcp_window_scaling \[runtime\]"\/>/);
    assert.match(xml, /<failure type="still drifting"/);
  });

  it('a_previous_file_that_is_not_a_report_is_one_clear_error_naming_the_file', () => {
    assert.throws(() => parsePreviousReport('{', 'old.json'), (e: unknown) => e instanceof KdriftError && /old\.json/.test(e.message) && /not a JSON report/.test(e.message));
    assert.throws(() => parsePreviousReport('{"hosts": 3}', 'old.json'), (e: unknown) => e instanceof KdriftError && /not a kdrift JSON report/.test(e.message));
  });
});
