/**
 * Writes sysctl values through /proc/sys in ONE exec: a fixed script, paths and values as arguments (paths come from
 * sysctlProcPath on validated keys, values from the zod-validated baseline or from the host's own old values).
 * `stopOnError` (apply): the first refusal stops, so nothing after it is written. Without it (undo): every value is
 * attempted and every failure reported, so an undo restores as much as it can.
 */
import type { HostSession } from '../core/session.js';
import { HostError } from '../core/errors.js';
import { sysctlProcPath } from '../core/sysctl-key.js';

const WRITE_SCRIPT = `stop=$1; shift; rc=0
while [ $# -ge 3 ]; do
  if ! err=$( { printf '%s\\n' "$3" > "$2"; } 2>&1 ); then
    printf '%s\\t%s\\t%s\\n' "$1" "$3" "$err" >&2; rc=1
    [ "$stop" = stop ] && exit 1
  fi
  shift 3
done
exit $rc
`;

export interface RuntimeWrite {
  key: string;
  value: string;
}

export interface WriteFailure {
  key: string;
  value: string;
  error: string;
}

/** Returns the failures (empty = all written). Throws only when the host could not run the command at all. */
export async function writeRuntime(session: HostSession, writes: readonly RuntimeWrite[], stopOnError: boolean): Promise<WriteFailure[]> {
  if (writes.length === 0) return [];
  for (const w of writes) {
    if (/[\n\r\0]/.test(w.value)) throw new HostError(session.host, `refusing to write ${w.key}: value contains a newline or NUL`);
  }
  const argv = ['sh', '-c', WRITE_SCRIPT, 'sh', stopOnError ? 'stop' : 'all', ...writes.flatMap((w) => [w.key, sysctlProcPath(w.key), w.value])];
  const res = await session.exec(argv);
  if (res.code === 0) return [];
  const lines = res.stderr.toString('utf8').split('\n').filter((l) => l.includes('\t'));
  if (res.code !== 1 || lines.length === 0) {
    const why = res.stderr.toString('utf8').trim() || (res.signal ? `killed by ${res.signal}` : `exit ${res.code}`);
    throw new HostError(session.host, `writing sysctl values failed: ${why}`);
  }
  return lines.map((l) => {
    const [key, value, ...rest] = l.split('\t');
    return { key: key as string, value: value as string, error: explainWriteError(rest.join('\t')) };
  });
}

/** dash reports a refused write(2) to /proc/sys as "I/O error"; say what it means. */
function explainWriteError(raw: string): string {
  const msg = raw.replace(/^sh: \d+: /, '').replace(/^printf: (printf: )?/, '').trim();
  if (/I\/O error|Invalid argument/i.test(msg)) return 'the kernel refused the value (write to /proc/sys failed: invalid argument or out of range)';
  if (/Permission denied|Read-only file system|Operation not permitted/i.test(msg)) return `not allowed to write it (${msg}): kdrift fix needs root on the host`;
  return msg;
}
