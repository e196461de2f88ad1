/**
 * kdrift as another program sees it: plain node (no tsx) imports the built package by its name, `kdrift` (package.json
 * `exports`, resolved as a self-reference from inside the package), checks two real local sessions whose sysctl check
 * reads fixture trees, and renders the report. What it prints must be what the sources produce for the same run.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ensureDist, REPO } from '../support/dist.js';
import { runChecks } from '../../core/engine/index.js';
import { parseBaseline } from '../../core/baseline.js';
import { render } from '../../core/render/index.js';
import { exitCodeFor, type Report } from '../../core/report.js';
import type { HostEntry } from '../../core/inventory.js';

const FIXTURES = path.join(REPO, 'test/fixtures/sysctl');
const declared = { roles: { 'load-balancer': { sysctls: { 'net.ipv4.tcp_window_scaling': { equals: 1, severity: 'critical' } } } } };
const hosts: HostEntry[] = [
  { name: 'lb1', address: '127.0.0.1', port: 22, user: 'root', roles: ['load-balancer'], local: true },
  { name: 'lb2', address: '127.0.0.1', port: 22, user: 'root', roles: ['load-balancer'], local: true },
];
const scenario: Record<string, string> = { lb1: 'correct_value.ok', lb2: 'wrong_runtime.drift' };
const NOW = '2026-12-01T00:00:00.000Z';

/** The same run, as a program that depends on kdrift would write it. */
const consumer = `
import { parseBaseline, runChecks, render, exitCodeFor, KdriftError } from 'kdrift';
const [declared, hosts, scenario, fixtures, now] = JSON.parse(process.argv[1]);
const baseline = parseBaseline(declared, 'consumer');
const report = await runChecks({
  inventory: { stack: 'consumer' }, baseline, hosts, sessionOptions: {}, concurrency: 2, now: new Date(now),
  sysctlRoot: (h) => fixtures + '/' + scenario[h.name],
});
let refused = '';
try { parseBaseline({ roles: { x: { sysctls: { 'net.ipv4.tcp_window_scaling': {} } } } }, 'bad.yaml'); } catch (e) { refused = e instanceof KdriftError ? e.message : 'not a KdriftError'; }
process.stdout.write(JSON.stringify({ exit: exitCodeFor(report), json: render(report, 'json'), text: render(report, 'text', { color: false }), refused }));
`;

/** Durations differ from run to run; everything else must match. */
function stable(r: Report): unknown {
  return { ...r, durationMs: 0, hosts: r.hosts.map((h) => ({ ...h, durationMs: 0 })) };
}

describe('the package entry (import ... from "kdrift")', function () {
  this.timeout(120_000);
  before(() => ensureDist());

  it('package.json main, types and exports name files the build produced', () => {
    const pkg = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { main: string; types: string; exports: Record<string, { types: string; default: string }> };
    for (const f of [pkg.main, pkg.types, pkg.exports['.']?.default, pkg.exports['.']?.types]) {
      assert.ok(f, 'missing field');
      readFileSync(path.join(REPO, f)); // throws ENOENT when the file is not there
    }
  });

  it('a program that imports kdrift checks hosts and renders the same report the sources do', async () => {
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', consumer, JSON.stringify([declared, hosts, scenario, FIXTURES, NOW])], {
      cwd: REPO,
      encoding: 'utf8',
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    const got = JSON.parse(out) as { exit: number; json: string; text: string; refused: string };

    const fromSources = await runChecks({
      inventory: { stack: 'consumer' },
      baseline: parseBaseline(declared, 'consumer'),
      hosts,
      sessionOptions: {},
      concurrency: 2,
      now: new Date(NOW),
      sysctlRoot: (h) => path.join(FIXTURES, scenario[h.name] as string),
    });
    assert.equal(got.exit, 2, 'lb2 drifts: exit 2');
    assert.equal(got.exit, exitCodeFor(fromSources));
    assert.deepEqual(stable(JSON.parse(got.json) as Report), stable(JSON.parse(render(fromSources, 'json')) as Report));
    assert.match(got.text, /lb2/);
    assert.match(got.text, /net\.ipv4\.tcp_window_scaling/);
    assert.match(got.refused, /^bad\.yaml: .*equals, oneOf, or min\/max/);
  });
});
