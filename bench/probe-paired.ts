/**
 * Probe overhead, paired: the loopback connect/accept/close rate (bench/probe-connloop.c) with the agent's probe
 * attached and without, in short batches side by side, so both halves of a pair see the same machine.
 *
 * Why beside probe-overhead.ts: on this VM the same bare loop swings by up to 60 % between runs seconds apart (host
 * contention), which buries a 2 % overhead when each configuration runs a whole second in turn. Here a pair is two
 * batches of a few hundred connections (~15 ms each) run back to back by one long-lived loop process on one listener,
 * the order inside a pair alternates, and the figure is the median of the per-pair rate ratios with its interquartile
 * range. The rate is connections per second of the loop's own CPU time, not of wall time: other work on the machine
 * preempts the loop for whole time slices, which wall time counts and CPU time does not; this kernel accounts CPU by
 * tick (no IRQ time accounting), so the loopback receive path and every BPF program, which run in the loop's context
 * (softirq on return from its syscalls), are in it. `control` pairs do everything a probe pair does but attach nothing: their median is the method's own bias,
 * and each configuration is also given relative to it.
 *
 * The probe is the agent's own (`Probe.start`: the observers, in-kernel filters and drain timer of `kdrift probe`),
 * configured as the behaviour checks run it: filtered to the port and this netns, tagging its own test connections
 * (checks/agent-run.ts always drives some). It is started before and closed after each probe batch.
 *
 *   node --import tsx bench/probe-paired.ts [--pairs 300] [--size 300] [--settle 100 (ms)]
 *       [--configs 'control,wscale+stalls,wscale,stalls'] (also: agent, empty:state+queue+probe, empty:sockops+egress+ingress)
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { freePort } from '../lab/loopback-sshd.js';
import { parseArgs } from 'node:util';
import { BpfObject, Probe, OBSERVER_NAMES, cgroup2Root, type ObserverName } from '../probe/index.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { pairs: { type: 'string' }, size: { type: 'string' }, configs: { type: 'string' }, settle: { type: 'string' } } });
const PAIRS = Number(values.pairs ?? 300);
const SIZE = Number(values.size ?? 300);
/** A configuration: `control` (nothing), `agent` (the agent with no observer: its timer only), observers joined by
 * `+` (what `--observe` would name), or `empty:` and hooks joined by `+` (EMPTY_HOOKS: empty programs from
 * bpf/bench_hooks.bpf.c, the dispatch floor of those hooks). */
const CONFIGS = (values.configs ?? 'control,wscale+stalls,wscale,stalls').split(',').map((c) => c.trim());
/** Hook → the empty program on it in bpf/bench_hooks.bpf.o; sock_ops and cgroup_skb attach to the cgroup v2 root. */
const EMPTY_HOOKS: Record<string, { prog: string; cgroup: boolean }> = {
  state: { prog: 'kd_bench_state', cgroup: false },
  queue: { prog: 'kd_bench_queue', cgroup: false },
  probe: { prog: 'kd_bench_probe', cgroup: false },
  sockops: { prog: 'kd_bench_sockops', cgroup: true },
  egress: { prog: 'kd_bench_egress', cgroup: true },
  ingress: { prog: 'kd_bench_ingress', cgroup: true },
};
for (const c of CONFIGS) {
  if (c === 'control' || c === 'agent') continue;
  if (c.startsWith('empty:')) {
    for (const h of c.slice(6).split('+')) if (!EMPTY_HOOKS[h]) throw new Error(`--configs: unknown hook "${h}" (known: ${Object.keys(EMPTY_HOOKS).join(', ')})`);
    continue;
  }
  for (const o of c.split('+')) if (!OBSERVER_NAMES.includes(o as ObserverName)) throw new Error(`--configs: unknown observer "${o}" (known: ${OBSERVER_NAMES.join(', ')})`);
}


function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  const i = (s.length - 1) * q;
  const lo = Math.floor(i);
  const hi = Math.ceil(i);
  return (s[lo] as number) + ((s[hi] as number) - (s[lo] as number)) * (i - lo);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const SETTLE_MS = Number(values.settle ?? 100);
const WARM = 150;

/** The loop process: one listener, a batch of `n` connections per request, its wall time back. */
class Loop {
  private readonly lines: AsyncIterator<string>;
  constructor(private readonly child: ReturnType<typeof spawn>) {
    this.lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })[Symbol.asyncIterator]();
  }
  /** Connections per second of the loop's own CPU time (see the header: why CPU, not wall). */
  async batch(n: number): Promise<number> {
    this.child.stdin?.write(`${n}\n`);
    const { value, done } = await this.lines.next();
    if (done) throw new Error('the connection loop exited');
    return n / (Number(String(value).split(' ')[1]) / 1e9);
  }
  close(): void {
    this.child.stdin?.end();
    this.child.kill();
  }
}

/** Loads bpf/bench_hooks.bpf.o and attaches the empty programs of `hooks`; close() detaches and frees them. */
function attachEmpty(hooks: string[], cgroupRoot: string): BpfObject {
  const obj = BpfObject.open(path.join(REPO, 'bpf', 'bench_hooks.bpf.o'));
  try {
    obj.load();
    for (const h of hooks) {
      const { prog, cgroup } = EMPTY_HOOKS[h] as { prog: string; cgroup: boolean };
      if (cgroup) obj.attachCgroup(prog, cgroupRoot);
      else obj.attach(prog);
    }
    return obj;
  } catch (err) {
    obj.close();
    throw err;
  }
}

async function main(): Promise<void> {
  if (process.geteuid?.() !== 0) throw new Error('run as root');
  const cgroupRoot = await cgroup2Root();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kdbp-paired-'));
  let loop: Loop | undefined;
  try {
    const bin = path.join(dir, 'connloop');
    execFileSync('clang', ['-O2', '-o', bin, path.join(REPO, 'bench', 'probe-connloop.c')]);
    const port = await freePort();
    loop = new Loop(spawn(bin, [String(port), '-'], { stdio: ['pipe', 'pipe', 'inherit'] }));
    await loop.batch(SIZE * 10); // warm-up
    const ratios = new Map<string, number[]>(CONFIGS.map((c) => [c, []]));
    // Rates of every batch by configuration: the fast end (90th percentile) is what other load on the machine
    // disturbs least (preemption and contention only ever slow a batch down).
    const rates = new Map<string, { bare: number[]; probed: number[] }>(CONFIGS.map((c) => [c, { bare: [], probed: [] }]));
    for (let i = 0; i < PAIRS * CONFIGS.length; i++) {
      const cfg = CONFIGS[i % CONFIGS.length] as string;
      const probeFirst = Math.floor(i / CONFIGS.length) % 2 === 1;
      let bare = 0;
      let probed = 0;
      for (const withProbe of probeFirst ? [true, false] : [false, true]) {
        if (!withProbe) {
          await loop.batch(WARM);
          await sleep(SETTLE_MS);
          bare = await loop.batch(SIZE);
          continue;
        }
        const empty = cfg.startsWith('empty:') ? attachEmpty(cfg.slice(6).split('+'), cgroupRoot) : undefined;
        const observe = cfg === 'control' || cfg === 'agent' || empty ? [] : (cfg.split('+') as ObserverName[]);
        const probe = cfg !== 'control' && !empty ? await Probe.start({ ports: [port], netns: 'self', observe, tagOwn: true }) : undefined;
        try {
          // Loading and freeing BPF objects leaves RCU callbacks that run in softirq on whatever task is current,
          // the loop's CPU time included: let them run out before a batch. Every batch follows the same pause.
          // Steady state: the probe emits connection samples until it holds enough (100), then counts only; a check
          // window on a busy host is almost all the latter. The warm-up batch fills them (the bare half runs one too).
          await loop.batch(WARM);
          await sleep(SETTLE_MS);
          probed = await loop.batch(SIZE);
          if (probe && observe.includes('wscale')) {
            const seen = probe.snapshot(0).summary.reduce((n, r) => n + r.connections + r.own.connections, 0);
            if (seen !== 2 * (SIZE + WARM)) throw new Error(`the probe (${cfg}) saw ${seen} connection ends, expected ${2 * (SIZE + WARM)}`);
          }
        } finally {
          probe?.close();
          empty?.close();
        }
      }
      ratios.get(cfg)?.push(probed / bare);
      rates.get(cfg)?.bare.push(bare);
      rates.get(cfg)?.probed.push(probed);
    }
    const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
    const control = ratios.get('control');
    const bias = control ? quantile(control, 0.5) : 1;
    process.stdout.write(
      `${PAIRS} pairs per configuration, batches of ${SIZE} loopback connections (kernel ${os.release()}, ${os.cpus().length} CPUs, ` +
        `load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}); probe filtered to the port and its netns, tagging own connections:\n`,
    );
    const fast = (cfg: string) => {
      const r = rates.get(cfg) as { bare: number[]; probed: number[] };
      return quantile(r.probed, 0.9) / quantile(r.bare, 0.9);
    };
    for (const [cfg, rs] of ratios) {
      process.stdout.write(
        `  ${cfg.padEnd(16)} rate with / without: median of pairs ${pct(quantile(rs, 0.5))} (IQR ${pct(quantile(rs, 0.25))}–${pct(quantile(rs, 0.75))})` +
          `${control && cfg !== 'control' ? ` = ${pct(quantile(rs, 0.5) / bias)} of control` : ''}; ` +
          `fast end (p90 rates) ${pct(fast(cfg))}${control && cfg !== 'control' ? ` = ${pct(fast(cfg) / fast('control'))} of control` : ''}\n`,
      );
    }
  } finally {
    loop?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exitCode = 1;
});
