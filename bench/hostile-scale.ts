/**
 * Issue 13 item 3: is work linear in what a host (or a hostile file) hands kdrift?
 *  - sysctl collection (checks/sysctl-persisted.ts collectSysctlState, through a LocalSession on a fixture tree with
 *    its `root` prefix): one sysctl.d file of 0.75 / 1.5 / 3 MB, and 5,000 / 10,000 / 20,000 files. Linear: time
 *    doubles when the input doubles (ratio ≈ 2); quadratic: ≈ 4.
 *  - wildcard matching (core/glob.ts, .kdriftignore keys and known_hosts patterns): patterns of 10 / 20 / 40 `*a`
 *    against a near-miss name, next to the regular expression it replaced (which backtracks exponentially; it is
 *    run only up to 12 stars, in a child with a time limit).
 *
 *   npx tsc -p . && node dist/bench/hostile-scale.js
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { LocalSession } from '../core/session-local.js';
import { collectSysctlState } from '../checks/index.js';
import { wildcardMatch } from '../core/glob.js';

function tree(build: (sysctlD: string) => void): string {
  const root = mkdtempSync(path.join(tmpdir(), 'kdrift-scale-'));
  mkdirSync(path.join(root, 'etc', 'sysctl.d'), { recursive: true });
  mkdirSync(path.join(root, 'proc', 'sys', 'net', 'ipv4'), { recursive: true });
  writeFileSync(path.join(root, 'proc', 'sys', 'net', 'ipv4', 'tcp_sack'), '1\n');
  build(path.join(root, 'etc', 'sysctl.d'));
  return root;
}

async function timeCollect(root: string): Promise<number> {
  const s = new LocalSession('bench', { commandTimeoutMs: 600_000 });
  const t0 = process.hrtime.bigint();
  await collectSysctlState(s, ['net.ipv4.tcp_sack'], { root });
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

function report(label: string, sizes: number[], ms: number[]): void {
  const rows = sizes.map((n, i) => `${n}: ${(ms[i] as number).toFixed(0)} ms${i > 0 ? ` (×${((ms[i] as number) / (ms[i - 1] as number)).toFixed(2)} for ×${(n / (sizes[i - 1] as number)).toFixed(0)} input)` : ''}`);
  console.log(`${label}\n  ${rows.join('\n  ')}`);
}

async function main(): Promise<void> {
  const line = 'net.ipv4.tcp_sack = 1\n'; // 22 bytes
  const bytes = [750_000, 1_500_000, 3_000_000];
  const sizeMs: number[] = [];
  for (const b of bytes) {
    const root = tree((d) => writeFileSync(path.join(d, '50-big.conf'), line.repeat(Math.ceil(b / line.length))));
    sizeMs.push(await timeCollect(root));
    rmSync(root, { recursive: true, force: true });
  }
  report('collection, one sysctl.d file of N bytes:', bytes, sizeMs);

  const counts = [5000, 10_000, 20_000];
  const countMs: number[] = [];
  for (const n of counts) {
    const root = tree((d) => {
      for (let i = 0; i < n; i++) writeFileSync(path.join(d, `${String(i).padStart(6, '0')}-x.conf`), line);
    });
    countMs.push(await timeCollect(root));
    rmSync(root, { recursive: true, force: true });
  }
  report('collection, N sysctl.d files:', counts, countMs);

  const value = 'a'.repeat(200);
  const stars = [10, 20, 40];
  const globMs = stars.map((k) => {
    const p = `${'*a'.repeat(k)}x`;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < 1000; i++) wildcardMatch(p, value);
    return Number(process.hrtime.bigint() - t0) / 1e6 / 1000;
  });
  console.log(`wildcardMatch, k × "*a" + "x" against 200 × "a" (per match):\n  ${stars.map((k, i) => `${k}: ${(globMs[i] as number).toFixed(3)} ms`).join('\n  ')}`);
  for (const k of [6, 8, 10, 12]) {
    const code = `const p = '${'*a'.repeat(k)}x'; const re = new RegExp('^' + p.replace(/\\*/g, '.*') + '$'); const t = Date.now(); re.test('${'a'.repeat(40)}'); console.log(Date.now() - t);`;
    const res = spawnSync(process.execPath, ['-e', code], { timeout: 20_000, encoding: 'utf8' });
    console.log(`  the replaced RegExp, ${k} stars against 40 × "a": ${res.error ? '> 20 s (killed)' : `${res.stdout.trim()} ms`}`);
  }
}

await main();
