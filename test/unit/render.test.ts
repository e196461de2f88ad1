/**
 * Every renderer on one fixed Report. Text and Markdown against golden files (UPDATE_GOLDEN=1 rewrites them);
 * JUnit parsed by a strict XML parser (Python's expat, a well-formedness checker that is not ours); HTML checked
 * to be one file with nothing fetched and everything escaped; Prometheus parsed by a strict exposition-format reader.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fixedReport } from '../fixtures/report/fixed-report.js';
import { render, RENDER_FORMATS } from '../../core/render/index.js';

const GOLDEN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/report/golden');

function golden(name: string, actual: string): void {
  const file = path.join(GOLDEN, name);
  if (process.env.UPDATE_GOLDEN) writeFileSync(file, actual);
  assert.equal(actual, readFileSync(file, 'utf8'), `differs from ${file} (UPDATE_GOLDEN=1 to accept)`);
}

/** Strict XML parse by expat; returns per-suite counts so the structure can be asserted, throws if not well-formed. */
function parseJunit(xml: string): { tests: number; failures: number; errors: number; skipped: number; suites: { name: string; cases: number; failures: number; errors: number; skipped: number }[] } {
  const py = `
import sys, json, xml.dom.minidom
d = xml.dom.minidom.parseString(sys.stdin.buffer.read())
root = d.documentElement
assert root.tagName == 'testsuites', root.tagName
out = {k: int(root.getAttribute(k)) for k in ('tests','failures','errors')}
out['skipped'] = sum(int(s.getAttribute('skipped') or 0) for s in root.getElementsByTagName('testsuite'))
out['suites'] = [{'name': s.getAttribute('name'), 'cases': len(s.getElementsByTagName('testcase')),
  'failures': len(s.getElementsByTagName('failure')), 'errors': len(s.getElementsByTagName('error')),
  'skipped': len(s.getElementsByTagName('skipped'))} for s in root.getElementsByTagName('testsuite')]
print(json.dumps(out))
`;
  return JSON.parse(execFileSync('python3', ['-c', py], { input: xml }).toString());
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus text format 0.0.4, strictly: HELP/TYPE before a family's samples, families contiguous, labels escaped. */
function parseExposition(text: string): { types: Map<string, string>; samples: Sample[] } {
  assert.ok(text.endsWith('\n'), 'ends with a newline');
  const types = new Map<string, string>();
  const helps = new Set<string>();
  const samples: Sample[] = [];
  const seenSeries = new Set<string>();
  const finished = new Set<string>();
  let current: string | undefined;
  const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
  for (const line of text.slice(0, -1).split('\n')) {
    assert.ok(line.length > 0, 'no empty lines');
    let m: RegExpExecArray | null;
    if ((m = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line))) {
      const [, kind, name, rest] = m as unknown as [string, string, string, string];
      assert.match(name, NAME);
      assert.ok(!finished.has(name) && !seenSeries.has(`fam:${name}`), `${kind} for ${name} after its samples`);
      if (kind === 'TYPE') {
        assert.ok(['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest), `type ${rest}`);
        assert.ok(!types.has(name), `second TYPE for ${name}`);
        types.set(name, rest);
      } else {
        assert.ok(!helps.has(name), `second HELP for ${name}`);
        assert.ok(!/\\(?![\\n])/.test(rest), 'HELP escapes only \\\\ and \\n');
        helps.add(name);
      }
      if (current !== name && current !== undefined) finished.add(current);
      current = name;
      continue;
    }
    assert.ok(!line.startsWith('#'), `unexpected comment ${line}`);
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `not a sample line: ${line}`);
    const [, name, rawLabels, rawValue] = m as unknown as [string, string, string | undefined, string];
    assert.ok(types.has(name), `sample ${name} without TYPE`);
    assert.ok(!finished.has(name), `family ${name} not contiguous`);
    if (current !== name) {
      if (current !== undefined) finished.add(current);
      current = name;
    }
    const labels: Record<string, string> = {};
    let rest = rawLabels ?? '';
    while (rest.length > 0) {
      const lm = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"(,|$)/.exec(rest);
      assert.ok(lm, `bad labels in ${line}`);
      const [all, ln, lv] = lm as unknown as [string, string, string];
      assert.ok(!(ln in labels), `duplicate label ${ln}`);
      labels[ln] = lv.replace(/\\(["\\n])/g, (_s, c: string) => (c === 'n' ? '\n' : c));
      rest = rest.slice(all.length);
    }
    assert.match(rawValue, /^(-?\d+(\.\d+)?([eE][+-]?\d+)?|NaN|[+-]Inf)$/);
    const series = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    assert.ok(!seenSeries.has(series), `duplicate series ${series}`);
    seenSeries.add(series);
    samples.push({ name, labels, value: Number(rawValue) });
  }
  for (const name of types.keys()) assert.ok(helps.has(name), `no HELP for ${name}`);
  return { types, samples };
}

describe('renderers on a fixed Report', () => {
  it('text_matches_golden_and_has_no_colour_codes_when_colour_is_off', () => {
    const out = render(fixedReport, 'text');
    assert.ok(!out.includes('\x1b['));
    golden('report.txt', out);
  });
  it('text_has_colour_codes_only_when_asked', () => {
    assert.ok(render(fixedReport, 'text', { color: true }).includes('\x1b[31m'));
  });
  it('text_lists_ok_findings_only_in_verbose_mode', () => {
    assert.ok(!render(fixedReport, 'text').includes('net.ipv4.tcp_sack'));
    assert.ok(render(fixedReport, 'text', { verbose: true }).includes('net.ipv4.tcp_sack'));
  });
  it('markdown_matches_golden_and_escapes_table_breaking_characters', () => {
    const out = render(fixedReport, 'md');
    golden('report.md', out);
    assert.ok(!out.includes('<script>'));
    const errorLine = out.split('\n').find((l) => l.startsWith('- **app2**'));
    assert.ok(errorLine && !errorLine.includes(' | pipe'), 'pipe escaped');
  });
  it('json_round_trips_the_report_with_version_2', () => {
    const parsed = JSON.parse(render(fixedReport, 'json'));
    assert.deepEqual(parsed, JSON.parse(JSON.stringify(fixedReport)));
    assert.equal(parsed.version, 2);
  });
  it('junit_parses_as_xml_with_one_testcase_per_finding_failures_for_drift_errors_for_host_errors', () => {
    const xml = render(fixedReport, 'junit');
    const j = parseJunit(xml);
    assert.equal(j.tests, 7 + 4 + 1 + 0);
    assert.equal(j.failures, 4); // two sysctl drifts + two behaviour drifts; the suppressed drift is skipped
    assert.equal(j.errors, 1);
    assert.equal(j.skipped, 2); // suppressed + unknown
    assert.deepEqual(
      j.suites.map((s) => [s.name, s.cases, s.failures, s.errors, s.skipped]),
      [['app2', 1, 0, 1, 0], ['app1', 4, 1, 0, 1], ['lb', 7, 3, 0, 1], ['client', 0, 0, 0, 0]],
    );
    // The root cause's failure names the next step; the consequence's names the host that explains it.
    assert.match(xml, /next: kdrift fix --host lb --stack lab --dry-run/);
    assert.match(xml, /message="high: explained by lb: net.ipv4.tcp_window_scaling = 0/);
    assert.match(xml, /<system-err>warning: skipped \/etc\/sysctl.d\/99-junk.conf: binary data \(a NUL byte\)<\/system-err>/);
    assert.ok(xml.includes('&lt;script&gt;') && !xml.includes('<script>'));
  });
  it('junit_from_an_empty_report_is_still_well_formed', () => {
    const empty = { ...fixedReport, hosts: [], rootCauses: [], summary: { hosts: 0, drifted: 0, errors: 0, findings: 0, suppressed: 0, unknown: 0, rootCauses: 0, consequences: 0 } };
    assert.equal(parseJunit(render(empty, 'junit')).tests, 0);
  });
  it('html_is_one_self_contained_file_with_escaped_content_and_nothing_fetched', () => {
    const html = render(fixedReport, 'html');
    assert.match(html, /^<!DOCTYPE html>/);
    assert.equal((html.match(/<html/g) ?? []).length, 1);
    assert.ok(!/<script|<link|<img|<iframe|<object|<embed/i.test(html), 'no scripts or linked resources');
    assert.ok(!/\b(src|href)\s*=/i.test(html), 'no src/href attributes');
    assert.ok(!/https?:|url\((?!#)|@import/i.test(html), 'no URLs (CSS included; url(#id) names a marker of the page itself)');
    assert.ok(html.includes('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;'), 'hostile text escaped');
    assert.ok(!html.includes('\u0001'));
    for (const needle of ['net.ipv4.tcp_window_scaling', '/etc/sysctl.d/90-harden.conf:3', 'app2', 'suppressed', 'both']) assert.ok(html.includes(needle), needle);
    // Banner, root cause with its next step, the picture with both legs, ok rows collapsed.
    assert.match(html, /<div id="verdict" class="banner banner-error" role="status">Drift: lb: net.ipv4.tcp_window_scaling = 0/);
    assert.ok(html.indexOf('Root causes (1)') < html.indexOf('<svg id="fleet"'), 'root causes before the picture');
    assert.match(html, /kdrift fix --host lb --stack lab --dry-run/);
    assert.match(html, /<g class="leg leg-bad" data-from="lb" data-to="app1" data-port="8080"/);
    assert.match(html, /<details class="ok-rows"><summary class="ok">2 ok checks<\/summary>/);
    assert.match(html, /Warning: lb: skipped \/etc\/sysctl.d\/99-junk.conf/);
  });
  it('prometheus_is_valid_exposition_with_bounded_labels', () => {
    const { types, samples } = parseExposition(render(fixedReport, 'prom'));
    for (const n of ['kdrift_drift', 'kdrift_host_up', 'kdrift_findings', 'kdrift_root_causes', 'kdrift_consequences', 'kdrift_last_run_timestamp_seconds']) assert.equal(types.get(n), 'gauge', n);
    for (const [n, t] of types) assert.ok(!(t === 'gauge' && n.endsWith('_total')), `${n}: a gauge with a counter's suffix`);
    const allowed = new Set(['host', 'role', 'check', 'key', 'layer', 'severity', 'status', 'change']);
    for (const s of samples) for (const l of Object.keys(s.labels)) assert.ok(allowed.has(l), `unbounded label ${l}`);
    const drift = samples.filter((s) => s.name === 'kdrift_drift');
    assert.equal(drift.length, 11);
    const on = drift.filter((s) => s.value === 1).map((s) => `${s.labels.host} ${s.labels.check} ${s.labels.key} ${s.labels.layer}`);
    assert.deepEqual(on.sort(), ['app1 tcp.windowScaling port 8080 behaviour', 'lb sysctl net.ipv4.tcp_window_scaling persisted', 'lb sysctl net.ipv4.tcp_window_scaling runtime', 'lb tcp.windowScaling port 80 behaviour']);
    const up = Object.fromEntries(samples.filter((s) => s.name === 'kdrift_host_up').map((s) => [s.labels.host, s.value]));
    assert.deepEqual(up, { lb: 1, app1: 1, app2: 0, client: 1 });
    assert.equal(samples.find((s) => s.name === 'kdrift_last_run_timestamp_seconds')?.value, Date.parse('2026-11-25T03:00:00Z') / 1000);
    const suppressed = samples.find((s) => s.name === 'kdrift_findings' && s.labels.host === 'lb' && s.labels.status === 'suppressed');
    assert.equal(suppressed?.value, 1);
  });
  it('every_format_renders_without_throwing', () => {
    for (const f of RENDER_FORMATS) assert.ok(render(fixedReport, f).length > 0, f);
  });
});
