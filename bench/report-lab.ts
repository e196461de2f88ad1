/**
 * How long a full lab report takes: brings up lab `kdrp` (subnet 72, no WAN delay), runs the engine over every lab
 * host N times in-process (fresh SSH connections each run, like the CLI), prints per-run and per-host wall times,
 * then tears the lab down unless --keep. Usage: npx tsx bench/report-lab.ts [runs] [--keep]
 */
import { labDown, labUp } from '../lab/index.js';
import { loadInventory } from '../core/inventory.js';
import { runChecks } from '../core/engine/index.js';
import { fleetBaseline } from '../stacks/baselines.js';

const runs = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 10);
const keep = process.argv.includes('--keep');
const lab = await labUp({ name: 'kdrp', subnet: 72, rttMs: 0 });
try {
  const inventory = await loadInventory({ inventory: lab.inventoryFile });
  const baseline = fleetBaseline();
  const totals: number[] = [];
  const perHost = new Map<string, number[]>();
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const report = await runChecks({ inventory, baseline, hosts: inventory.hosts, sessionOptions: { knownHostsPath: inventory.knownHosts ?? '' }, concurrency: 64 });
    totals.push(performance.now() - t0);
    if (report.summary.errors > 0 || report.summary.findings > 0) throw new Error(`lab not clean: ${JSON.stringify(report.summary)}`);
    for (const h of report.hosts) perHost.set(h.name, [...(perHost.get(h.name) ?? []), h.durationMs ?? 0]);
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  console.log(`full lab report (4 hosts, ${inventory.hosts.reduce((n, h) => n + h.roles.length, 0)} roles), ${runs} runs: median ${med(totals).toFixed(0)} ms, min ${Math.min(...totals).toFixed(0)} ms, max ${Math.max(...totals).toFixed(0)} ms`);
  for (const [h, xs] of perHost) console.log(`  ${h}: median ${med(xs).toFixed(0)} ms`);
} finally {
  if (!keep) await labDown('kdrp');
}
