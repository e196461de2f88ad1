/**
 * `pulumi up` on a drifted fleet, as the engine drives the provider: Create of the 4 lab hosts' HostKernelState at once
 * through bin/pulumi-resource-kdrift over gRPC (test/support/provider-harness.ts), from drifted (tcp_window_scaling=0 at
 * runtime and in a hardening file on lb, app1, app2; the client declares nothing) to behaviour-verified. Target ≤ 10 s.
 * Peer: the same fix in-process (remediation fixFleet, what `kdrift fix --yes` runs): the ratio is what the provider
 * path (plugin process, gRPC, Struct encoding, one session per operation) adds. Each round is reset by the provider's
 * Delete (revert to before kdrift).
 * Usage (after npm run build): npx tsx bench/provider-create.ts [runs] [--keep]   (lab kdpb, subnet 81)
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { labDown, labExec, labUp, type LabHostName } from '../lab/index.js';
import { repoRoot, labPaths } from '../lab/paths.js';
import { EnginePlugin, secretValue, type Props } from '../lab/pulumi-engine.js';
import { loadInventory } from '../core/inventory.js';
import { fixFleet } from '../remediation/index.js';
import { fleetBaseline } from '../stacks/baselines.js';
import { hostDeclaration } from '../stacks/declaration.js';

const LAB = 'kdpb';
const SUBNET = 81;
const TARGET_MS = 10_000;
const runs = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 3);
const keep = process.argv.includes('--keep');
const DRIFTED = ['lb', 'app1', 'app2'];

/** The outage on one host: tcp_window_scaling=0 at runtime and in a hardening file applied after everything else. */
async function inject(host: string): Promise<void> {
  // The host's own /etc as seen from the machine (the lab binds it at /etc inside the host).
  writeFileSync(path.join(labPaths(LAB).host(host as LabHostName).etc, 'sysctl.d', '99-hardening.conf'), '# harden.sh\nnet.ipv4.tcp_window_scaling=0\n');
  const r = await labExec(LAB, host, ['sysctl', '-q', '-w', 'net.ipv4.tcp_window_scaling=0']);
  if (r.code !== 0) throw new Error(r.stderr);
}

/** The plugin runs from dist/ (as installed): refuse to measure a build older than the provider's sources. */
function assertBuilt(): void {
  const root = repoRoot();
  const js = path.join(root, 'dist/stacks/provider/host-kernel-state.js');
  if (!existsSync(js) || statSync(js).mtimeMs < statSync(path.join(root, 'stacks/provider/host-kernel-state.ts')).mtimeMs) {
    throw new Error('dist/ is missing or older than stacks/provider: run npm run build first');
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)] as number;
}

async function main(): Promise<void> {
  assertBuilt();
  const status = await labUp({ name: LAB, subnet: SUBNET });
  const journalDir = mkdtempSync(path.join(os.tmpdir(), `${LAB}-journal-`));
  const inv = await loadInventory({ inventory: status.inventoryFile });
  const baseline = fleetBaseline();
  const key = readFileSync(status.identityFile, 'utf8');
  const inputs: Record<string, Props> = Object.fromEntries(
    inv.hosts.map((h) => [h.name, { host: h.name, address: h.address, port: h.port, user: h.user, privateKey: secretValue(key), ...hostDeclaration(h, baseline) }]),
  );
  const plugin = await EnginePlugin.start();
  const providerMs: number[] = [];
  const libraryMs: number[] = [];
  try {
    await plugin.configure({ knownHosts: status.knownHosts, agentCommand: inv.agentCommand ?? [], journalDir });
    const resetAll = async (outs: Record<string, Props>) => {
      await Promise.all(Object.entries(outs).map(([name, o]) => plugin.delete(name, name, o, inputs[name] as Props)));
    };
    for (let r = 1; r <= runs; r++) {
      for (const h of DRIFTED) await inject(h);
      const t0 = performance.now();
      const perHost: Record<string, number> = {};
      const created = await Promise.all(
        Object.entries(inputs).map(async ([name, props]) => {
          const t = performance.now();
          const res = await plugin.create(name, props);
          perHost[name] = Math.round(performance.now() - t);
          return [name, res.outs] as const;
        }),
      );
      const ms = performance.now() - t0;
      providerMs.push(ms);
      const outs = Object.fromEntries(created);
      const verified = DRIFTED.map((h) => `${h}:${((outs[h]?.verified as { status: string }[] | undefined) ?? []).map((v) => v.status).join('/') || 'none'}`);
      console.log(`run ${r}: provider Create x${created.length} ${(ms / 1000).toFixed(2)} s (${Object.entries(perHost).map(([h, t]) => `${h} ${t} ms`).join(', ')}; behaviour ${verified.join(' ')})`);
      await resetAll(outs);

      // Peer: the same fix in-process, then the same reset.
      for (const h of DRIFTED) await inject(h);
      const t1 = performance.now();
      const fleet = await fixFleet({ hosts: inv.hosts, baseline, sessionOptions: { knownHostsPath: status.knownHosts }, concurrency: 4, journalDir });
      const lms = performance.now() - t1;
      libraryMs.push(lms);
      console.log(`run ${r}: in-process fixFleet x${fleet.outcomes.length} ${(lms / 1000).toFixed(2)} s (${fleet.outcomes.map((o) => `${o.host} ${o.status}`).join(', ')})`);
      await resetAll(outs);
    }
  } finally {
    await plugin.stop();
    rmSync(journalDir, { recursive: true, force: true });
    if (!keep) await labDown(LAB);
  }
  const p = median(providerMs);
  const l = median(libraryMs);
  console.log(`\nprovider Create, 4 hosts drifted → behaviour-verified: median ${(p / 1000).toFixed(2)} s over ${runs} runs; target ≤ ${TARGET_MS / 1000} s: ${p <= TARGET_MS ? 'met' : 'NOT met'} (${(p / TARGET_MS).toFixed(2)}× the target)`);
  console.log(`peer, in-process fixFleet: median ${(l / 1000).toFixed(2)} s; provider / in-process = ${(p / l).toFixed(2)}×`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
});
