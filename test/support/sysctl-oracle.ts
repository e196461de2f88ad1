/**
 * The real boot appliers as oracles: Debian's /lib/systemd/systemd-sysctl and procps `sysctl --system`, run against a
 * sysctl tree written to a temp dir, inside a throwaway network + mount namespace (unshare --net --mount): the tree is
 * bind-mounted over /etc, /run, /usr/local/lib and /usr/lib/sysctl.d of that namespace only, /proc/sys is read-only
 * there except /proc/sys/net (which belongs to the new network namespace). Nothing reaches this machine's files or its
 * root-namespace values.
 *
 * What an applier "applies" to a key is measured, not assumed: the key is preset to value A, the applier runs, the
 * value is read; again from preset B. Same result both times → the applier sets it; fields that follow the preset keep
 * the kernel default (`?`); all of them → the applier leaves the key alone ("unset").
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

export const SYSTEMD_SYSCTL = '/lib/systemd/systemd-sysctl';

export interface OracleKey {
  key: string;
  /** Two presets that differ in every field and are valid for the key. */
  a: string;
  b: string;
}

export type Applied = string; // a value, fields `?` where the preset stays, or 'unset'

export interface OracleResult {
  applied: Record<'systemd-sysctl' | 'sysctl --system', Map<string, Applied>>;
  /** `systemd-sysctl --cat-config` file headers, in order (bytes as latin1). */
  systemdFiles: string[];
  /** A write outside /proc/sys/net inside the sandbox was refused (read-only), as it must be. */
  sealed: boolean;
}

/** $1: a tree to bind over the sysctl directories, or '-' to keep the view the sandbox starts in (a lab host's). */
const SCRIPT = `set -e
t=$1; shift
if [ "$t" != - ]; then
  mount --bind "$t/etc" /etc
  mount --bind "$t/run" /run
  mount --bind "$t/usr/local/lib" /usr/local/lib
  mount --bind "$t/usr/lib/sysctl.d" /usr/lib/sysctl.d
fi
mount --bind /proc/sys /proc/sys
mount -o remount,bind,ro /proc/sys
mount --bind /proc/sys/net /proc/sys/net
mount -o remount,bind,rw /proc/sys/net
set +e
if ( echo x > /proc/sys/kernel/domainname ) 2>/dev/null; then echo 'SEALED no'; else echo 'SEALED yes'; fi
run() {
  for which in A B; do
    if [ $which = A ]; then set -- 2 "$@"; else set -- 0 "$@"; fi
    col=$1; shift
    i=0; for p; do i=$((i + 1)); if [ $((i % 3)) -eq 1 ]; then k=$p; elif [ $((i % 3)) -eq 2 ] && [ $col = 2 ]; then printf '%s\\n' "$p" > "/proc/sys/$k"; elif [ $((i % 3)) -eq 0 ] && [ $col = 0 ]; then printf '%s\\n' "$p" > "/proc/sys/$k"; fi; done
    if [ "$applier" = systemd ]; then ${SYSTEMD_SYSCTL} >/dev/null 2>&1; else sysctl -q --system >/dev/null 2>&1; fi
    i=0; for p; do i=$((i + 1)); [ $((i % 3)) -eq 1 ] && printf 'R %s %s %s %s\\n' "$applier" "$which" "$p" "$(cat "/proc/sys/$p")"; done
  done
}
applier=systemd; run "$@"
applier=procps; run "$@"
${SYSTEMD_SYSCTL} --cat-config --no-pager 2>/dev/null | grep -a '^# /' | sed 's/^/C /'
`;

/** The sandbox command: a new network + mount namespace around the oracle script. `root` '-': the caller's view. */
export function oracleArgv(root: string, keys: readonly OracleKey[]): string[] {
  const args = keys.flatMap((k) => [k.key.replaceAll('.', '/'), k.a, k.b]);
  return ['unshare', '--net', '--mount', '--propagation', 'private', '--', 'sh', '-c', SCRIPT, 'sh', root, ...args];
}

function runSandbox(root: string, keys: readonly OracleKey[]): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  const [cmd, ...rest] = oracleArgv(root, keys);
  const child = spawn(cmd as string, rest, { env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' } });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (d: Buffer) => out.push(d));
  child.stderr.on('data', (d: Buffer) => err.push(d));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString() }));
  });
}

const fields = (v: string) => v.trim().split(/\s+/);

/** Runs both appliers on the tree at `root` (etc/, run/, usr/local/lib/, usr/lib/sysctl.d/ under it). */
export async function oracle(root: string, keys: readonly OracleKey[]): Promise<OracleResult> {
  if (!existsSync(SYSTEMD_SYSCTL)) throw new Error(`${SYSTEMD_SYSCTL} is missing: install Debian's systemd package (scripts/setup.sh does)`);
  const res = await runSandbox(root, keys);
  return parseOracle(res.stdout.toString('latin1'), keys, `exit ${res.code} ${res.stderr}`);
}

/** Parses the oracle script's output (`why` is added to errors). */
export function parseOracle(text: string, keys: readonly OracleKey[], why = ''): OracleResult {
  const reads = new Map<string, string>();
  const systemdFiles: string[] = [];
  let sealed = false;
  for (const line of text.split('\n')) {
    const r = /^R (systemd|procps) ([AB]) (\S+) (.*)$/.exec(line);
    if (r) reads.set(`${r[1]} ${r[2]} ${r[3]}`, r[4] as string);
    else if (line.startsWith('C # ')) systemdFiles.push(line.slice(4));
    else if (line === 'SEALED yes') sealed = true;
  }
  const applied = { 'systemd-sysctl': new Map<string, Applied>(), 'sysctl --system': new Map<string, Applied>() };
  for (const [name, tag] of [['systemd-sysctl', 'systemd'], ['sysctl --system', 'procps']] as const) {
    for (const k of keys) {
      const path = k.key.replaceAll('.', '/');
      const a = reads.get(`${tag} A ${path}`);
      const b = reads.get(`${tag} B ${path}`);
      if (a === undefined || b === undefined) throw new Error(`oracle did not read ${k.key} (${tag}): ${why}`);
      const fa = fields(a);
      const fb = fields(b);
      const merged = fa.map((f, i) => (f === fb[i] ? f : '?'));
      applied[name].set(k.key, merged.every((f) => f === '?') ? 'unset' : merged.join(' '));
    }
  }
  return { applied, systemdFiles, sealed };
}
