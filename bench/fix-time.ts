/**
 * Time from `kdrift fix` start to behaviour-verified on the drifted lab (target ≤ 10 s).
 * Brings up lab `kdfx` (subnet 76, 50 ms WAN), then N times: inject the outage on lb (tcp_window_scaling=0 at runtime and
 * in /etc/sysctl.d/99-hardening.conf), run `kdrift fix --yes` over the whole inventory as a child process and time it to
 * its exit (it exits only after the behaviour check verified), then undo the fix by hand for the next round.
 * Also runs the same fix in-process to split the time into plan / apply / verify.
 * Usage: npx tsx bench/fix-time.ts [runs] [--keep]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync, statSync, writeFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { labDown, labUp, labExec } from '../lab/index.js';
import { repoRoot, labPaths } from '../lab/paths.js';
import { loadInventory } from '../core/inventory.js';
import { openSession } from '../core/sessions.js';
import { fleetBaseline } from '../stacks/baselines.js';
import { remediateHost } from '../remediation/index.js';

const LAB = 'kdfx';
const runs = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 5);
const keep = process.argv.includes('--keep');
const root = repoRoot();
// lb's own /etc and /var/lib as seen from the machine (the lab binds these at /etc and /var/lib inside lb).
const sysctlD = path.join(labPaths(LAB).host('lb').etc, 'sysctl.d');
const journalDir = path.join(labPaths(LAB).host('lb').root, 'var/lib/kdrift/journal');

async function inject(): Promise<void> {
  writeFileSync(path.join(sysctlD, '99-hardening.conf'), '# harden.sh\nnet.ipv4.tcp_window_scaling=0\n');
  const r = await labExec(LAB, 'lb', ['sysctl', '-q', '-w', 'net.ipv4.tcp_window_scaling=0']);
  if (r.code !== 0) throw new Error(r.stderr);
}

async function reset(): Promise<void> {
  rmSync(path.join(sysctlD, '99-hardening.conf'), { force: true });
  rmSync(path.join(sysctlD, '90-kdrift.conf'), { force: true });
  await labExec(LAB, 'lb', ['sysctl', '-q', '-w', 'net.ipv4.tcp_window_scaling=1']);
}

/** The compiled CLI when dist/ is at least as new as the sources it runs; else the sources through tsx (slower start). */
function cliArgv(): { argv: string[]; how: string } {
  const fresh = ['remediation/host.ts', 'remediation/sysctl.ts', 'cli/commands/fix.ts'].every((f) => {
    const js = path.join(root, 'dist', f.replace(/\.ts$/, '.js'));
    return existsSync(js) && statSync(js).mtimeMs >= statSync(path.join(root, f)).mtimeMs;
  });
  if (fresh) return { argv: [process.execPath, path.join(root, 'bin', 'kdrift.js')], how: 'node bin/kdrift.js (dist)' };
  const code = 'const { main } = await import("./cli/main.ts"); process.exitCode = await main(process.argv.slice(1));';
  return { argv: [process.execPath, '--import', 'tsx', '--input-type=module', '-e', code], how: 'tsx (dist/ is stale)' };
}

const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const journalsBefore = existsSync(journalDir) ? readdirSync(journalDir) : [];
const lab = await labUp({ name: LAB, subnet: 76 });
try {
  await reset();
  const cli = cliArgv();
  const wall: number[] = [];
  for (let i = 0; i < runs; i++) {
    await inject();
    const t0 = performance.now();
    const res = spawnSync(cli.argv[0] as string, [...cli.argv.slice(1), 'fix', '--yes', '--inventory', lab.inventoryFile], { cwd: root, encoding: 'utf8' });
    const ms = performance.now() - t0;
    if (res.status !== 0 || !/lb: applied and VERIFIED/.test(res.stdout) || !/behaviour ok: tcp\.windowScaling port 80/.test(res.stdout)) {
      throw new Error(`run ${i}: exit ${res.status}\n${res.stdout}\n${res.stderr}`);
    }
    wall.push(ms);
    await reset();
  }
  console.log(`kdrift fix --yes (4 hosts, lb drifted) → lb behaviour-verified, via ${cli.how}, ${runs} runs:`);
  console.log(`  wall time from start to exit: median ${(med(wall) / 1000).toFixed(2)} s, min ${(Math.min(...wall) / 1000).toFixed(2)} s, max ${(Math.max(...wall) / 1000).toFixed(2)} s (target ≤ 10 s)`);

  // In-process, one host: where the time goes.
  const inv = await loadInventory({ inventory: lab.inventoryFile });
  const lb = inv.hosts.find((h) => h.name === 'lb');
  if (!lb) throw new Error('no lb');
  const split = { plan: [] as number[], apply: [] as number[], verify: [] as number[], total: [] as number[], connect: [] as number[] };
  for (let i = 0; i < runs; i++) {
    await inject();
    const t0 = performance.now();
    const session = await openSession(lb, { knownHostsPath: inv.knownHosts ?? '' });
    split.connect.push(performance.now() - t0);
    try {
      const o = await remediateHost(session, lb, fleetBaseline(), {});
      if (o.status !== 'verified') throw new Error(`in-process run ${i}: ${o.status} ${o.reasons.join('; ')}`);
      split.plan.push(o.timings.planMs ?? 0);
      split.apply.push(o.timings.applyMs ?? 0);
      split.verify.push(o.timings.verifyMs ?? 0);
      split.total.push(performance.now() - t0);
    } finally {
      await session.close();
    }
    await reset();
  }
  console.log(`in-process remediateHost(lb), ${runs} runs (medians): connect ${med(split.connect).toFixed(0)} ms, lock+plan ${med(split.plan).toFixed(0)} ms, journal+apply ${med(split.apply).toFixed(0)} ms, verify (config + 1 s probe window) ${med(split.verify).toFixed(0)} ms, total ${med(split.total).toFixed(0)} ms`);
} finally {
  await reset().catch(() => undefined);
  if (existsSync(journalDir)) for (const f of readdirSync(journalDir)) if (!journalsBefore.includes(f)) rmSync(path.join(journalDir, f), { force: true });
  if (!keep) await labDown(LAB);
}
