/**
 * SshSession: a HostSession over one ssh2 connection per host (core/ssh-connect.ts opens and verifies it), reused
 * for every command (exec channels) and file operation (one SFTP channel; note that sshd starts Debian's default
 * `Subsystem sftp /usr/lib/openssh/sftp-server` through the login shell once per connection, `internal-sftp` never).
 *
 *  - Commands: argv → core/shell-quote.ts quoteArgv → `$SHELL -c` on the host. At most `maxChannels` at once per
 *    connection, because sshd refuses channels beyond MaxSessions (default 10; one is kept for SFTP); a server that
 *    allows fewer is detected and the limit lowered.
 *  - Timeouts end the command's process group (TERM, then KILL) and fail with a HostError naming host, command, time.
 *  - Every failure is a HostError naming the host and what failed; once the connection is gone every call fails fast.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { ClientChannel, SFTPWrapper, Stats } from 'ssh2';
import { HostError } from './errors.js';
import { fileErrorMessage, HostFileError } from './host-file-error.js';
import { DEFAULT_COMMAND_TIMEOUT_MS, effectiveTimeout, formatMs } from './session-defaults.js';
import type { ConverseOptions, ConverseReply, ExecOptions, ExecResult, HostSession, ReadOptions, SessionTarget, WriteOptions } from './session.js';
import { KeptCommand } from './session-kept.js';
import { assertHostPath, quoteForHost } from './session-input.js';
import { DEFAULT_MAX_READ_BYTES, DEFAULT_MAX_STDOUT_BYTES, DEFAULT_STDERR_TAIL_BYTES, StderrTail, StdoutCap } from './session-output.js';
import { describeArgv } from './shell-quote.js';
import { connectSsh, displayAddress, type SshClient, type SshConnectOptions } from './ssh-connect.js';

export { displayAddress };

export interface SshSessionOptions extends SshConnectOptions {
  /** Default per-command timeout when exec() gives none (default 60 s; 0 = none). */
  commandTimeoutMs?: number;
  /** Concurrent exec channels per connection (default 8: sshd's MaxSessions default is 10, SFTP holds one). */
  maxChannels?: number;
}

/**
 * Prefixed to every remote command: the shell reports its pid (= its process group, since sshd runs each session
 * under setsid) on stderr, so a timed-out command can be killed with `kill -- -PGID`. A constant, built from no
 * value; the marker line is removed from stderr before anyone sees it. Needed because sshd refuses "signal"
 * channel requests for root logins (no post-auth privilege separation), and closing a channel kills nothing.
 */
const PID_MARKER = 'kdrift-remote-pid=';
const PID_PREAMBLE = `printf '${PID_MARKER}%s\\n' "$$" >&2; `;

/** Finds and removes the PID_PREAMBLE line from a command's stderr. */
export function takePidMarker(stderr: Buffer): { pid?: number; rest: Buffer } {
  const at = stderr.indexOf(PID_MARKER);
  if (at < 0) return { rest: stderr };
  const nl = stderr.indexOf(0x0a, at);
  if (nl < 0) return { rest: stderr };
  const pid = Number(stderr.subarray(at + PID_MARKER.length, nl).toString('latin1'));
  return { ...(Number.isInteger(pid) && pid > 1 ? { pid } : {}), rest: Buffer.concat([stderr.subarray(0, at), stderr.subarray(nl + 1)]) };
}

/**
 * SFTP status codes (draft-ietf-secsh-filexfer-02 §7) → errno names where SFTP has one, so local and SSH sessions
 * report alike; SSH_FX_FAILURE carries no errno (OpenSSH's sftp-server maps EBUSY, EXDEV, ENOSPC, … all to it).
 */
const SFTP_STATUS_CODE: Record<number, string> = { 2: 'ENOENT', 3: 'EACCES', 4: 'SFTP_FAILURE', 8: 'SFTP_UNSUPPORTED' };

/** A counting semaphore with an adjustable limit (lowered when a server turns out to allow fewer sessions). */
class ChannelLimiter {
  private inUse = 0;
  private waiters: Array<() => void> = [];

  constructor(public limit: number) {}

  get active(): number {
    return this.inUse;
  }

  acquire(): Promise<() => void> {
    return new Promise((resolve) => {
      const grant = () => {
        this.inUse++;
        let released = false;
        resolve(() => {
          if (released) return;
          released = true;
          this.inUse--;
          this.pump();
        });
      };
      this.waiters.push(grant);
      this.pump();
    });
  }

  private pump(): void {
    while (this.inUse < this.limit && this.waiters.length > 0) (this.waiters.shift() as () => void)();
  }
}

/** withChannel's answer when sshd refused a channel for its MaxSessions: queue again. */
const RETRY = Symbol('retry');

export class SshSession implements HostSession {
  readonly host: string;
  /** Why the connection is no longer usable (set once; every later call fails with it). */
  private deadReason?: string;
  private readonly channels: ChannelLimiter;
  private sftpPromise?: Promise<SFTPWrapper>;

  private constructor(
    private readonly entry: SessionTarget,
    private readonly client: SshClient,
    private readonly opts: SshSessionOptions,
  ) {
    this.host = entry.name;
    this.channels = new ChannelLimiter(opts.maxChannels ?? 8);
    client.on('error', (err: Error) => this.markDead(`connection error: ${err.message}`));
    client.on('close', () => this.markDead('connection closed'));
  }

  /** Connects, verifies the host key and authenticates; rejects with a HostError saying which step failed. */
  static async connect(entry: SessionTarget, opts: SshSessionOptions): Promise<SshSession> {
    return new SshSession(entry, await connectSsh(entry, opts), opts);
  }

  private get where(): string {
    return displayAddress(this.entry.address, this.entry.port);
  }

  private markDead(reason: string): void {
    this.deadReason ??= reason;
  }

  private assertAlive(): void {
    if (this.deadReason) throw new HostError(this.host, `connection to ${this.where} is gone (${this.deadReason}); nothing more can run on this session`);
  }

  async exec(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const command = PID_PREAMBLE + quoteForHost(this.host, argv);
    this.assertAlive();
    const timeoutMs = effectiveTimeout(opts.timeoutMs, this.opts.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS);
    // The stream's listeners are attached synchronously in ssh2's callback: the exit status can arrive in the same TCP
    // read as the exec confirmation, and ssh2 emits it at once.
    return this.withChannel<ClientChannel, ExecResult>(
      `start ${describeArgv(argv)}`,
      (opened) => this.client.exec(command, opened),
      (stream, release, resolve, reject) => this.collect(stream, argv, opts, timeoutMs, release, resolve, reject),
    );
  }

  private assertAliveOr(release: () => void): void {
    if (this.deadReason) {
      release();
      this.assertAlive();
    }
  }

  /**
   * A new channel under the channel limit: queues for a slot, asks ssh2 for the channel (`open`, in its callback
   * style), and hands it to `use` with the slot's release. When sshd refuses the channel because of its MaxSessions,
   * the limit is lowered and it queues again. `what` completes "cannot …" in the error of any other refusal.
   */
  private async withChannel<C, T>(
    what: string,
    open: (opened: (err: Error | undefined, channel: C) => void) => void,
    use: (channel: C, release: () => void, resolve: (v: T) => void, reject: (e: Error) => void) => void,
  ): Promise<T> {
    for (;;) {
      const release = await this.channels.acquire();
      this.assertAliveOr(release);
      const res = await new Promise<T | typeof RETRY>((resolve, reject) => {
        const onOpenError = (err: Error) => {
          const activeBefore = this.channels.active;
          release();
          if (this.lowerLimitAfterRefusal(err, activeBefore)) return resolve(RETRY);
          if (this.deadReason) return reject(new HostError(this.host, `connection to ${this.where} is gone (${this.deadReason}); nothing more can run on this session`));
          reject(new HostError(this.host, `cannot ${what}: ${err.message}`));
        };
        try {
          open((err, channel) => (err ? onOpenError(err) : use(channel, release, resolve, reject)));
        } catch (err) {
          onOpenError(err as Error);
        }
      });
      if (res !== RETRY) return res;
    }
  }

  private collect(
    stream: ClientChannel,
    argv: readonly string[],
    opts: ExecOptions,
    timeoutMs: number | undefined,
    release: () => void,
    resolve: (r: ExecResult) => void,
    reject: (e: Error) => void,
  ): void {
    const out = new StdoutCap(opts.maxStdoutBytes ?? DEFAULT_MAX_STDOUT_BYTES);
    const err = new StderrTail(DEFAULT_STDERR_TAIL_BYTES);
    // The pid marker is the first line of stderr: held apart until it is complete, so a flood of stderr after it
    // (kept only as a tail) cannot push it out.
    let head: Buffer | undefined = Buffer.alloc(0);
    let remotePid: number | undefined;
    const takeHead = (force: boolean) => {
      if (!head) return;
      if (!force && head.indexOf(0x0a) < 0 && head.length < 4096) return;
      const { pid, rest } = takePidMarker(head);
      remotePid = pid;
      head = undefined;
      err.push(rest);
    };
    let code: number | null | undefined;
    let signal: string | null = null;
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      fn();
    };
    /** Stops a command that runs too long or prints too much: kill its process group, free the channel. */
    const abort = (why: string) => {
      settle(() => {
        // OpenSSH's sshd (7.9+) delivers "signal" requests to the session's process group; closing the channel
        // then frees the slot even if the signal was not honoured.
        try {
          sendSignal(stream, 'KILL'); // honoured by sshd for non-root users
        } catch {
          // channel already closing
        }
        stream.close();
        takeHead(true);
        if (remotePid !== undefined) this.killRemoteGroup(remotePid);
        // If the server never confirms the close, do not hold the slot forever.
        setTimeout(release, 5000).unref();
        reject(new HostError(this.host, `${why} on ${this.where} (killed): ${describeArgv(argv)}`));
      });
    };
    stream.on('data', (d: Buffer) => {
      if (!out.push(d)) abort(`command printed more than ${out.max} bytes on stdout (the limit)`);
    });
    stream.stderr.on('data', (d: Buffer) => {
      if (head) {
        head = Buffer.concat([head, d]);
        takeHead(false);
      } else err.push(d);
    });
    stream.on('exit', (c: number | null, sig?: string) => {
      code = c;
      if (sig) signal = sig.startsWith('SIG') ? sig : `SIG${sig}`;
    });
    stream.on('error', () => undefined); // surfaced through 'close' without an exit status
    stream.on('close', () => {
      release(); // the channel slot is free only once both sides closed it
      settle(() => {
        if (code === undefined) {
          reject(
            new HostError(
              this.host,
              this.deadReason
                ? `connection to ${this.where} lost while running ${describeArgv(argv)} (${this.deadReason})`
                : `${describeArgv(argv)} ended without an exit status (the server closed its channel)`,
            ),
          );
        } else {
          takeHead(true);
          resolve({ code, signal, stdout: out.result(), stderr: err.result() });
        }
      });
    });
    if (timeoutMs !== undefined) {
      timer = setTimeout(() => abort(`command timed out after ${formatMs(timeoutMs)}`), timeoutMs);
    }
    stream.end(opts.stdin ?? undefined); // always send EOF, or a command that reads stdin waits forever
  }

  /** Ends a timed-out command's process group from a fresh channel; close() waits for these. */
  private readonly pendingKills = new Set<Promise<unknown>>();
  private killRemoteGroup(pgid: number): void {
    if (this.deadReason) return;
    // TERM first, so shells run their EXIT traps (e.g. pyenv's rc hooks drop their lock file; a SIGKILL mid-rc leaves
    // it behind and every later login waits 60 s for it); KILL what is left after 2 s. The script is a constant; the
    // group id is passed as an argument.
    const script = 'kill -s TERM -- "-$1" 2>/dev/null || exit 0; sleep 2; kill -s KILL -- "-$1" 2>/dev/null; exit 0';
    const p = this.exec(['sh', '-c', script, 'kdrift-kill', String(pgid)], { timeoutMs: 10_000 })
      .catch(() => undefined) // best effort: the group may have exited already
      .finally(() => this.pendingKills.delete(p));
    this.pendingKills.add(p);
  }

  /** File operations using the SFTP channel right now. */
  private sftpUsers = 0;
  /** Set once the server allows a single session: the SFTP channel then gives its slot back whenever idle. */
  private sftpYieldsWhenIdle = false;
  private sftpChannel?: SFTPWrapper;

  private async withSftp<T>(fn: (sftp: SFTPWrapper) => Promise<T>): Promise<T> {
    this.sftpUsers++;
    try {
      return await fn(await this.sftp());
    } finally {
      this.sftpUsers--;
      if (this.sftpUsers === 0 && this.sftpYieldsWhenIdle) this.evictSftp();
    }
  }

  private evictSftp(): void {
    const ch = this.sftpChannel;
    this.sftpChannel = undefined;
    this.sftpPromise = undefined;
    ch?.end(); // its 'close' gives the slot back
  }

  /** The connection's one SFTP channel, opened on first use; it holds one channel slot while open. */
  private sftp(): Promise<SFTPWrapper> {
    this.assertAlive();
    if (!this.sftpPromise) {
      const p: Promise<SFTPWrapper> = this.openSftp().catch((err: unknown) => {
        if (this.sftpPromise === p) this.sftpPromise = undefined;
        throw err;
      });
      this.sftpPromise = p;
    }
    return this.sftpPromise;
  }

  private openSftp(): Promise<SFTPWrapper> {
    return this.withChannel<SFTPWrapper, SFTPWrapper>(
      `start SFTP on ${this.where} (is the sftp subsystem enabled in sshd_config?)`,
      (opened) => this.client.sftp(opened),
      (sftp, release, resolve) => {
        this.sftpChannel = sftp;
        sftp.on('close', () => {
          release();
          if (this.sftpChannel === sftp) this.evictSftp();
        });
        resolve(sftp);
      },
    );
  }

  /**
   * sshd refuses channels beyond its MaxSessions ("open failed"). Unless this was the only channel (then the server
   * refuses us outright), remember the smaller limit so the caller queues again. If only one session is allowed, the
   * SFTP channel must not sit on it: from then on it is closed whenever idle.
   */
  private lowerLimitAfterRefusal(err: Error, activeBefore: number): boolean {
    if (this.deadReason || activeBefore <= 1 || !/open fail|administratively prohibited/i.test(err.message)) return false;
    this.channels.limit = Math.max(1, activeBefore - 1);
    if (this.channels.limit <= 1 && this.sftpChannel) {
      this.sftpYieldsWhenIdle = true;
      if (this.sftpUsers === 0) this.evictSftp();
    }
    return true;
  }

  async readFile(file: string, opts: ReadOptions = {}): Promise<Buffer> {
    assertHostPath(this.host, file);
    const max = opts.maxBytes ?? DEFAULT_MAX_READ_BYTES;
    return this.withSftp(async (sftp) => {
      // Bounded: a host decides how big its files are, not how much memory the controller spends on them.
      const st = await new Promise<Stats>((resolve, reject) => sftp.stat(file, (err, s) => (err ? reject(this.fileError('read', file, err)) : resolve(s))));
      if (!st.isFile()) throw new HostError(this.host, `cannot read ${file}: not a regular file`);
      if (st.size > max) throw new HostError(this.host, `cannot read ${file}: it is ${st.size} bytes, more than the ${max}-byte limit`);
      const data = await new Promise<Buffer>((resolve, reject) => {
        sftp.readFile(file, (err: Error | undefined, d: Buffer) => (err ? reject(this.fileError('read', file, err)) : resolve(d)));
      });
      if (data.length > max) throw new HostError(this.host, `cannot read ${file}: it grew past the ${max}-byte limit while read`);
      return data;
    });
  }

  /**
   * Temp file in the same directory (so the rename cannot cross file systems) → write → fsync → chmod/chown to the
   * existing file's → posix-rename@openssh.com, which is rename(2): readers see the old or the new file, never a mix.
   */
  async writeFileAtomic(file: string, data: Buffer | string, opts: WriteOptions = {}): Promise<void> {
    assertHostPath(this.host, file);
    return this.withSftp((sftp) => this.writeAtomicWith(sftp, file, data, opts));
  }

  private async writeAtomicWith(sftp: SFTPWrapper, file: string, data: Buffer | string, opts: WriteOptions): Promise<void> {
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    // Errors name the file the caller asked for and the step that failed (the temp file's name means nothing to them).
    const call = <T>(step: string, fn: (cb: (err: Error | undefined | null, v?: T) => void) => void): Promise<T> =>
      new Promise<T>((resolve, reject) => fn((err, v) => (err ? reject(this.fileError('write', file, err, step)) : resolve(v as T))));

    // Never through a link: a symlink at `file` is refused (lstat). One planted after this check is replaced itself by
    // the final rename(2), never written through: the temp file is created exclusively (O_EXCL) with a random name.
    const target = file;
    let existing: Stats | undefined;
    try {
      existing = await call<Stats>('lstat', (cb) => sftp.lstat(file, cb));
    } catch (err) {
      if (!(err instanceof HostFileError && err.code === 'ENOENT')) throw err;
    }
    if (existing?.isSymbolicLink()) throw new HostError(this.host, `refusing to write ${file}: it is a symlink, and kdrift never writes through a link`);
    if (existing && !existing.isFile()) throw new HostError(this.host, `refusing to write ${file}: it is not a regular file`);
    const tmp = path.posix.join(path.posix.dirname(target), `.${path.posix.basename(target)}.kdrift-${randomBytes(8).toString('hex')}.tmp`);
    const extensions = (sftp as unknown as { _extensions: Record<string, string> })._extensions; // ssh2 keeps the server's list here (not typed)
    let created = false;
    try {
      const handle = await call<Buffer>(`creating temp file ${tmp}`, (cb) => sftp.open(tmp, 'wx', 0o600, cb));
      created = true;
      try {
        for (let off = 0; off < buf.length; off += 32768) {
          const len = Math.min(32768, buf.length - off);
          await call<void>('writing the temp file', (cb) => sftp.write(handle, buf, off, len, off, cb));
        }
        if (extensions['fsync@openssh.com']) await call<void>('fsync', (cb) => sftp.ext_openssh_fsync(handle, cb));
      } finally {
        await call<void>('closing the temp file', (cb) => sftp.close(handle, cb));
      }
      // sftp-server applies its umask to the create mode; set the mode explicitly.
      await call<void>('chmod', (cb) => sftp.chmod(tmp, (existing?.mode ?? opts.mode ?? 0o644) & 0o7777, cb));
      if (existing) await call<void>('chown', (cb) => sftp.chown(tmp, existing.uid, existing.gid, cb)).catch(() => undefined);
      if (!extensions['fsync@openssh.com']) await this.execChecked(['sync', '--', tmp]);
      if (extensions['posix-rename@openssh.com']) {
        await call<void>(`renaming the temp file over ${target}`, (cb) => sftp.ext_openssh_rename(tmp, target, cb));
      } else {
        // Plain SFTP rename refuses to replace an existing file; mv is rename(2).
        await this.execChecked(['mv', '-f', '--', tmp, target]);
      }
      created = false;
    } finally {
      if (created) await new Promise<void>((resolve) => sftp.unlink(tmp, () => resolve()));
    }
  }

  private async execChecked(argv: string[]): Promise<void> {
    const res = await this.exec(argv);
    if (res.code !== 0) throw new HostError(this.host, `${describeArgv(argv)} failed: ${res.stderr.toString('utf8').trim() || `exit ${res.code}`}`);
  }

  private readonly kept = new Map<string, Promise<KeptCommand>>();

  /**
   * HostSession.converse: the command runs on an exec channel of its own that stays open (it holds one channel slot
   * while it runs); a failed call ends it (its process group, as a timeout does) and the next call opens it again.
   */
  async converse(argv: readonly string[], request: string, replyEnd: string, opts: ConverseOptions = {}): Promise<ConverseReply> {
    this.assertAlive();
    const id = argv.join('\0');
    let cmd = this.kept.get(id);
    if (!cmd || !(await cmd.then((c) => c.alive, () => false))) {
      cmd = this.startKept(argv);
      this.kept.set(id, cmd);
      const p = cmd;
      p.catch(() => {
        if (this.kept.get(id) === p) this.kept.delete(id);
      });
    }
    const timeoutMs = effectiveTimeout(opts.timeoutMs, this.opts.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS);
    return (await cmd).ask(request, replyEnd, { ...opts, ...(timeoutMs !== undefined ? { timeoutMs } : {}) });
  }

  private startKept(argv: readonly string[]): Promise<KeptCommand> {
    const command = PID_PREAMBLE + quoteForHost(this.host, argv);
    return this.withChannel<ClientChannel, KeptCommand>(
      `start ${describeArgv(argv)}`,
      (opened) => this.client.exec(command, opened),
      (stream, release, resolve) => {
        let head: Buffer | undefined = Buffer.alloc(0);
        let remotePid: number | undefined;
        const cmd = new KeptCommand(this.host, argv, {
          write: (d) => stream.write(d),
          kill: () => {
            try {
              sendSignal(stream, 'KILL');
            } catch {
              // channel already closing
            }
            stream.close();
            if (remotePid !== undefined) this.killRemoteGroup(remotePid);
          },
        });
        stream.on('data', (d: Buffer) => cmd.onStdout(d));
        stream.stderr.on('data', (d: Buffer) => {
          if (!head) return cmd.onStderr(d);
          head = Buffer.concat([head, d]);
          if (head.indexOf(0x0a) < 0 && head.length < 4096) return;
          const { pid, rest } = takePidMarker(head);
          remotePid = pid;
          head = undefined;
          cmd.onStderr(rest);
        });
        stream.on('error', () => undefined); // surfaced through 'close'
        stream.on('close', () => {
          release();
          cmd.onClosed(this.deadReason ? `connection to ${this.where} lost (${this.deadReason})` : 'it exited (the server closed its channel)');
        });
        resolve(cmd);
      },
    );
  }

  async close(): Promise<void> {
    if (this.deadReason === 'closed by kdrift') return;
    // Kept commands end with the connection: their stdin reaches EOF (the collector's loop ends on it).
    this.kept.clear();
    await Promise.all([...this.pendingKills]);
    const wasDead = this.deadReason !== undefined;
    this.deadReason = 'closed by kdrift';
    if (wasDead) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        this.client.destroy();
        resolve();
      }, 2000);
      this.client.once('close', () => {
        clearTimeout(t);
        resolve();
      });
      this.client.end();
    });
  }

  private fileError(op: string, file: string, err: Error & { code?: number | string }, step?: string): HostError {
    if (err instanceof HostError) return err;
    const at = step ? ` (${step})` : '';
    if (this.deadReason) return new HostError(this.host, `cannot ${op} ${file}${at}: connection to ${this.where} is gone (${this.deadReason})`);
    const code = typeof err.code === 'number' ? SFTP_STATUS_CODE[err.code] : err.code;
    if (code) return new HostFileError(this.host, file, code, `${fileErrorMessage(op, file, code)}${at}`);
    return new HostError(this.host, `cannot ${op} ${file}${at}: ${err.message}`);
  }
}

/**
 * ssh2's Channel.signal() sends nothing once our side has sent EOF, and exec() always sends EOF right away (stdin is
 * closed). So use the protocol object Channel.signal() itself would call (ssh2 1.x internals, checked at run time).
 */
function sendSignal(stream: ClientChannel, name: string): void {
  const ch = stream as unknown as {
    _client?: { _protocol?: { signal?: (id: number, sig: string) => void } };
    outgoing?: { id: number; state: string };
  };
  const protocol = ch._client?._protocol;
  if (protocol?.signal && ch.outgoing && (ch.outgoing.state === 'open' || ch.outgoing.state === 'eof')) {
    protocol.signal(ch.outgoing.id, name);
  } else {
    stream.signal(name);
  }
}

