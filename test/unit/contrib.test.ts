/**
 * contrib/: the alert rules pass `promtool check rules` and their unit tests (`promtool test rules`), and the systemd
 * units pass `systemd-analyze verify` (with the kdrift path pointed at this checkout's bin/kdrift.js, since
 * /usr/local/bin/kdrift is where an install puts it, not this machine).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const PROM = path.join(REPO, 'contrib/prometheus');
const SYSTEMD = path.join(REPO, 'contrib/systemd');

describe('contrib: alert rules and systemd units', function () {
  this.timeout(60_000);

  it('alert_rules_pass_promtool_check_and_their_rule_tests', () => {
    assert.match(execFileSync('promtool', ['check', 'rules', 'kdrift-alerts.yml'], { cwd: PROM }).toString(), /SUCCESS: 4 rules found/);
    const res = spawnSync('promtool', ['test', 'rules', 'kdrift-alerts.test.yml'], { cwd: PROM });
    assert.equal(res.status, 0, `${res.stdout}${res.stderr}`);
    assert.match(res.stdout.toString(), /SUCCESS/);
  });

  it('alert_rule_tests_fail_when_an_expectation_is_wrong', () => {
    // The rule tests can fail: the same file with one expected label changed must not pass.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kdrift-rules-'));
    try {
      writeFileSync(path.join(dir, 'kdrift-alerts.yml'), readFileSync(path.join(PROM, 'kdrift-alerts.yml')));
      writeFileSync(path.join(dir, 't.yml'), readFileSync(path.join(PROM, 'kdrift-alerts.test.yml'), 'utf8').replace('host: app2, role: app-node', 'host: app1, role: app-node'));
      const res = spawnSync('promtool', ['test', 'rules', 't.yml'], { cwd: dir });
      assert.notEqual(res.status, 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('systemd_units_pass_systemd_analyze_verify', function () {
    const which = spawnSync('systemd-analyze', ['--version']);
    if (which.status !== 0) this.skip();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kdrift-units-'));
    try {
      const units = readdirSync(SYSTEMD).filter((f) => /\.(service|timer)$/.test(f));
      assert.deepEqual(units.sort(), ['kdrift-check-local.service', 'kdrift-check-local.timer', 'kdrift-report.service', 'kdrift-report.timer']);
      for (const u of units) writeFileSync(path.join(dir, u), readFileSync(path.join(SYSTEMD, u), 'utf8').replaceAll('/usr/local/bin/kdrift', path.join(REPO, 'bin/kdrift.js')));
      const res = spawnSync('systemd-analyze', ['verify', '--man=no', ...units.map((u) => path.join(dir, u))], { env: { ...process.env, SYSTEMD_LOG_LEVEL: 'notice' } });
      assert.equal(res.status, 0, `${res.stdout}${res.stderr}`);
      assert.equal(res.stderr.toString().trim(), '', 'no warnings');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
