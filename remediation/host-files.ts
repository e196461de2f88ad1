/**
 * Byte-exact reads of a host's files and runtime values, in ONE exec (a fixed script; paths are arguments, never
 * script text). Used for the plan's exact contents, for the journal's backups (bytes + mode + owner) and to prove an
 * undo restored exactly what was there.
 *
 * Output framing, per runtime path: `V <len>\n<bytes>` or `M\n` (missing) or `E\n` (unreadable); per file:
 * `F <mode-octal> <uid> <gid> <size>\n<size bytes>`, `A\n` (absent), `L\n` (a symlink), `O\n` (not a regular file).
 * Sizes come from stat; a file that changes between stat and cat breaks the framing, which is detected and reported.
 */
import type { HostSession } from '../core/session.js';
import { HostError } from '../core/errors.js';

export interface FileSnapshot {
  bytes: Buffer;
  mode: number;
  uid: number;
  gid: number;
}

export type FileState = FileSnapshot | { absent: true } | { other: 'symlink' | 'not a regular file' };

export interface HostSnapshot {
  /** By /proc/sys path: the value as read (trailing newline stripped), or null when missing/unreadable. */
  runtime: Map<string, string | null>;
  files: Map<string, FileState>;
}

const SNAPSHOT_SCRIPT = `LC_ALL=C; export LC_ALL
while [ $# -gt 0 ] && [ "$1" != -- ]; do
  p=$1; shift
  if [ ! -e "$p" ]; then printf 'M\\n'
  elif v=$(cat -- "$p" 2>/dev/null); then printf 'V %s\\n' "\${#v}"; printf '%s' "$v"
  else printf 'E\\n'; fi
done
[ $# -gt 0 ] && shift
for p; do
  if [ -L "$p" ]; then printf 'L\\n'
  elif [ -f "$p" ]; then
    s=$(stat -c '%a %u %g %s' -- "$p") || exit 1
    printf 'F %s\\n' "$s"; cat -- "$p" || exit 1
  elif [ -e "$p" ]; then printf 'O\\n'
  else printf 'A\\n'; fi
done
`;

export async function snapshot(session: HostSession, runtimePaths: readonly string[], filePaths: readonly string[]): Promise<HostSnapshot> {
  const res = await session.exec(['sh', '-c', SNAPSHOT_SCRIPT, 'sh', ...runtimePaths, '--', ...filePaths]);
  if (res.code !== 0) {
    const why = res.stderr.toString('utf8').trim() || (res.signal ? `killed by ${res.signal}` : `exit ${res.code}`);
    throw new HostError(session.host, `reading files and values failed: ${why}`);
  }
  try {
    return decodeSnapshot(res.stdout, runtimePaths, filePaths);
  } catch (err) {
    throw new HostError(session.host, `reading files and values: ${(err as Error).message} (did a file change while it was read?)`);
  }
}

export function decodeSnapshot(out: Buffer, runtimePaths: readonly string[], filePaths: readonly string[]): HostSnapshot {
  let pos = 0;
  const header = (): string => {
    const nl = out.indexOf(0x0a, pos);
    if (nl < 0) throw new Error(`truncated output at byte ${pos}`);
    const h = out.subarray(pos, nl).toString('latin1');
    pos = nl + 1;
    return h;
  };
  const take = (n: number): Buffer => {
    if (pos + n > out.length) throw new Error(`truncated output at byte ${pos}`);
    const b = out.subarray(pos, pos + n);
    pos += n;
    return Buffer.from(b);
  };
  const runtime = new Map<string, string | null>();
  for (const p of runtimePaths) {
    const h = header();
    const m = /^V (\d+)$/.exec(h);
    if (m) runtime.set(p, take(Number(m[1])).toString('utf8'));
    else if (h === 'M' || h === 'E') runtime.set(p, null);
    else throw new Error(`unexpected record "${h}" for ${p}`);
  }
  const files = new Map<string, FileState>();
  for (const p of filePaths) {
    const h = header();
    const m = /^F ([0-7]+) (\d+) (\d+) (\d+)$/.exec(h);
    if (m) files.set(p, { mode: parseInt(m[1] as string, 8), uid: Number(m[2]), gid: Number(m[3]), bytes: take(Number(m[4])) });
    else if (h === 'A') files.set(p, { absent: true });
    else if (h === 'L') files.set(p, { other: 'symlink' });
    else if (h === 'O') files.set(p, { other: 'not a regular file' });
    else throw new Error(`unexpected record "${h}" for ${p}`);
  }
  if (pos !== out.length) throw new Error(`${out.length - pos} unexpected bytes at the end`);
  return { runtime, files };
}

export function isFile(s: FileState | undefined): s is FileSnapshot {
  return s !== undefined && 'bytes' in s;
}

export function isAbsent(s: FileState | undefined): boolean {
  return s !== undefined && 'absent' in s;
}
