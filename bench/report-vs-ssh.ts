/**
 * kdrift's collection beside what people do by hand, on lab `kdrp` (same hosts, same keys):
 *   kdrift engine     — runChecks in-process: ssh2, one exec per host (runtime + the whole sysctl.d family), judged;
 *   ssh per host      — OpenSSH, one `ssh host 'sysctl -n KEYS; cat sysctl.d'` per host, in parallel (collect only);
 *   ssh per key       — OpenSSH, one `ssh host sysctl -n KEY` per key per host, in parallel (the ad-hoc loop).
 * Usage: npx tsx bench/report-vs-ssh.ts [runs] [--keep]
 */
import { spawn } from 'node:child_process';
import { labDown, labUp } from '../lab/index.js';
import { loadInventory } from '../core/inventory.js';
import { planChecks, runChecks } from '../core/engine/index.js';
import { fleetBaseline } from '../stacks/baselines.js';

const runs = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 5);
const keep = process.argv.includes('--keep');

function run(argv: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const c = spawn(argv[0] as string, argv.slice(1), { stdio: ['ignore', 'ignore', 'inherit'] });
    c.on('error', reject);
    c.on('close', (code) => (code === 0 ? resolve(0) : reject(new Error(`${argv.join(' ')} exit ${code}`))));
  });
}

async function time(fn: () => Promise<unknown>): Promise<number[]> {
  const xs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    xs.push(performance.now() - t0);
  }
  return xs;
}
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

const lab = await labUp({ name: 'kdrp', subnet: 72, rttMs: 0 });
try {
  const inventory = await loadInventory({ inventory: lab.inventoryFile });
  const baseline = fleetBaseline();
  const hosts = inventory.hosts.filter((h) => planChecks(h, baseline).sysctls.size > 0);
  const keysOf = (h: (typeof hosts)[number]) => [...planChecks(h, baseline).sysctls.keys()];
  const ssh = (host: string, ...cmd: string[]) => ['ssh', '-F', lab.sshConfig, host, ...cmd];

  const kdrift = await time(() =>
    runChecks({ inventory, baseline, hosts: inventory.hosts, sessionOptions: { knownHostsPath: inventory.knownHosts ?? '' }, concurrency: 64 }),
  );
  const perHost = await time(() =>
    Promise.all(hosts.map((h) => run(ssh(h.name, `sysctl -n ${keysOf(h).join(' ')}; cat /etc/sysctl.d/*.conf /run/sysctl.d/*.conf /usr/lib/sysctl.d/*.conf /etc/sysctl.conf 2>/dev/null; true`)))),
  );
  const perKey = await time(() => Promise.all(hosts.flatMap((h) => keysOf(h).map((k) => run(ssh(h.name, 'sysctl', '-n', k))))));
  const n = hosts.reduce((a, h) => a + keysOf(h).length, 0);
  console.log(`lab kdrp: ${inventory.hosts.length} hosts (${hosts.length} with sysctls, ${n} keys), ${runs} runs, median wall time:`);
  console.log(`  kdrift engine (collect + judge, runtime + persisted): ${med(kdrift).toFixed(0)} ms`);
  console.log(`  OpenSSH, one ssh per host (collect only):           ${med(perHost).toFixed(0)} ms`);
  console.log(`  OpenSSH, one ssh per key (collect runtime only):    ${med(perKey).toFixed(0)} ms`);
} finally {
  if (!keep) await labDown('kdrp');
}
