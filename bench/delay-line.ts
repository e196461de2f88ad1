/**
 * The lab delay line's throughput ceiling and its CPU cost at that rate.
 *
 * Two scratch namespaces (kdla-bn1, kdla-bn2; 10.71.200.0/30 — the LAB helper's range) joined by a TUN device in each
 * and the real delay line (dist/lab/delay-line.js). A TCP bulk transfer (node, 256 MiB) runs bn1 → bn2 as fast as
 * it can; the delay line's CPU is read from /proc/PID/stat (all its threads) over the transfer.
 * Cases: no delay with and without GSO (the ceiling), and 25 ms one-way (the lab's default 50 ms RTT).
 *
 *   npx tsc -p . && node dist/bench/delay-line.js        (root)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, existsSync, rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { runOk, run } from '../lab/run.js';
import { distScript } from '../lab/paths.js';
import { stopPid } from '../lab/procs.js';

const NS = ['kdla-bn1', 'kdla-bn2'] as const;
const ADDR = ['10.71.200.1', '10.71.200.2'] as const;
const PORT = 5001;
const BYTES = Number(process.env.BENCH_BYTES ?? 256 * 1024 * 1024);
const TICK = 100; // USER_HZ

const sink = `
const net = require('node:net');
const srv = net.createServer((s) => { let n = 0; s.on('data', (d) => (n += d.length)); s.on('end', () => { s.end(); srv.close(); process.stdout.write(String(n)); }); });
srv.listen(${PORT}, '${ADDR[1]}', () => process.stdout.write('ready\\n'));`;
const source = `
const net = require('node:net');
const total = Number(process.argv[1]); const chunk = Buffer.alloc(1 << 20, 7); let sent = 0;
const t0 = process.hrtime.bigint();
const s = net.connect(${PORT}, '${ADDR[1]}', () => { const pump = () => { while (sent < total) { sent += chunk.length; if (!s.write(chunk)) return s.once('drain', pump); } s.end(); }; pump(); });
s.on('close', () => process.stdout.write(JSON.stringify({ bytes: sent, ms: Number(process.hrtime.bigint() - t0) / 1e6 })));
s.resume();`;

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]); // utime + stime (fields 14, 15)
}

async function setup(): Promise<void> {
  await teardown();
  for (let i = 0; i < 2; i++) {
    const ns = NS[i] as string;
    await runOk(['ip', 'netns', 'add', ns]);
    await runOk(['ip', '-n', ns, '-batch', '-'], {
      input: `link set lo up\ntuntap add dev wan0 mode tun\naddr add ${ADDR[i]}/30 dev wan0\nlink set wan0 up\n`,
    });
  }
}

async function teardown(): Promise<void> {
  for (const ns of NS) if (existsSync(`/run/netns/${ns}`)) await run(['ip', 'netns', 'del', ns]);
}

async function once(label: string, delayMs: number, gso: boolean): Promise<Record<string, string | number>> {
  const ready = `/tmp/kdla-bench-dl-${process.pid}.ready`;
  rmSync(ready, { force: true });
  const dl = spawn(
    'nice',
    ['-n', '-15', process.execPath, distScript('delay-line'), '--a', `/run/netns/${NS[0]}:wan0`, '--b', `/run/netns/${NS[1]}:wan0`, '--delay-ms', String(delayMs), ...(gso ? ['--gso'] : []), '--ready', ready],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  let sinkProc: ChildProcess | undefined;
  try {
    while (!existsSync(ready)) await sleep(10);
    sinkProc = spawn('ip', ['netns', 'exec', NS[1], process.execPath, '-e', sink], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => sinkProc?.stdout?.once('data', () => resolve()));
    const c0 = cpuTicks(dl.pid as number);
    const w0 = performance.now();
    const out = await runOk(['ip', 'netns', 'exec', NS[0], process.execPath, '-e', source, String(BYTES)], { timeoutMs: 600_000 });
    const wallS = (performance.now() - w0) / 1000;
    const cpuS = (cpuTicks(dl.pid as number) - c0) / TICK;
    const r = JSON.parse(out) as { bytes: number; ms: number };
    return {
      case: label,
      'MB/s': Math.round((r.bytes / (r.ms / 1000) / 1e6) * 10) / 10,
      'delay-line CPU %': Math.round((cpuS / wallS) * 100),
      'CPU s per GB': Math.round((cpuS / (r.bytes / 1e9)) * 100) / 100,
    };
  } finally {
    sinkProc?.kill('SIGKILL');
    await stopPid(dl.pid as number, 500);
    rmSync(ready, { force: true });
  }
}

if (process.getuid?.() !== 0) {
  process.stderr.write('bench/delay-line: needs root (namespaces, TUN)\n');
  process.exit(1);
}
try {
  await setup();
  const rows = [];
  rows.push(await once('no delay, GSO (lab default)', 0, true));
  rows.push(await once('no delay, 1500-byte packets', 0, false));
  rows.push(await once('50 ms RTT, GSO', 25, true));
  console.table(rows);
  console.log(`${BYTES / 1048576} MiB per case, one TCP connection; machine load ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
} finally {
  await teardown();
}
