/**
 * Checks on what callers hand a HostSession, shared by the local and SSH sessions so both accept exactly the same
 * commands and paths, and both report a bad one as a HostError naming the host.
 */
import { HostError, KdriftError } from './errors.js';
import { quoteArgv } from './shell-quote.js';

/** quoteArgv (the argv validation: non-empty, strings, no NUL), with its error naming the host. */
export function quoteForHost(host: string, argv: readonly string[]): string {
  try {
    return quoteArgv(argv);
  } catch (err) {
    if (err instanceof KdriftError) throw new HostError(host, `cannot run command: ${err.message}`);
    throw err;
  }
}

/** File paths on a host must be absolute (SFTP would resolve a relative one against the login's home) and NUL-free. */
export function assertHostPath(host: string, file: string): void {
  if (typeof file !== 'string' || file.length === 0) throw new HostError(host, 'file path is empty');
  if (file.includes('\0')) throw new HostError(host, `file path contains a NUL byte: ${JSON.stringify(file)}`);
  if (!file.startsWith('/')) throw new HostError(host, `file path must be absolute, got ${JSON.stringify(file)}`);
}
