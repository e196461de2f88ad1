/**
 * Each format against its real consumer: promtool for the textfile, xmllint + the Jenkins JUnit XSD for junit.xml,
 * ajv + the shipped JSON Schema for JSON (and that schema is what scripts/gen-schema.ts generates today).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fixedReport } from '../fixtures/report/fixed-report.js';
import { render } from '../../core/render/index.js';
import type { Report } from '../../core/report.js';
import { promtoolCheck, validateReportJson, xmllintJunit, REPORT_SCHEMA } from '../support/conformance.js';
import { reportJsonSchemaText } from '../../scripts/gen-schema.js';

const clean: Report = {
  ...fixedReport,
  rootCauses: [],
  summary: { hosts: 1, drifted: 0, errors: 0, findings: 0, suppressed: 0, unknown: 0, rootCauses: 0, consequences: 0 },
  hosts: [{ name: 'lb', roles: ['load-balancer'], status: 'ok', findings: [{ host: 'lb', check: 'sysctl', key: 'net.ipv4.tcp_sack', layer: 'runtime', status: 'ok', expected: '= 1', actual: '1', severity: 'high' }] }],
};
delete (clean as Partial<Report>).legs;
delete (clean as Partial<Report>).expiredSuppressions;
const reports: Array<[string, Report]> = [['fixed', fixedReport], ['clean', clean]];

describe('report formats pass their real consumers', function () {
  this.timeout(60_000);
  for (const [name, report] of reports) {
    it(`${name}: the Prometheus textfile passes promtool check metrics`, async () => {
      const res = await promtoolCheck(render(report, 'prom'));
      assert.equal(res.stdout + res.stderr, '');
      assert.equal(res.code, 0);
    });
    it(`${name}: junit.xml is valid against the Jenkins junit-10.xsd (xmllint --schema)`, async () => {
      const res = await xmllintJunit(render(report, 'junit'));
      assert.equal(res.code, 0, res.stderr);
      assert.match(res.stderr, /validates/);
    });
    it(`${name}: the JSON report validates against schema/report-v2.json (ajv)`, async () => {
      assert.deepEqual(await validateReportJson(render(report, 'json')), []);
    });
  }
  it('the oracles can fail: promtool flags a gauge named like a counter, xmllint a timestamp on testsuites, ajv an unknown field', async () => {
    const bad = await promtoolCheck('# HELP kdrift_findings_total x\n# TYPE kdrift_findings_total gauge\nkdrift_findings_total 1\n');
    assert.match(bad.stdout + bad.stderr, /non-counter metrics should not have "_total" suffix/);
    const junit = render(fixedReport, 'junit').replace('<testsuites name="kdrift"', '<testsuites name="kdrift" timestamp="2026-01-01T00:00:00"');
    assert.notEqual((await xmllintJunit(junit)).code, 0);
    const json = JSON.parse(render(fixedReport, 'json')) as Record<string, unknown>;
    assert.ok((await validateReportJson(JSON.stringify({ ...json, surprise: 1 }))).length > 0);
    const noVersion = { ...json };
    delete noVersion.version;
    assert.ok((await validateReportJson(JSON.stringify(noVersion))).length > 0);
  });
  it('schema/report-v2.json is what scripts/gen-schema.ts generates from core/report.ts (run it after changing the types)', () => {
    assert.equal(readFileSync(REPORT_SCHEMA, 'utf8'), reportJsonSchemaText());
  });
  it('junit testcase names are unique within each suite and every testcase has a time', () => {
    const xml = render(fixedReport, 'junit');
    for (const suite of xml.split('<testsuite ').slice(1)) {
      const names = [...suite.matchAll(/<testcase [^>]*name="([^"]*)"/g)].map((m) => m[1]);
      assert.equal(new Set(names).size, names.length, `duplicate testcase names: ${names.join(', ')}`);
    }
    const cases = [...xml.matchAll(/<testcase [^>]*>/g)].map((m) => m[0]);
    assert.ok(cases.length > 0 && cases.every((c) => / time="\d+\.\d{3}"/.test(c)));
  });
});
