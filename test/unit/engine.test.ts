/**
 * The engine over real sessions without a lab: hosts marked `local` get a real LocalSession whose sysctl check reads a
 * fixture tree (test/fixtures/sysctl/<scenario>), and a "down" host is a real SSH connection to a loopback port nothing
 * listens on.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseBaseline } from '../../core/baseline.js';
import { checkHost, planChecks, runChecks, verdictFor, type CheckPlan } from '../../core/engine/index.js';
import { KdriftError } from '../../core/errors.js';
import type { HostEntry } from '../../core/inventory.js';
import { exitCodeFor } from '../../core/report.js';
import { LocalSession } from '../../core/session-local.js';
import { parseSuppressions } from '../../core/suppressions.js';
import type { Finding } from '../../core/finding.js';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/sysctl');

const baseline = parseBaseline(
  {
    roles: {
      'load-balancer': { sysctls: { 'net.ipv4.tcp_window_scaling': { equals: 1, severity: 'critical' } } },
      'app-node': { sysctls: { 'net.ipv4.tcp_window_scaling': { equals: 1, severity: 'critical' } } },
      hardened: { sysctls: { 'net.ipv4.tcp_window_scaling': { equals: 0 } } },
      client: {},
    },
  },
  'engine.test baseline',
);

const local = (name: string, roles: string[]): HostEntry => ({ name, address: '127.0.0.1', port: 22, user: 'root', roles, local: true });

/** A loopback port with nothing listening: connecting to it is refused at once. */
async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

const scenarioOf: Record<string, string> = { lb1: 'correct_value.ok', lb2: 'wrong_runtime.drift', app1: 'conflicting_sysctl_d.drift' };
const rootFor = (h: HostEntry) => path.join(FIXTURES, scenarioOf[h.name] ?? 'correct_value.ok');

describe('engine', () => {
  let keyDir: string;
  before(() => {
    keyDir = mkdtempSync(path.join(os.tmpdir(), 'kdrift-engine-key-'));
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(keyDir, 'id')]);
  });
  after(() => rmSync(keyDir, { recursive: true, force: true }));

  it('clean_hosts_report_ok_and_exit_0', async () => {
    const report = await runChecks({
      inventory: { stack: 'unit' },
      baseline,
      hosts: [local('lb1', ['load-balancer']), local('client1', ['client'])],
      sessionOptions: {},
      concurrency: 4,
      sysctlRoot: rootFor,
    });
    assert.equal(report.version, 2);
    assert.equal(report.stack, 'unit');
    assert.deepEqual(report.summary, { hosts: 2, drifted: 0, errors: 0, findings: 0, suppressed: 0, unknown: 0, rootCauses: 0, consequences: 0 });
    assert.deepEqual(report.hosts.map((h) => [h.name, h.status, h.findings.length]), [['lb1', 'ok', 2], ['client1', 'ok', 0]]);
    assert.equal(exitCodeFor(report), 0);
  });

  it('runtime_and_persisted_drift_on_two_hosts_exit_2_with_exactly_those_findings', async () => {
    const report = await runChecks({
      inventory: {},
      baseline,
      hosts: [local('lb1', ['load-balancer']), local('lb2', ['load-balancer']), local('app1', ['app-node'])],
      sessionOptions: {},
      concurrency: 2,
      sysctlRoot: rootFor,
    });
    const drift = report.hosts.flatMap((h) => h.findings.filter((f) => f.status === 'drift').map((f) => `${h.name} ${f.key} ${f.layer} ${f.actual} ${f.source ?? ''}`));
    assert.deepEqual(drift, ['lb2 net.ipv4.tcp_window_scaling runtime 0 ', 'app1 net.ipv4.tcp_window_scaling persisted 0 /etc/sysctl.d/90-harden.conf:3']);
    assert.equal(report.summary.drifted, 2);
    assert.equal(report.summary.findings, 2);
    assert.equal(report.stack, null);
    assert.equal(exitCodeFor(report), 2);
    assert.equal(exitCodeFor(report, 'error'), 0);
    assert.equal(exitCodeFor(report, 'none'), 0);
  });

  it('down_host_is_status_error_with_reason_and_others_still_report_exit_1', async () => {
    const port = await closedPort();
    const down: HostEntry = { name: 'down1', address: '127.0.0.1', port, user: 'root', roles: ['load-balancer'], identityFile: path.join(keyDir, 'id') };
    const report = await runChecks({
      inventory: {},
      baseline,
      hosts: [local('lb2', ['load-balancer']), down, local('lb1', ['load-balancer'])],
      sessionOptions: { connectTimeoutMs: 3000, knownHostsPath: '/dev/null' },
      concurrency: 3,
      sysctlRoot: rootFor,
    });
    const d = report.hosts.find((h) => h.name === 'down1');
    assert.equal(d?.status, 'error');
    assert.match(d?.error ?? '', /refused|ECONNREFUSED|connect/i);
    assert.equal(report.hosts.find((h) => h.name === 'lb2')?.status, 'drift');
    assert.equal(report.hosts.find((h) => h.name === 'lb1')?.status, 'ok');
    assert.equal(report.summary.errors, 1);
    assert.equal(exitCodeFor(report), 1);
  });

  it('roles_declaring_a_key_differently_is_an_error_naming_both_roles', () => {
    assert.throws(() => planChecks(local('x', ['load-balancer', 'hardened']), baseline), (e: unknown) => {
      assert.ok(e instanceof KdriftError);
      assert.match(e.message, /host x: roles "load-balancer" and "hardened" declare net\.ipv4\.tcp_window_scaling differently/);
      return true;
    });
  });

  it('roles_declaring_a_key_identically_merge_into_one_check', () => {
    const plan = planChecks(local('x', ['load-balancer', 'app-node']), baseline);
    assert.equal(plan.sysctls.size, 1);
    assert.equal(plan.sysctlRoles.get('net.ipv4.tcp_window_scaling'), 'load-balancer');
  });

  it('role_missing_from_the_baseline_fails_the_run_before_any_host_is_touched', async () => {
    await assert.rejects(
      runChecks({ inventory: {}, baseline, hosts: [local('x', ['database'])], sessionOptions: {}, concurrency: 1 }),
      /host x: has role "database", which the baseline does not declare/,
    );
  });

  it('check_host_returns_error_status_instead_of_throwing_when_collection_fails', async () => {
    const session = new LocalSession('broken');
    await session.close();
    const r = await checkHost(session, local('broken', ['load-balancer']), baseline);
    assert.equal(r.status, 'error');
    assert.match(r.error ?? '', /closed/);
  });

  it('probe_that_cannot_run_gives_unknown_behaviour_findings_and_keeps_the_config_findings', async () => {
    const withBehaviour = parseBaseline(
      {
        roles: {
          'load-balancer': {
            sysctls: { 'net.ipv4.tcp_window_scaling': { equals: 1 } },
            behaviours: [
              { check: 'tcp.windowScaling', port: 80, minShare: 0.99, window: '100ms', dependsOn: ['net.ipv4.tcp_window_scaling'] },
              { check: 'tcp.zeroWindow', port: 80, max: 10, window: '100ms' },
            ],
          },
        },
      },
      'engine.test probe baseline',
    );
    const host = { ...local('lb2', ['load-balancer']), agentCommand: ['/nonexistent/kdrift-agent'] };
    const report = await runChecks({ inventory: {}, baseline: withBehaviour, hosts: [host], sessionOptions: {}, concurrency: 1, sysctlRoot: rootFor, probe: true });
    const h = report.hosts[0];
    assert.equal(report.probe, true);
    assert.deepEqual(h?.findings.map((f) => `${f.check} ${f.key} ${f.layer} ${f.status}`), [
      'sysctl net.ipv4.tcp_window_scaling runtime drift',
      'sysctl net.ipv4.tcp_window_scaling persisted ok',
      'tcp.windowScaling port 80 behaviour unknown',
      'tcp.zeroWindow port 80 behaviour unknown',
    ]);
    assert.match(h?.findings[2]?.reason ?? '', /probe failed: .*agent/);
    // Config drifts; the behaviour that depends on it could not be observed: plain config drift, not "not yet shown".
    assert.equal(h?.verdict, 'config drift');
    assert.equal(h?.status, 'drift');
  });

  it('suppressed_drift_is_listed_and_counted_as_suppressed_not_as_drift', async () => {
    const set = parseSuppressions('- key: net.ipv4.tcp_window_*\n  host: lb?\n  layer: runtime\n  reason: ticket OPS-1\n  expires: 2099-01-01\n', '.kdriftignore');
    const report = await runChecks({ inventory: {}, baseline, hosts: [local('lb2', ['load-balancer'])], sessionOptions: {}, concurrency: 1, sysctlRoot: rootFor, suppressions: set });
    const f = report.hosts[0]?.findings.find((x) => x.layer === 'runtime');
    assert.equal(f?.status, 'drift');
    assert.deepEqual(f?.suppressed, { reason: 'ticket OPS-1', source: '.kdriftignore:1', expires: '2099-01-01' });
    assert.equal(report.hosts[0]?.status, 'ok');
    assert.equal(report.summary.suppressed, 1);
    assert.equal(report.summary.findings, 0);
    assert.equal(exitCodeFor(report), 0);
  });

  it('expired_suppression_counts_again_and_the_report_says_it_expired', async () => {
    const set = parseSuppressions('- key: net.ipv4.tcp_window_scaling\n  reason: ticket OPS-1\n  expires: 2020-01-31\n', '.kdriftignore');
    const report = await runChecks({ inventory: {}, baseline, hosts: [local('lb2', ['load-balancer'])], sessionOptions: {}, concurrency: 1, sysctlRoot: rootFor, suppressions: set, now: new Date('2020-02-01T00:00:00Z') });
    const f = report.hosts[0]?.findings.find((x) => x.layer === 'runtime');
    assert.equal(f?.suppressed, undefined);
    assert.match(f?.reason ?? '', /suppression expired on 2020-01-31 \(\.kdriftignore:1: ticket OPS-1\)/);
    assert.deepEqual(report.expiredSuppressions, [{ source: '.kdriftignore:1', reason: 'ticket OPS-1', expires: '2020-01-31', matched: 1 }]);
    assert.equal(report.summary.findings, 1);
    assert.equal(exitCodeFor(report), 2);
  });

  it('suppression_is_still_active_on_its_expiry_day', async () => {
    const set = parseSuppressions('- key: net.ipv4.tcp_window_scaling\n  reason: r\n  expires: 2020-01-31\n', '.kdriftignore');
    const report = await runChecks({ inventory: {}, baseline, hosts: [local('lb2', ['load-balancer'])], sessionOptions: {}, concurrency: 1, sysctlRoot: rootFor, suppressions: set, now: new Date('2020-01-31T23:59:00Z') });
    assert.equal(report.summary.suppressed, 1);
    assert.equal(report.summary.findings, 0);
  });
});

describe('verdict (config joined with behaviour)', () => {
  const f = (layer: Finding['layer'], status: Finding['status'], key = 'net.ipv4.tcp_window_scaling'): Finding => ({
    host: 'h', check: layer === 'behaviour' ? 'tcp.windowScaling' : 'sysctl', key, layer, status, expected: '', actual: '', severity: 'high',
  });
  const plan: Pick<CheckPlan, 'behaviours'> = {
    behaviours: [{ role: 'lb', spec: { check: 'tcp.windowScaling', port: 80, direction: 'in', minShare: 0.99, window: 10000, severity: 'high', dependsOn: ['net.ipv4.tcp_window_scaling'] } }],
  };
  it('config_and_behaviour_drift_is_both', () => assert.equal(verdictFor([f('runtime', 'drift'), f('behaviour', 'drift', 'port 80')], plan), 'both'));
  it('behaviour_drift_alone_is_behaviour_drift', () => assert.equal(verdictFor([f('runtime', 'ok'), f('behaviour', 'drift', 'port 80')], plan), 'behaviour drift'));
  it('config_drift_watched_by_an_ok_behaviour_is_not_yet_shown', () =>
    assert.equal(verdictFor([f('runtime', 'drift'), f('behaviour', 'ok', 'port 80')], plan), 'config drift not yet shown by behaviour'));
  it('config_drift_no_behaviour_depends_on_is_config_drift', () => assert.equal(verdictFor([f('runtime', 'drift', 'net.ipv4.tcp_sack'), f('behaviour', 'ok', 'port 80')], plan), 'config drift'));
  it('config_drift_whose_behaviour_could_not_be_observed_is_config_drift', () =>
    assert.equal(verdictFor([f('runtime', 'drift'), f('behaviour', 'unknown', 'port 80')], plan), 'config drift'));
  it('nothing_drifting_is_ok', () => assert.equal(verdictFor([f('runtime', 'ok'), f('behaviour', 'ok', 'port 80')], plan), 'ok'));
});
