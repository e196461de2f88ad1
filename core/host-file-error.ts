/**
 * A file operation on a host failed. Carries the errno-style code (ENOENT, EACCES, …) so a caller can tell "the file
 * is not there" from "the host is broken" without parsing the message; local and SFTP sessions report the same codes.
 */
import { HostError } from './errors.js';

export class HostFileError extends HostError {
  constructor(
    host: string,
    readonly path: string,
    readonly code: string,
    message: string,
  ) {
    super(host, message);
    this.name = 'HostFileError';
  }
}

const WHY: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a directory',
  ENOTDIR: 'a path component is not a directory',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
  EBUSY: 'device or resource busy (is it a mount point, e.g. a bind-mounted file?)',
  EXDEV: 'crosses file systems',
  EEXIST: 'already exists',
  SFTP_FAILURE: 'the SFTP server reported a failure without a reason (e.g. EBUSY on a mount point, EXDEV, ENOSPC)',
  SFTP_UNSUPPORTED: 'operation not supported by the SFTP server',
};

export function fileErrorMessage(op: string, path: string, code: string): string {
  return `cannot ${op} ${path}: ${WHY[code] ?? code}${WHY[code] ? ` (${code})` : ''}`;
}
