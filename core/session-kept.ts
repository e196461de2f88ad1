/**
 * A command kept running on a host between calls (HostSession.converse), shared by the local and SSH sessions, which
 * only wire their process or channel to it: each call writes one request to the command's stdin and resolves with
 * its stdout up to and including the first `replyEnd` (requests are answered one at a time, in order). A command
 * that exits, times out or prints more than the cap is ended and fails every call; the session then forgets it, so
 * the next call starts it again.
 */
import { HostError } from './errors.js';
import { formatMs } from './session-defaults.js';
import type { ConverseOptions, ConverseReply } from './session.js';
import { DEFAULT_MAX_STDOUT_BYTES, DEFAULT_STDERR_TAIL_BYTES, StderrTail } from './session-output.js';
import { describeArgv } from './shell-quote.js';

/** What a transport provides: write to the command's stdin, and end it (its process group where it can). */
export interface KeptIo {
  write(data: string): void;
  kill(): void;
}

interface Pending {
  end: Buffer;
  maxBytes: number;
  resolve: (r: ConverseReply) => void;
  reject: (e: Error) => void;
  timer?: NodeJS.Timeout;
}

export class KeptCommand {
  private chunks: Buffer[] = [];
  private size = 0;
  /** The last end.length - 1 bytes before the newest chunk: a reply end split across two chunks is still found. */
  private carry = Buffer.alloc(0);
  private stderr = new StderrTail(DEFAULT_STDERR_TAIL_BYTES);
  private pending?: Pending;
  private queue: Promise<unknown> = Promise.resolve();
  private deadReason?: string;

  constructor(
    readonly host: string,
    readonly argv: readonly string[],
    private readonly io: KeptIo,
  ) {}

  get alive(): boolean {
    return this.deadReason === undefined;
  }

  /** One request, one reply; calls made while one is running wait for it. */
  ask(request: string, replyEnd: string, opts: ConverseOptions = {}): Promise<ConverseReply> {
    const run = () => this.askNow(request, replyEnd, opts);
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }

  private askNow(request: string, replyEnd: string, opts: ConverseOptions): Promise<ConverseReply> {
    if (this.deadReason) return Promise.reject(this.gone());
    if (this.size > 0) return Promise.reject(this.fail(`printed ${this.size} bytes nobody asked for`));
    return new Promise<ConverseReply>((resolve, reject) => {
      const pending: Pending = { end: Buffer.from(replyEnd, 'latin1'), maxBytes: opts.maxStdoutBytes ?? DEFAULT_MAX_STDOUT_BYTES, resolve, reject };
      if (opts.timeoutMs !== undefined && opts.timeoutMs > 0) {
        pending.timer = setTimeout(() => this.fail(`command timed out after ${formatMs(opts.timeoutMs as number)}`), opts.timeoutMs);
      }
      this.pending = pending;
      this.carry = Buffer.alloc(0);
      this.stderr = new StderrTail(DEFAULT_STDERR_TAIL_BYTES);
      try {
        this.io.write(request);
      } catch (err) {
        this.fail(`cannot write to it: ${(err as Error).message}`);
      }
    });
  }

  /** The transport's stdout. */
  onStdout(d: Buffer): void {
    const p = this.pending;
    if (!p) {
      this.size += d.length; // unasked output: the next ask fails on it
      return;
    }
    const window = this.carry.length > 0 ? Buffer.concat([this.carry, d]) : d;
    const at = window.indexOf(p.end);
    if (at < 0) {
      this.chunks.push(d);
      this.size += d.length;
      if (this.size > p.maxBytes) this.fail(`command printed more than ${p.maxBytes} bytes on stdout (the limit)`);
      else this.carry = Buffer.from(window.subarray(Math.max(0, window.length - (p.end.length - 1))));
      return;
    }
    const used = at + p.end.length - this.carry.length; // bytes of d that belong to this reply
    this.chunks.push(d.subarray(0, used));
    const stdout = Buffer.concat(this.chunks, this.size + used);
    const rest = d.subarray(used);
    this.chunks = [];
    this.size = 0;
    this.pending = undefined;
    if (p.timer) clearTimeout(p.timer);
    if (stdout.length > p.maxBytes) return void this.failWith(p, `command printed more than ${p.maxBytes} bytes on stdout (the limit)`);
    p.resolve({ stdout, stderr: this.stderr.result() });
    if (rest.length > 0) this.onStdout(rest);
  }

  /** The transport's stderr. */
  onStderr(d: Buffer): void {
    this.stderr.push(d);
  }

  /** The transport saw the command end (exit, channel closed, connection lost). */
  onClosed(why: string): void {
    if (this.deadReason) return;
    this.deadReason = why;
    const p = this.pending;
    this.pending = undefined;
    if (p) this.failWith(p, `${why}${this.stderrNote()}`);
  }

  /** Ends the command (the session closes, or a call failed). */
  end(why = 'ended'): void {
    if (!this.deadReason) this.deadReason = why;
    this.io.kill();
  }

  private fail(why: string): Error {
    const err = new HostError(this.host, `${why} (ended): ${describeArgv(this.argv)}`);
    const p = this.pending;
    this.pending = undefined;
    this.deadReason ??= why;
    this.io.kill();
    if (p) {
      if (p.timer) clearTimeout(p.timer);
      p.reject(err);
    }
    return err;
  }

  private failWith(p: Pending, why: string): void {
    if (p.timer) clearTimeout(p.timer);
    this.deadReason ??= why;
    this.io.kill();
    p.reject(new HostError(this.host, `kept command ${describeArgv(this.argv)}: ${why}`));
  }

  private stderrNote(): string {
    const text = this.stderr.result().toString('utf8').trim();
    return text ? `: ${text}` : '';
  }

  private gone(): Error {
    return new HostError(this.host, `kept command ${describeArgv(this.argv)} is gone (${this.deadReason})`);
  }
}
