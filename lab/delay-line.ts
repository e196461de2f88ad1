/**
 * The lab's WAN wire: carries IP packets between two TUN devices (one in `client`, one in `lb`) after a fixed one-way
 * delay, optionally through a token-bucket bandwidth cap. Nothing else: no routing, no reordering, no loss except a
 * full bottleneck queue when a cap is set. It never touches any device but the two it is given.
 *
 * Usage: node dist/lab/delay-line.js --a NETNS_PATH:DEV --b NETNS_PATH:DEV --delay-ms MS
 *          [--rate BYTES_PER_S] [--burst BYTES] [--queue-ms MS] [--gso] [--ready FILE]
 * --gso: packets carry a virtio-net header and may be TCP segments of up to 64 KiB (TSO/GSO, as between a VM and its
 * host): one read moves up to ~45 MTU-sized packets, which lifts the ceiling several-fold. TCP's windows, RTT and the
 * bytes on the wire are unchanged; only the per-packet cost of the user-space hop goes down.
 * Each TUN fd is read with one outstanding fs.read (libuv thread pool) so packets leave in the order they came;
 * writes are synchronous (a TUN write never blocks: it hands the packet to the other namespace's stack).
 */
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { loadTunAddon } from './tun-native.js';

const { values } = parseArgs({
  options: {
    a: { type: 'string' },
    b: { type: 'string' },
    'delay-ms': { type: 'string', default: '0' },
    rate: { type: 'string' },
    burst: { type: 'string' },
    'queue-ms': { type: 'string', default: '200' },
    ready: { type: 'string' },
    gso: { type: 'boolean', default: false },
  },
});

function endpoint(spec: string | undefined, flag: string): { netns: string; dev: string } {
  const m = spec ? /^(.+):([^:/]{1,15})$/.exec(spec) : null;
  if (!m) {
    process.stderr.write(`delay-line: --${flag} must be NETNS_PATH:DEV\n`);
    process.exit(2);
  }
  return { netns: m[1] as string, dev: m[2] as string };
}

const delayMs = Number(values['delay-ms']);
const rate = values.rate ? Number(values.rate) : 0; // bytes per second; 0 = no cap
const burst = values.burst ? Number(values.burst) : 16 * 1024;
const queueMs = Number(values['queue-ms']);
if (!(delayMs >= 0) || !(rate >= 0) || !(burst > 0) || !(queueMs > 0)) {
  process.stderr.write('delay-line: --delay-ms, --rate, --burst and --queue-ms must be non-negative numbers\n');
  process.exit(2);
}

/**
 * Timers have millisecond resolution and fire late (event-loop clock, scheduling); reads reach JS a little after the
 * packet reached the TUN. A packet is therefore sent when it is due within EARLY_MS, and timers aim that much early:
 * the one-way delay lands on the requested value on average instead of 1-2 ms over it.
 */
const EARLY_MS = 1;

interface Packet {
  due: number;
  data: Buffer;
}

class Direction {
  private readonly queue: Packet[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerDue = Infinity;
  /** Virtual time at which the capped link is next free (token bucket with `burst` bytes of depth). */
  private nextFree = 0;
  private readonly buf = Buffer.allocUnsafe(128 * 1024);
  packets = 0;
  bytes = 0;
  drops = 0;

  constructor(
    readonly name: string,
    private readonly from: number,
    private readonly to: number,
  ) {}

  start(): void {
    fs.read(this.from, this.buf, 0, this.buf.length, null, (err, n) => {
      if (err) {
        process.stderr.write(`delay-line: read ${this.name}: ${err.message}\n`);
        shutdown(1);
        return;
      }
      if (n > 0) this.enqueue(Buffer.from(this.buf.subarray(0, n)));
      this.start();
    });
  }

  private enqueue(data: Buffer): void {
    const now = performance.now();
    let depart = now;
    if (rate > 0) {
      const start = Math.max(this.nextFree, now - (burst / rate) * 1000);
      const finish = start + (data.length / rate) * 1000;
      if (finish - now > queueMs) {
        this.drops++; // bottleneck queue full: a real router drops here too
        return;
      }
      this.nextFree = finish;
      depart = Math.max(now, finish);
    }
    this.queue.push({ due: depart + delayMs, data });
    this.schedule(now);
  }

  private schedule(now: number): void {
    const next = this.queue[this.head];
    if (!next) return;
    if (this.timer && this.timerDue <= next.due) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerDue = next.due;
    this.timer = setTimeout(() => this.flush(), Math.max(0, Math.floor(next.due - now - EARLY_MS)));
  }

  private flush(): void {
    this.timer = undefined;
    this.timerDue = Infinity;
    const now = performance.now();
    while (this.head < this.queue.length && (this.queue[this.head] as Packet).due <= now + EARLY_MS) {
      const p = this.queue[this.head] as Packet;
      this.head++;
      try {
        fs.writeSync(this.to, p.data);
        this.packets++;
        this.bytes += p.data.length;
      } catch {
        this.drops++; // the far device is down (EIO): the packet is lost, as on a cut wire
      }
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    this.schedule(now);
  }
}

const a = endpoint(values.a, 'a');
const b = endpoint(values.b, 'b');
const tun = loadTunAddon();
const gso = values.gso === true;
const fdA = tun.openTun(a.dev, a.netns, { vnetHdr: gso });
const fdB = tun.openTun(b.dev, b.netns, { vnetHdr: gso });
const ab = new Direction('a→b', fdA, fdB);
const ba = new Direction('b→a', fdB, fdA);
ab.start();
ba.start();
if (values.ready) fs.writeFileSync(values.ready, `${process.pid}\n`);
process.stdout.write(
  `delay-line ${process.pid}: ${a.netns}:${a.dev} ⇄ ${b.netns}:${b.dev}, one-way delay ${delayMs} ms${rate ? `, cap ${rate} B/s` : ''}${gso ? ', gso' : ''}\n`,
);

function shutdown(code: number): void {
  for (const d of [ab, ba]) process.stdout.write(`delay-line ${d.name}: ${d.packets} packets, ${d.bytes} bytes, ${d.drops} dropped\n`);
  // A read pending in the thread pool blocks in the kernel until a packet comes, and Node joins its pool threads at
  // exit: a plain exit could hang until the next packet. The stats are written; end at once.
  if (code === 0) process.kill(process.pid, 'SIGKILL');
  process.exit(code);
}
process.on('SIGTERM', () => shutdown(0));
process.on('SIGINT', () => shutdown(0));
