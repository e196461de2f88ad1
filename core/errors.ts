/**
 * Errors a user can act on. The CLI prints `message` (never a stack) and exits 1.
 * `where` names the file / host / field the error is about, so every message says where to look.
 */
export class KdriftError extends Error {
  constructor(
    message: string,
    readonly where?: string,
  ) {
    super(where ? `${where}: ${message}` : message);
    this.name = 'KdriftError';
  }
}

/** Exit code of a usage error (sysexits.h EX_USAGE). */
export const EX_USAGE = 64;

/** The command line itself is wrong (unknown option, bad option value, options that exclude each other): exit 64
 * (EX_USAGE), apart from 1 (could not check) and 2 (drift). */
export class UsageError extends KdriftError {
  constructor(message: string, where?: string) {
    super(message, where);
    this.name = 'UsageError';
  }
}

/** A host could not be reached or could not run what we asked; the engine turns it into that host's `status: "error"`. */
export class HostError extends KdriftError {
  constructor(
    readonly host: string,
    message: string,
  ) {
    super(message, `host ${host}`);
    this.name = 'HostError';
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
