/** .kdriftignore: parsing (each bad entry names the file and entry), matching, expiry. */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { KdriftError } from '../../core/errors.js';
import type { Finding } from '../../core/finding.js';
import { applySuppressions, globMatches, isExpired, loadSuppressions, parseSuppressions } from '../../core/suppressions.js';

const F = '.kdriftignore';
function refused(text: string, ...patterns: RegExp[]): void {
  assert.throws(
    () => parseSuppressions(text, F),
    (e: unknown) => {
      assert.ok(e instanceof KdriftError);
      for (const p of patterns) assert.match(e.message, p);
      return true;
    },
  );
}
const finding = (f: Partial<Finding> = {}): Finding => ({
  host: 'lb1', check: 'sysctl', key: 'net.ipv4.tcp_fin_timeout', layer: 'runtime', status: 'drift', expected: '<= 30', actual: '60', severity: 'low', ...f,
});
const NOW = new Date('2026-06-01T12:00:00Z');

describe('suppressions', () => {
  it('entry_without_reason_is_refused_naming_file_and_entry', () => refused('- key: net.ipv4.tcp_fin_timeout\n- key: x\n  reason: ok\n', /^\.kdriftignore: entry 1 \(line 1\): reason: Required/));
  it('blank_reason_is_refused', () => refused('- key: a\n  reason: "  "\n', /entry 1.*a suppression needs a reason/));
  it('entry_without_key_is_refused', () => refused('- reason: r\n  host: lb*\n', /entry 1.*key: Required/));
  it('bad_expiry_date_is_refused_naming_the_entry', () => refused('- key: a\n  reason: r\n- key: b\n  reason: r\n  expires: 2026-02-30\n', /entry 2 \(line 3\): expires: "2026-02-30" is not a date YYYY-MM-DD/));
  it('unknown_field_is_refused', () => refused('- key: a\n  reason: r\n  hosts: lb\n', /entry 1.*Unrecognized key.*hosts/));
  it('bad_layer_is_refused', () => refused('- key: a\n  reason: r\n  layer: disk\n', /entry 1.*layer/));
  it('not_a_list_is_refused', () => refused('key: a\nreason: r\n', /^\.kdriftignore: expected a list of suppressions/));
  it('invalid_yaml_is_refused', () => refused('- key: [a\n', /not valid YAML/));
  it('empty_file_means_no_suppressions', () => assert.deepEqual(parseSuppressions('# nothing yet\n', F).rules, []));

  it('glob_star_and_question_mark_match_whole_strings_only', () => {
    assert.ok(globMatches('net.ipv4.*', 'net.ipv4.tcp_sack'));
    assert.ok(globMatches('lb?', 'lb1'));
    assert.ok(!globMatches('lb?', 'lb10'));
    assert.ok(!globMatches('net.ipv4', 'net.ipv4.tcp_sack'));
    assert.ok(!globMatches('net.ipv4.tcp_sack', 'netXipv4.tcp_sack'), 'a dot is literal');
  });

  it('matching_entry_marks_drift_as_suppressed_with_reason_and_source_line', () => {
    const set = parseSuppressions('# header\n- key: net.ipv4.tcp_fin_*\n  role: load-*\n  reason: vendor default\n', F);
    const { findings } = applySuppressions([finding(), finding({ status: 'ok', actual: '30' })], ['load-balancer'], set, NOW);
    assert.deepEqual(findings[0]?.suppressed, { reason: 'vendor default', source: '.kdriftignore:2' });
    assert.equal(findings[1]?.suppressed, undefined, 'ok findings are never marked');
  });

  it('entry_for_another_host_role_check_or_layer_does_not_match', () => {
    for (const extra of ['host: app*', 'role: app-node', 'check: tcp.*', 'layer: persisted']) {
      const set = parseSuppressions(`- key: "*"\n  reason: r\n  ${extra}\n`, F);
      assert.equal(applySuppressions([finding()], ['load-balancer'], set, NOW).findings[0]?.suppressed, undefined, extra);
    }
  });

  it('expired_entry_does_not_suppress_and_is_counted_as_expired', () => {
    const set = parseSuppressions('- key: net.ipv4.tcp_fin_timeout\n  reason: ticket OPS-1\n  expires: 2026-05-31\n', F);
    const { findings, expired } = applySuppressions([finding()], [], set, NOW);
    assert.equal(findings[0]?.suppressed, undefined);
    assert.match(findings[0]?.reason ?? '', /suppression expired on 2026-05-31 \(\.kdriftignore:1: ticket OPS-1\)/);
    assert.deepEqual([...expired.values()], [1]);
  });

  it('active_entry_wins_over_an_expired_one_for_the_same_finding', () => {
    const set = parseSuppressions('- key: "*"\n  reason: old\n  expires: 2020-01-01\n- key: "*"\n  reason: new\n  expires: 2030-01-01\n', F);
    assert.equal(applySuppressions([finding()], [], set, NOW).findings[0]?.suppressed?.reason, 'new');
  });

  it('expiry_day_is_inclusive_in_utc', () => {
    assert.equal(isExpired('2026-06-01', new Date('2026-06-01T23:59:59Z')), false);
    assert.equal(isExpired('2026-06-01', new Date('2026-06-02T00:00:00Z')), true);
  });

  describe('loading', () => {
    let dir: string;
    before(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'kdrift-ignore-'));
    });
    after(async () => {
      await rm(dir, { recursive: true, force: true });
    });
    it('no_default_file_means_no_suppressions', async () => assert.equal(await loadSuppressions(undefined, dir), undefined));
    it('default_file_is_read_when_present', async () => {
      await writeFile(path.join(dir, '.kdriftignore'), '- key: a\n  reason: r\n');
      assert.equal((await loadSuppressions(undefined, dir))?.rules.length, 1);
    });
    it('explicit_missing_file_is_an_error_naming_it', async () => {
      await assert.rejects(loadSuppressions('missing.yaml', dir), /missing\.yaml: file not found/);
    });
  });
});
