/**
 * LocalSession: a HostSession for this machine. argv goes straight to execve (no shell, so no quoting); each command
 * runs in its own process group so a timeout kills everything it started.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, chown, lstat, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { HostError } from './errors.js';
import { fileErrorMessage, HostFileError } from './host-file-error.js';
import { DEFAULT_COMMAND_TIMEOUT_MS, effectiveTimeout, formatMs } from './session-defaults.js';
import type { ConverseOptions, ConverseReply, ExecOptions, ExecResult, HostSession, ReadOptions, WriteOptions } from './session.js';
import { KeptCommand } from './session-kept.js';
import { assertHostPath, quoteForHost } from './session-input.js';
import { describeArgv } from './shell-quote.js';
import { DEFAULT_MAX_READ_BYTES, DEFAULT_MAX_STDOUT_BYTES, DEFAULT_STDERR_TAIL_BYTES, StderrTail, StdoutCap } from './session-output.js';

export interface LocalSessionOptions {
  /** Default per-command timeout (ms) when exec() is given none; 0 = none. Default 60 s. */
  commandTimeoutMs?: number;
}

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}

export class LocalSession implements HostSession {
  private closed = false;

  constructor(
    readonly host: string,
    private readonly opts: LocalSessionOptions = {},
  ) {}

  async exec(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    if (this.closed) throw new HostError(this.host, 'session is closed');
    quoteForHost(this.host, argv); // the same argv validation as SSH, so both sessions accept the same commands
    const timeoutMs = effectiveTimeout(opts.timeoutMs, this.opts.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS);
    const [cmd, ...args] = argv as [string, ...string[]];
    return new Promise<ExecResult>((resolve, reject) => {
      // detached: the child leads a new process group, so a timeout can kill the group (its children too).
      const child = spawn(cmd, args, { detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
      const out = new StdoutCap(opts.maxStdoutBytes ?? DEFAULT_MAX_STDOUT_BYTES);
      const err = new StderrTail(DEFAULT_STDERR_TAIL_BYTES);
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      const finish = (fn: () => void) => {
        if (settled) return;
        settled = true;
        if (timer) clearTimeout(timer);
        fn();
      };
      /** Stops a command that runs too long or prints too much: TERM its group, KILL what is left after 2 s. */
      const abort = (why: string) => {
        // TERM first so shells run their EXIT traps (lock files, temp files); KILL whatever is left after 2 s.
        const pgid = child.pid;
        if (pgid !== undefined) {
          killGroup(pgid, 'SIGTERM');
          setTimeout(() => killGroup(pgid, 'SIGKILL'), 2000).unref();
        }
        finish(() => reject(new HostError(this.host, `${why} (killed): ${describeArgv(argv)}`)));
      };
      child.stdout.on('data', (d: Buffer) => {
        if (!out.push(d)) abort(`command printed more than ${out.max} bytes on stdout (the limit)`);
      });
      child.stderr.on('data', (d: Buffer) => err.push(d));
      child.on('error', (e: NodeJS.ErrnoException) => {
        // A remote shell answers a missing or non-executable command with 127 / 126; do the same here so checks
        // treat "not installed" identically on local and SSH hosts.
        if (e.code === 'ENOENT' || e.code === 'EACCES') {
          finish(() =>
            resolve({
              code: e.code === 'ENOENT' ? 127 : 126,
              signal: null,
              stdout: Buffer.alloc(0),
              stderr: Buffer.from(`${cmd}: ${e.code === 'ENOENT' ? 'command not found' : 'permission denied'}\n`),
            }),
          );
        } else {
          finish(() => reject(new HostError(this.host, `cannot run ${describeArgv(argv)}: ${e.message}`)));
        }
      });
      child.on('close', (code, signal) => {
        finish(() => resolve({ code, signal, stdout: out.result(), stderr: err.result() }));
      });
      // A command that exits without reading its stdin closes the pipe: EPIPE here is not an error of the command.
      child.stdin.on('error', () => undefined);
      child.stdin.end(opts.stdin ?? '');
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => abort(`command timed out after ${formatMs(timeoutMs)}`), timeoutMs);
      }
    });
  }

  async readFile(file: string, opts: ReadOptions = {}): Promise<Buffer> {
    if (this.closed) throw new HostError(this.host, 'session is closed');
    assertHostPath(this.host, file);
    const max = opts.maxBytes ?? DEFAULT_MAX_READ_BYTES;
    let st;
    try {
      st = await stat(file);
    } catch (err) {
      throw this.fileError('read', file, err);
    }
    if (!st.isFile()) throw new HostError(this.host, `cannot read ${file}: not a regular file`);
    if (st.size > max) throw new HostError(this.host, `cannot read ${file}: it is ${st.size} bytes, more than the ${max}-byte limit`);
    let data: Buffer;
    try {
      data = await readFile(file);
    } catch (err) {
      throw this.fileError('read', file, err);
    }
    if (data.length > max) throw new HostError(this.host, `cannot read ${file}: it grew past the ${max}-byte limit while read`);
    return data;
  }

  async writeFileAtomic(file: string, data: Buffer | string, opts: WriteOptions = {}): Promise<void> {
    if (this.closed) throw new HostError(this.host, 'session is closed');
    assertHostPath(this.host, file);
    // Never through a link: a symlink at `file` is refused (lstat). One planted after this check is replaced itself by
    // the final rename(2), never written through: the temp file is created exclusively ('wx') with a random name.
    const target = file;
    let existing: { mode: number; uid: number; gid: number } | undefined;
    try {
      const st = await lstat(file);
      if (st.isSymbolicLink()) throw new HostError(this.host, `refusing to write ${file}: it is a symlink, and kdrift never writes through a link`);
      if (!st.isFile()) throw new HostError(this.host, `refusing to write ${file}: it is not a regular file`);
      existing = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
    } catch (err) {
      if (err instanceof HostError) throw err;
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw this.fileError('inspect', file, err);
    }
    const tmp = path.join(path.dirname(target), `.${path.basename(target)}.kdrift-${randomBytes(8).toString('hex')}.tmp`);
    try {
      const fh = await open(tmp, 'wx', 0o600);
      try {
        await fh.writeFile(data);
        await fh.sync();
      } finally {
        await fh.close();
      }
      // chmod after create: the create mode is filtered through umask, the kept/requested mode must not be.
      await chmod(tmp, existing?.mode ?? opts.mode ?? 0o644);
      if (existing && (existing.uid !== process.getuid?.() || existing.gid !== process.getgid?.())) {
        await chown(tmp, existing.uid, existing.gid).catch(() => undefined); // only root may; keep what we can
      }
      await rename(tmp, target);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw this.fileError('write', file, err);
    }
    // The rename is durable only once the directory entry is on disk.
    const dir = await open(path.dirname(target), 'r').catch(() => undefined);
    if (dir) await dir.sync().catch(() => undefined).finally(() => dir.close());
  }

  private readonly kept = new Map<string, KeptCommand>();

  async converse(argv: readonly string[], request: string, replyEnd: string, opts: ConverseOptions = {}): Promise<ConverseReply> {
    if (this.closed) throw new HostError(this.host, 'session is closed');
    quoteForHost(this.host, argv);
    const id = argv.join('\0');
    let cmd = this.kept.get(id);
    if (!cmd?.alive) {
      const [file, ...args] = argv as [string, ...string[]];
      // detached: its own process group, so ending it ends what it started too.
      const child = spawn(file, args, { detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
      const c = new KeptCommand(this.host, argv, {
        write: (d) => child.stdin.write(d),
        kill: () => {
          if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) killGroup(child.pid, 'SIGKILL');
        },
      });
      child.stdout.on('data', (d: Buffer) => c.onStdout(d));
      child.stderr.on('data', (d: Buffer) => c.onStderr(d));
      child.stdin.on('error', () => undefined); // it exited: 'close' says so
      child.on('error', (e) => c.onClosed(`cannot run it: ${e.message}`));
      child.on('close', (code, signal) => {
        c.onClosed(`it exited (${signal ?? `code ${code}`})`);
        if (this.kept.get(id) === c) this.kept.delete(id);
      });
      this.kept.set(id, c);
      cmd = c;
    }
    const timeoutMs = effectiveTimeout(opts.timeoutMs, this.opts.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS);
    return cmd.ask(request, replyEnd, { ...opts, ...(timeoutMs !== undefined ? { timeoutMs } : {}) });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const c of this.kept.values()) c.end('session closed');
    this.kept.clear();
  }

  private fileError(op: string, file: string, err: unknown): HostError {
    const code = (err as NodeJS.ErrnoException).code;
    if (code) return new HostFileError(this.host, file, code, fileErrorMessage(op, file, code));
    return new HostError(this.host, `cannot ${op} ${file}: ${String(err)}`);
  }
}
