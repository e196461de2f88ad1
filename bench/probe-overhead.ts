/**
 * Probe overhead: loopback connect/accept/close rate (bench/probe-connloop.c, 20k connections a run) bare, with the
 * kdrift probe attached, and with a bpftrace script observing the same thing (window scaling of every new connection
 * through BTF on tracepoint:sock:inet_sock_set_state). Interleaved repetitions; medians and ratios printed.
 *
 * Two measures: the connection rate (wall clock; noisy on a shared machine) and the CPU cost per connection = the
 * loop's own CPU time (the kernel's TCP + BPF work on loopback runs in its context) + the CPU the observer process
 * (agent or bpftrace) used meanwhile. Overhead = extra CPU per connection over bare. The CPU measure is what
 * other load on the machine disturbs least.
 *
 *   node --import tsx bench/probe-overhead.ts [--reps 5] [--count 20000] [--rate-only] [--configs 'bare,probe wscale,probe wscale+cc']
 *
 * A third measure, robust to other load on the machine: the run time of the observer's BPF programs per connection,
 * from the kernel's own BPF statistics (kernel.bpf_stats_enabled, switched on for the run and restored after). It
 * leaves out the tracepoint/perf machinery and the user-space consumers, which the CPU measure includes.
 *
 * Needs root, clang, bpftrace; mounts tracefs at /sys/kernel/tracing if it is not mounted and unmounts it only then.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../lab/loopback-sshd.js';
import { parseArgs } from 'node:util';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { reps: { type: 'string' }, count: { type: 'string' }, 'rate-only': { type: 'boolean' }, configs: { type: 'string' } } });
const REPS = Number(values.reps ?? 7);
const COUNT = Number(values.count ?? 20000);

// probe --port: what the behaviour checks run (window scaling + stalls, filtered to the port and the agent's netns);
// probe wscale: window scaling only (--observe wscale), the same thing the bpftrace scripts observe;
// probe --netns all: no filter at all;
// probe wscale+cc: window scaling and congestion control (what a host declaring both kinds runs); probe cc: the
// congestion observer alone.
type Config = 'bare' | 'probe --port' | 'probe wscale' | 'probe wscale+cc' | 'probe cc' | 'probe --netns all' | 'bpftrace printf' | 'bpftrace count';
const ALL_CONFIGS: Config[] = ['bare', 'probe --port', 'probe wscale', 'probe wscale+cc', 'probe cc', 'probe --netns all', 'bpftrace printf', 'bpftrace count'];
const CONFIGS: Config[] = values.configs ? (values.configs.split(',').map((c) => c.trim()) as Config[]) : ALL_CONFIGS;
for (const c of CONFIGS) if (!ALL_CONFIGS.includes(c)) throw new Error(`--configs: unknown configuration "${c}" (known: ${ALL_CONFIGS.join(', ')})`);
if (!CONFIGS.includes('bare')) CONFIGS.unshift('bare');


function waitFor(child: ChildProcess, stream: 'stdout' | 'stderr', re: RegExp, timeoutMs = 30_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const t = setTimeout(() => reject(new Error(`timeout waiting for ${re}: ${buf.slice(-300)}`)), timeoutMs);
    child[stream]?.on('data', (d: Buffer) => {
      buf += d.toString();
      if (re.test(buf)) {
        clearTimeout(t);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`exited ${code} before ${re}: ${buf.slice(-300)}`));
    });
  });
}

/** SIGINT, then wait for the streams to close too (so everything it printed has been read). */
function stop(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
    child.once('close', (code) => resolve(code));
    child.kill('SIGINT');
  });
}

/** utime + stime of a process in ns (from /proc/<pid>/stat, clock ticks of 10 ms). */
function cpuNs(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 1e7;
  } catch {
    return 0;
  }
}

function bpftraceScript(port: number, mode: 'printf' | 'count'): string {
  const body =
    mode === 'printf'
      ? 'printf("%d %d %d %d %d\\n", args->sport, args->dport, $rx.wscale_ok, $rx.snd_wscale, $rx.rcv_wscale);'
      : '@ws[$rx.wscale_ok, $rx.snd_wscale] = count();';
  // BEGIN runs once every probe is attached: its line is the readiness signal ("Attaching..." comes before).
  return `BEGIN { printf("ready\\n"); }
tracepoint:sock:inet_sock_set_state
/args->newstate == 1 && args->protocol == 6 && (args->sport == ${port} || args->dport == ${port})/
{
  $rx = ((struct tcp_sock *)args->skaddr)->rx_opt;
  ${body}
}
`;
}

interface Observer {
  child?: ChildProcess;
  check: () => string;
  done: () => Promise<void>;
}

async function startObserver(cfg: Config, port: number): Promise<Observer> {
  if (cfg === 'bare') return { check: () => '', done: async () => {} };
  if (cfg.startsWith('probe')) {
    const observe: Partial<Record<Config, string>> = { 'probe wscale': 'wscale', 'probe wscale+cc': 'wscale,congestion', 'probe cc': 'congestion' };
    const filter = cfg === 'probe --netns all' ? ['--netns', 'all'] : ['--port', String(port), ...(observe[cfg] ? ['--observe', observe[cfg]] : [])];
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO, 'probe', 'agent-entry.ts'), 'probe', '--json', '--samples', '0', '--duration', '1h', ...filter], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor(child, 'stderr', /attached/);
    return {
      child,
      check: () => {
        const o = JSON.parse(out) as {
          summary: Array<{ port: number; direction: string; connections: number; negotiated: number }>;
          congestion?: { rows: Array<{ port: number; algorithm: string; connections: number }> };
          dropped: { events: number };
        };
        const mine = o.summary.filter((r) => r.port === port && r.direction !== 'unknown');
        const seen = mine.reduce((n, r) => n + r.connections, 0);
        const cc = (o.congestion?.rows ?? []).filter((r) => r.port === port).map((r) => `${r.algorithm} ${r.connections}`);
        return `saw ${seen} connection ends (${mine.reduce((n, r) => n + r.negotiated, 0)} negotiated)${cc.length ? `, congestion ${cc.join(' ')}` : ''}, dropped samples ${o.dropped.events}`;
      },
      done: async () => {
        await stop(child);
      },
    };
  }
  const mode = cfg === 'bpftrace printf' ? 'printf' : 'count';
  // Output to a file, as an operator would redirect it; read back after bpftrace exits.
  const outFile = path.join(os.tmpdir(), `kdbp-bpftrace-${process.pid}-${port}.out`);
  const fd = openSync(outFile, 'w');
  const child = spawn('bpftrace', ['-e', bpftraceScript(port, mode)], { stdio: ['ignore', fd, 'pipe'] });
  closeSync(fd);
  for (let i = 0; !readFileSync(outFile, 'utf8').includes('ready\n'); i++) {
    if (child.exitCode !== null || i > 600) throw new Error(`bpftrace did not start: ${readFileSync(outFile, 'utf8').slice(-300)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    child,
    check: () => {
      const text = readFileSync(outFile, 'utf8');
      rmSync(outFile, { force: true });
      const lost = /Lost (\d+) events/.exec(text);
      if (mode === 'printf') return `printed ${text.split('\n').filter((l) => /^\d+ \d+ \d \d+ \d+$/.test(l)).length} lines${lost ? `, lost ${lost[1]} events` : ''}`;
      return `map: ${text.split('\n').filter((l) => l.startsWith('@')).join(' ')}`;
    },
    done: async () => {
      await stop(child);
    },
  };
}

interface ProgStat {
  id: number;
  name?: string;
  run_time_ns?: number;
}
function progStats(): Map<number, ProgStat> {
  const all = JSON.parse(execFileSync('bpftool', ['-j', 'prog', 'show'], { encoding: 'utf8' })) as ProgStat[];
  return new Map(all.map((p) => [p.id, p]));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

async function main(): Promise<void> {
  if (process.geteuid?.() !== 0) throw new Error('run as root');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kdbp-bench-'));
  const loop = path.join(dir, 'connloop');
  execFileSync('clang', ['-O2', '-o', loop, path.join(REPO, 'bench', 'probe-connloop.c')]);
  const mountedTracefs = !readFileSync('/proc/mounts', 'utf8').split('\n').some((l) => l.split(' ')[2] === 'tracefs');
  if (mountedTracefs) execFileSync('mount', ['-t', 'tracefs', 'tracefs', '/sys/kernel/tracing']);
  const rates = new Map<Config, number[]>(CONFIGS.map((c) => [c, []]));
  const cpus = new Map<Config, number[]>(CONFIGS.map((c) => [c, []]));
  const bpfNs = new Map<Config, number[]>(CONFIGS.map((c) => [c, []]));
  const statsWere = readFileSync('/proc/sys/kernel/bpf_stats_enabled', 'utf8').trim();
  // BPF statistics cost two clock reads per program run, which the rate and CPU measures then include for the BPF
  // observers only: --rate-only leaves them off for clean rate ratios (the BPF column then reads 0).
  const RATE_ONLY = values['rate-only'] === true;
  if (statsWere === '0' && !RATE_ONLY) execFileSync('sysctl', ['-qw', 'kernel.bpf_stats_enabled=1']);
  execFileSync(loop, [String(await freePort()), String(COUNT)]); // warm-up, not counted
  try {
    for (let rep = 0; rep < REPS; rep++) {
      // Rotate the order every repetition so slow drift of the machine does not favour one configuration.
      const order = CONFIGS.map((_, i) => CONFIGS[(i + rep) % CONFIGS.length] as Config);
      for (const cfg of order) {
        const port = await freePort();
        const idsBefore = new Set(progStats().keys());
        const obs = await startObserver(cfg, port);
        // The observer's programs: those that appeared with it, by its naming (kd_ for the probe; bpftrace's tracepoint).
        const mine = [...progStats().values()].filter((p) => !idsBefore.has(p.id) && (cfg.startsWith('probe') ? p.name?.startsWith('kd_') : cfg !== 'bare'));
        const runBefore = new Map(mine.map((p) => [p.id, p.run_time_ns ?? 0]));
        let ns: number;
        let cpu: number;
        let byProgram = '';
        try {
          const before = cpuNs(obs.child?.pid);
          const [wall, loopCpu] = execFileSync(loop, [String(port), String(COUNT)], { encoding: 'utf8' }).trim().split(' ').map(Number);
          ns = wall as number;
          cpu = (loopCpu as number) + (cpuNs(obs.child?.pid) - before);
          const after = progStats();
          const ran = [...runBefore].reduce((n, [id, t]) => n + ((after.get(id)?.run_time_ns ?? t) - t), 0);
          bpfNs.get(cfg)?.push(ran / COUNT);
          // Per program: run time and runs per connection, so a change can be placed (printed only when stats are on).
          if (ran > 0)
            byProgram = mine
              .map((p) => {
                const a = after.get(p.id) as (ProgStat & { run_cnt?: number }) | undefined;
                const runs = (a?.run_cnt ?? 0) - ((p as ProgStat & { run_cnt?: number }).run_cnt ?? 0);
                return `${p.name}: ${(((a?.run_time_ns ?? 0) - (runBefore.get(p.id) ?? 0)) / COUNT).toFixed(0)} ns in ${(runs / COUNT).toFixed(1)} runs`;
              })
              .join(', ');
        } finally {
          await obs.done();
        }
        const rate = COUNT / (ns / 1e9);
        rates.get(cfg)?.push(rate);
        cpus.get(cfg)?.push(cpu / COUNT / 1000);
        const note = obs.check();
        process.stdout.write(
          `rep ${rep + 1} ${cfg.padEnd(18)} ${rate.toFixed(0).padStart(6)} conn/s  ${(cpu / COUNT / 1000).toFixed(1).padStart(6)} µs CPU/conn  ` +
            `${(bpfNs.get(cfg)?.at(-1) ?? 0).toFixed(0).padStart(5)} ns BPF/conn${note ? `  (${note})` : ''}\n` +
            (byProgram ? `      per connection: ${byProgram}\n` : ''),
        );
      }
    }
  } finally {
    if (mountedTracefs) execFileSync('umount', ['/sys/kernel/tracing']);
    if (statsWere === '0' && !RATE_ONLY) execFileSync('sysctl', ['-qw', 'kernel.bpf_stats_enabled=0']);
    rmSync(dir, { recursive: true, force: true });
  }
  const bare = median(rates.get('bare') ?? []);
  const bareCpu = median(cpus.get('bare') ?? []);
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  process.stdout.write(`\nmedians over ${REPS} repetitions of ${COUNT} loopback connections (kernel ${os.release()}, ${os.cpus().length} CPUs, load ${load}):\n`);
  for (const cfg of CONFIGS) {
    const m = median(rates.get(cfg) ?? []);
    const c = median(cpus.get(cfg) ?? []);
    const b = median(bpfNs.get(cfg) ?? []);
    process.stdout.write(
      `  ${cfg.padEnd(18)} ${m.toFixed(0).padStart(6)} conn/s = ${((m / bare) * 100).toFixed(1).padStart(5)} % of bare   ` +
        `${c.toFixed(2).padStart(6)} µs CPU/conn = overhead ${(((c - bareCpu) / bareCpu) * 100).toFixed(1).padStart(5)} %   ` +
        `BPF ${b.toFixed(0).padStart(5)} ns/conn = ${((b / 1000 / bareCpu) * 100).toFixed(2)} % of a bare connection's CPU\n`,
    );
  }
  const ov = (cfg: Config) => median(cpus.get(cfg) ?? []) - bareCpu;
  if (CONFIGS.includes('probe wscale') && CONFIGS.includes('probe wscale+cc')) {
    const bpf = (cfg: Config) => median(bpfNs.get(cfg) ?? []);
    process.stdout.write(
      `  congestion control on top of window scaling: +${(ov('probe wscale+cc') - ov('probe wscale')).toFixed(2)} µs CPU/conn, ` +
        `+${(bpf('probe wscale+cc') - bpf('probe wscale')).toFixed(0)} ns BPF/conn\n`,
    );
  }
  for (const probe of (['probe --port', 'probe wscale', 'probe --netns all'] as const).filter((c) => CONFIGS.includes(c))) {
    for (const bt of (['bpftrace printf', 'bpftrace count'] as const).filter((c) => CONFIGS.includes(c))) {
      const ratio = ov(probe) > 0 ? `${(ov(bt) / ov(probe)).toFixed(1)}×` : `∞ (probe overhead ${ov(probe).toFixed(2)} µs, within noise)`;
      const bb = median(bpfNs.get(bt) ?? []) / median(bpfNs.get(probe) ?? []);
      process.stdout.write(`  CPU overhead ${bt} / ${probe}: ${ratio}; BPF run time ${bt} / ${probe}: ${bb.toFixed(2)}×\n`);
    }
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exitCode = 1;
});
