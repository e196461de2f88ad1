/**
 * The nightly job on the lab `kdfl` (subnet 83), two ways:
 *  1. a controller: `kdrift report --state-dir` run twice, the second run marking drift new / still drifting and
 *     listing what resolved, in every format;
 *  2. past one controller: every lab host runs `kdrift check --local` (as its own timer would) and writes the
 *     textfile for Debian's real prometheus-node-exporter running inside the host; a real Prometheus (in the client
 *     host) scrapes them over the lab network with contrib/prometheus/kdrift-alerts.yml loaded: drift on lb shows as
 *     the firing alert within two scrape intervals and resolves after `kdrift fix`.
 * Paths inside a host are made through the lab's host exec helper (labExec), so the test works whatever mount view
 * a lab host has. Every process started here is killed by pid; the lab and temp dirs are removed.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { labDown, labExec, labExecOk, labUp, type LabStatus } from '../../lab/index.js';
import type { Report } from '../../core/report.js';
import { slotName, slotSubnet } from '../support/slot.js';
import { ensureDist, REPO } from '../support/dist.js';
import { runKdrift } from '../support/run-cli.js';

const LAB = slotName('kdfl');
const SUBNET = slotSubnet(83);
const WS = 'net.ipv4.tcp_window_scaling';
const SACK = 'net.ipv4.tcp_sack';
const TS = 'net.ipv4.tcp_timestamps';
const SCRAPE_S = 2;
const EVAL_S = 1;
/** Starts argv in the background inside a lab host (a constant script; argv as positional arguments); returns its pid. */
const BACKGROUND = 'log=$1; shift; "$@" >"$log" 2>&1 </dev/null & echo $!';

describe('the nightly job on the lab: --state-dir changes, and node_exporter + Prometheus alerts (e2e)', function () {
  this.timeout(400_000);
  let lab: LabStatus;
  let tmp: string;
  const pids: number[] = [];

  before(async () => {
    ensureDist();
    lab = await labUp({ name: LAB, subnet: SUBNET, rttMs: 0 });
    tmp = await mkdtemp(path.join(os.tmpdir(), 'kdrift-fleet-lab-'));
  });
  after(async () => {
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
    await new Promise((r) => setTimeout(r, 500));
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    try {
      await labDown(LAB);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });
  afterEach(async () => {
    for (const k of [WS, SACK, TS]) await labExec(LAB, 'lb', ['sysctl', '-q', '-w', `${k}=1`]);
  });

  it('second_run_marks_new_still_drifting_and_resolved_in_every_format', async () => {
    const state = path.join(tmp, 'state');
    await labExecOk(LAB, 'lb', ['sysctl', '-q', '-w', `${WS}=0`, `${SACK}=0`]);
    const first = await runKdrift(['report', '--inventory', lab.inventoryFile, '--state-dir', state, '--format', 'json']);
    assert.equal(first.code, 2, first.stderr);
    const r1 = JSON.parse(first.stdout) as Report;
    assert.equal(r1.changes, undefined, 'first run of a state dir: nothing to compare with');
    const kept = JSON.parse(await readFile(path.join(state, 'last-report.json'), 'utf8')) as Report;
    assert.equal(kept.generatedAt, r1.generatedAt);

    // overnight: sack is put back, timestamps drifts, window scaling still drifts
    await labExecOk(LAB, 'lb', ['sysctl', '-q', '-w', `${SACK}=1`, `${TS}=0`]);
    const outs = ['md', 'junit', 'html', 'prom', 'text'].map((f) => `--output=${f}=${path.join(tmp, `second.${f}`)}`);
    const second = await runKdrift(['report', '--inventory', lab.inventoryFile, '--state-dir', state, '--format', 'json', ...outs]);
    assert.equal(second.code, 2, second.stderr);
    const r2 = JSON.parse(second.stdout) as Report;
    const lb = r2.hosts.find((h) => h.name === 'lb');
    const change = (key: string) => lb?.findings.find((f) => f.key === key && f.layer === 'runtime')?.change;
    assert.equal(change(WS), 'still drifting');
    assert.equal(change(TS), 'new');
    assert.equal(change(SACK), undefined);
    assert.equal(r2.changes?.since, r1.generatedAt);
    assert.deepEqual(r2.changes?.resolved.map((x) => `${x.host} ${x.key} ${x.layer} was ${x.previousActual} now ${x.now}`), [`lb ${SACK} runtime was 0 now ok`]);
    assert.equal(r2.changes?.new.length, 1);
    assert.equal(r2.changes?.stillDrifting.length, 1);
    // ids are stable across the two runs
    const id = (r: Report) => r.hosts.find((h) => h.name === 'lb')?.findings.find((f) => f.key === WS && f.layer === 'runtime')?.id;
    assert.equal(id(r1), id(r2));

    const text = await readFile(path.join(tmp, 'second.text'), 'utf8');
    assert.match(text, /^Changes: 1 new, 1 still drifting, 1 resolved since /m);
    assert.match(text, new RegExp(`^  new +lb +sysctl +${TS.replaceAll('.', '\\.')} +runtime`, 'm'));
    assert.match(text, new RegExp(`^  resolved +lb +sysctl +${SACK.replaceAll('.', '\\.')} +runtime +was 0, now ok`, 'm'));
    assert.match(await readFile(path.join(tmp, 'second.md'), 'utf8'), /\| \*\*new\*\* \| lb \| sysctl \| net\.ipv4\.tcp\\_timestamps \| runtime \|/);
    assert.match(await readFile(path.join(tmp, 'second.html'), 'utf8'), /<td class="ok">resolved<\/td><td>lb<\/td><td>sysctl<\/td><td>net\.ipv4\.tcp_sack<\/td>/);
    const junit = await readFile(path.join(tmp, 'second.junit'), 'utf8');
    assert.match(junit, /<failure type="new drift"/);
    assert.match(junit, /<failure type="still drifting"/);
    assert.match(junit, /name="resolved: net\.ipv4\.tcp_sack \[runtime\]"/);
    const prom = await readFile(path.join(tmp, 'second.prom'), 'utf8');
    assert.match(prom, /^kdrift_changes\{change="resolved"\} 1$/m);
    assert.match(prom, new RegExp(`^kdrift_drift_new\\{host="lb",role="load-balancer",check="sysctl",key="${TS.replaceAll('.', '\\.')}",layer="runtime"\\} 1$`, 'm'));

    // --previous FILE gives the same comparison as the state dir did
    const prevFile = path.join(tmp, 'first.json');
    await writeFile(prevFile, first.stdout);
    const third = await runKdrift(['report', '--inventory', lab.inventoryFile, '--previous', prevFile, '--format', 'json']);
    const r3 = JSON.parse(third.stdout) as Report;
    assert.deepEqual([r3.changes?.new, r3.changes?.stillDrifting, r3.changes?.resolved.map((x) => x.id)], [r2.changes?.new, r2.changes?.stillDrifting, r2.changes?.resolved.map((x) => x.id)]);
  });

  it('drift_on_lb_fires_the_alert_in_prometheus_within_two_scrapes_and_resolves_after_fix', async () => {
    const hosts = lab.hosts.filter((h) => h.roles.length > 0);
    const textfileDir = (host: string) => path.join(tmp, 'textfile', host);
    const checkLocal = async (host: (typeof hosts)[number]) => {
      // what the host's own timer runs (contrib/systemd/kdrift-check-local.service)
      const argv = [process.execPath, path.join(REPO, 'bin/kdrift.js'), 'check', '--local', ...host.roles.flatMap((r) => ['--role', r]), '--format', 'json', '--output', `prom=${textfileDir(host.name)}/kdrift.prom`, '--fail-on', 'none'];
      const res = await labExec(LAB, host.name, argv, { timeoutMs: 60_000 });
      assert.equal(res.code, 0, res.stderr);
      return JSON.parse(res.stdout) as Report;
    };
    for (const h of hosts) {
      await labExecOk(LAB, h.name, ['mkdir', '-p', textfileDir(h.name)]);
      const r = await checkLocal(h);
      assert.equal(r.summary.errors, 0);
      const pid = await labExecOk(LAB, h.name, [
        'sh', '-c', BACKGROUND, 'kdrift-bg', path.join(tmp, `node-exporter-${h.name}.log`),
        'prometheus-node-exporter', `--web.listen-address=${h.address}:9100`, '--collector.disable-defaults', '--collector.textfile',
        `--collector.textfile.directory=${textfileDir(h.name)}`,
      ]);
      pids.push(Number(pid.trim()));
    }
    const client = lab.hosts.find((h) => h.name === 'client');
    assert.ok(client);
    const promCfg = path.join(tmp, 'prometheus.yml');
    await writeFile(
      promCfg,
      `global:\n  scrape_interval: ${SCRAPE_S}s\n  evaluation_interval: ${EVAL_S}s\n` +
        `rule_files:\n  - ${path.join(REPO, 'contrib/prometheus/kdrift-alerts.yml')}\n` +
        `scrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: [${hosts.map((h) => `'${h.address}:9100'`).join(', ')}]\n`,
    );
    const api = `http://${client.address}:9090/api/v1`;
    const promPid = await labExecOk(LAB, 'client', [
      'sh', '-c', BACKGROUND, 'kdrift-bg', path.join(tmp, 'prometheus.log'),
      'prometheus', `--config.file=${promCfg}`, `--storage.tsdb.path=${path.join(tmp, 'prom-data')}`, `--web.listen-address=${client.address}:9090`,
    ]);
    pids.push(Number(promPid.trim()));

    const get = async <T>(url: string): Promise<T | undefined> => {
      try {
        const r = await fetch(url);
        return r.ok ? ((await r.json()) as { data: T }).data : undefined;
      } catch {
        return undefined;
      }
    };
    const waitFor = async <T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number): Promise<{ value: T; ms: number }> => {
      const t0 = Date.now();
      for (;;) {
        const v = await fn();
        if (v !== undefined) return { value: v, ms: Date.now() - t0 };
        if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; prometheus log: ${(await readFile(path.join(tmp, 'prometheus.log'), 'utf8').catch(() => '')).slice(-1500)}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    type Targets = { activeTargets: { health: string; scrapeUrl: string }[] };
    await waitFor('every node exporter scraped up', async () => {
      const t = await get<Targets>(`${api}/targets`);
      return t && t.activeTargets.length === hosts.length && t.activeTargets.every((x) => x.health === 'up') ? t : undefined;
    }, 60_000);
    type Alerts = { alerts: { labels: Record<string, string>; state: string }[] };
    const critical = async () => (await get<Alerts>(`${api}/alerts`))?.alerts.filter((a) => a.labels.alertname === 'KdriftCriticalDrift' && a.state === 'firing');
    // a clean lab: the textfiles are scraped (kdrift_host_up = 1 for every host) and nothing critical fires
    await waitFor('kdrift_host_up from every host', async () => {
      const r = await get<{ result: unknown[] }>(`${api}/query?query=${encodeURIComponent('kdrift_host_up == 1')}`);
      return r && r.result.length === hosts.length ? r : undefined;
    }, 30_000);
    assert.deepEqual(await critical(), []);

    // the "hardening script" on lb, then lb's own timer runs the check
    await labExecOk(LAB, 'lb', ['sysctl', '-q', '-w', `${WS}=0`]);
    const lb = hosts.find((h) => h.name === 'lb');
    assert.ok(lb);
    await checkLocal(lb);
    const fired = await waitFor('KdriftCriticalDrift firing', async () => {
      const a = await critical();
      return a && a.length > 0 ? a : undefined;
    }, 30_000);
    assert.deepEqual(fired.value.map((a) => `${a.labels.instance} ${a.labels.key} ${a.labels.layer}`), [`${lb.address}:9100 ${WS} runtime`]);
    assert.ok(fired.ms <= 2 * SCRAPE_S * 1000 + EVAL_S * 1000 + 1000, `alert fired ${fired.ms} ms after the textfile was written (two scrapes: ${2 * SCRAPE_S} s)`);

    // kdrift fix from the controller, then lb's timer runs again: the alert resolves
    const fix = await runKdrift(['fix', '--inventory', lab.inventoryFile, '--host', 'lb', '--yes']);
    assert.equal(fix.code, 0, fix.stderr + fix.stdout);
    const after = await checkLocal(lb);
    assert.equal(after.hosts[0]?.findings.find((f) => f.key === WS && f.layer === 'runtime')?.status, 'ok');
    const resolved = await waitFor('KdriftCriticalDrift resolved', async () => {
      const a = await critical();
      return a && a.length === 0 ? a : undefined;
    }, 30_000);
    assert.ok(resolved.ms <= 2 * SCRAPE_S * 1000 + EVAL_S * 1000 + 1000, `alert resolved ${resolved.ms} ms after the fixed textfile was written`);
    console.log(`      alert fired ${fired.ms} ms and resolved ${resolved.ms} ms after lb's textfile changed (scrape ${SCRAPE_S} s, eval ${EVAL_S} s)`);
  });
});
