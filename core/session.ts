/**
 * HostSession: the only way kdrift touches a host. Commands are argv arrays; an implementation that needs a
 * shell (SSH) quotes every element with core/shell-quote.ts and nothing else.
 */
import { HostError } from './errors.js';

export interface ExecOptions {
  /** Bytes written to the command's stdin, then stdin is closed. */
  stdin?: Buffer | string;
  /** Kill the command (and report a HostError) after this long. */
  timeoutMs?: number;
  /** Kill the command (and report a HostError) once it printed more than this on stdout (default 64 MiB). */
  maxStdoutBytes?: number;
}

export interface ExecResult {
  /** Exit code; null when the command died of a signal or was killed on timeout. */
  code: number | null;
  signal?: string | null;
  stdout: Buffer;
  /** The last 64 KiB at most (a first line says how much was cut). */
  stderr: Buffer;
}

export interface ConverseOptions {
  /** End the command (and fail the call with a HostError) when no reply came within this. */
  timeoutMs?: number;
  /** End the command (and fail the call) once a reply passes this many bytes (default 64 MiB). */
  maxStdoutBytes?: number;
}

export interface ConverseReply {
  /** The reply, `replyEnd` included. */
  stdout: Buffer;
  /** What the command printed on stderr meanwhile (the last 64 KiB at most). */
  stderr: Buffer;
}

export interface ReadOptions {
  /** Refuse (HostError) a file larger than this (default 64 MiB). */
  maxBytes?: number;
}

export interface WriteOptions {
  /** File mode for a newly created file (default 0o644). An existing file keeps its mode. */
  mode?: number;
}

/**
 * Where a session goes. The inventory's HostEntry is one; the transport names only the fields it reads, so it does
 * not depend on the inventory schema above it.
 */
export interface SessionTarget {
  /** Inventory name (every error names it). */
  name: string;
  address: string;
  port: number;
  user: string;
  identityFile?: string;
  /** This machine, without SSH. */
  local?: boolean;
}

export interface HostSession {
  /** Inventory name of the host (used in every error and finding). */
  readonly host: string;
  exec(argv: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  /** A regular file's bytes, at most `maxBytes` (default 64 MiB). */
  readFile(path: string, opts?: ReadOptions): Promise<Buffer>;
  /** Temp file in the same directory + fsync + rename: readers see the old or the new file, never half of one. */
  writeFileAtomic(path: string, data: Buffer | string, opts?: WriteOptions): Promise<void>;
  /**
   * A command kept running between calls, one per argv per session (report --every's kept collector): the first call
   * starts it; each call writes `request` to its stdin and resolves with its stdout up to and including the first
   * `replyEnd`. A command that exits, times out or prints too much is ended, the call fails with a HostError, and the
   * next call starts it again. close() ends them. Optional: callers without it run one exec per call instead.
   */
  converse?(argv: readonly string[], request: string, replyEnd: string, opts?: ConverseOptions): Promise<ConverseReply>;
  close(): Promise<void>;
}

/** Runs argv and throws a HostError naming the host and command when it does not exit 0. */
export async function execOk(session: HostSession, argv: readonly string[], opts?: ExecOptions): Promise<ExecResult> {
  const res = await session.exec(argv, opts);
  if (res.code !== 0) {
    const why = res.stderr.toString('utf8').trim() || (res.signal ? `killed by ${res.signal}` : `exit ${res.code}`);
    throw new HostError(session.host, `${argv[0]} failed: ${why}`);
  }
  return res;
}
