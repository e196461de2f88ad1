/**
 * Collects what the sysctl rules (core/sysctl-rules) need from a host, in ONE exec: the runtime values of the keys
 * asked for and the sysctl.d family as bytes (names, contents, link targets, what each entry is).
 *
 * Output: the record grammar of remediation/host-files.ts (one on-host format for sysctl state): per key
 * `V <len>\n<bytes>` | `M\n` (missing) | `E\n` (unreadable); then per directory `D <dir>\n` followed by its entries
 * `N <len>\n<name>` [`T <len>\n<resolved link target>`] and one of `F <mode> <uid> <gid> <size>\n<bytes>` (a regular
 * file, exact bytes), `O directory\n` / `O other\n`, `A\n` (dangling link), `U\n` (this session cannot read it), or
 * `Q\n` for a directory that is an earlier one (/lib/sysctl.d on merged-/usr); last `S\n` and /etc/sysctl.conf as an
 * entry. Lengths are bytes (LC_ALL=C), so any name or content frames unambiguously.
 * Processes: sh, one awk for every runtime value (/proc/sys answers a read at a non-zero offset with EOF, so values are
 * read with buffered reads), and stat + head per regular file (head -c: never more than stat said), readlink per link
 * that is neither /dev/null nor /etc/sysctl.conf.
 */
import type { HostSession } from '../core/session.js';
import { HostError } from '../core/errors.js';
import { sysctlProcPath } from '../core/sysctl-key.js';
import { bytesOf, SYSCTL_CONF, SYSCTL_DIRS, type SysctlEntry, type SysctlTree } from '../core/sysctl-rules/index.js';

export const COLLECT_SCRIPT = `LC_ALL=C; export LC_ALL
root=$1; shift
for k in "$@"; do
  p="$root/proc/sys/$k"
  if [ -f "$p" ]; then set -- "$@" "V:$p"; else set -- "$@" "M:"; fi
  shift
done
[ $# -eq 0 ] || awk 'BEGIN {
  for (i = 1; i < ARGC; i++) {
    p = substr(ARGV[i], 3)
    if (substr(ARGV[i], 1, 1) == "M") { print "M"; continue }
    v = ""; n = 0
    while ((r = (getline line < p)) > 0) v = v (n++ ? "\\n" : "") line
    close(p)
    if (r < 0) print "E"; else printf "V %d\\n%s", length(v), v
  }
}' "$@"
entry() {
  f=$1
  if [ -L "$f" ]; then
    if [ "$f" -ef /dev/null ]; then t=/dev/null
    elif [ "$f" -ef "$root${SYSCTL_CONF}" ]; then t=${SYSCTL_CONF}
    else t=$(readlink -f -- "$f"); fi
    printf 'T %d\\n%s' "\${#t}" "$t"
  fi
  if [ -f "$f" ]; then
    if [ -r "$f" ] && s=$(stat -L -c '%a %u %g %s' -- "$f"); then
      printf 'F %s\\n' "$s"; head -c "\${s##* }" -- "$f" || exit 1
    else printf 'U\\n'; fi
  elif [ -d "$f" ]; then printf 'O directory\\n'
  elif [ -e "$f" ]; then printf 'O other\\n'
  else printf 'A\\n'; fi
}
for d in ${SYSCTL_DIRS.join(' ')}; do
  printf 'D %s\\n' "$d"
  p=$root$d
  [ -d "$p" ] || continue
  if [ "$d" = /lib/sysctl.d ] && [ "$p" -ef "$root/usr/lib/sysctl.d" ]; then printf 'Q\\n'; continue; fi
  for f in "$p"/*.conf "$p"/.*.conf "$p"/.conf; do
    [ -e "$f" ] || [ -L "$f" ] || continue
    n=\${f##*/}
    printf 'N %d\\n%s' "\${#n}" "$n"
    entry "$f"
  done
done
printf 'S\\n'
f="$root${SYSCTL_CONF}"
if [ -e "$f" ] || [ -L "$f" ]; then entry "$f"; else printf 'A\\n'; fi
`;

export interface SysctlState {
  /** Runtime value per key asked for; null when /proc/sys has no such key (or it cannot be read: see runtimeErrors). */
  runtime: Map<string, string | null>;
  /** Keys that exist but could not be read (write-only keys, permissions). */
  runtimeErrors: Map<string, string>;
  tree: SysctlTree;
}

/** A cursor over the records. Every mismatch throws: a partial state is never returned. */
class Records {
  private pos = 0;
  constructor(private readonly out: Buffer) {}
  get done(): boolean {
    return this.pos >= this.out.length;
  }
  header(): string {
    const nl = this.out.indexOf(0x0a, this.pos);
    if (nl < 0) throw new Error(`truncated output at byte ${this.pos}`);
    const h = this.out.subarray(this.pos, nl).toString('latin1');
    this.pos = nl + 1;
    return h;
  }
  peek(): string {
    const nl = this.out.indexOf(0x0a, this.pos);
    return nl < 0 ? '' : this.out.subarray(this.pos, nl).toString('latin1');
  }
  take(n: number): string {
    if (this.pos + n > this.out.length) throw new Error(`truncated output at byte ${this.pos}`);
    const b = this.out.subarray(this.pos, this.pos + n);
    this.pos += n;
    return bytesOf(b);
  }
  sized(tag: string): string {
    const h = this.header();
    const m = new RegExp(`^${tag} (\\d+)$`).exec(h);
    if (!m) throw new Error(`expected a ${tag} record, got "${h}"`);
    return this.take(Number(m[1]));
  }
}

function readEntry(r: Records, dir: string, name: string, unroot: (p: string) => string): SysctlEntry {
  const e: SysctlEntry = { dir, name, kind: 'file' };
  if (r.peek().startsWith('T ')) e.target = unroot(r.sized('T'));
  const h = r.header();
  const f = /^F ([0-7]+) (\d+) (\d+) (\d+)$/.exec(h);
  if (f) {
    Object.assign(e, { mode: parseInt(f[1] as string, 8), uid: Number(f[2]), gid: Number(f[3]), content: r.take(Number(f[4])) });
  } else if (h === 'U') e.kind = 'unreadable';
  else if (h === 'A') e.kind = 'dangling';
  else if (h === 'O directory') e.kind = 'directory';
  else if (h === 'O other') e.kind = e.target === '/dev/null' ? 'masked' : 'other';
  else throw new Error(`unexpected record "${h}" for ${dir}/${name}`);
  return e;
}

/** Turns the script's records into SysctlState; `root` is stripped from resolved symlink targets. */
export function decodeSysctlState(out: Buffer, keys: readonly string[], root = ''): SysctlState {
  const r = new Records(out);
  const runtime = new Map<string, string | null>();
  const runtimeErrors = new Map<string, string>();
  for (const key of keys) {
    const h = r.peek();
    if (h === 'M' || h === 'E') {
      r.header();
      runtime.set(key, null);
      if (h === 'E') runtimeErrors.set(key, 'cannot be read');
    } else runtime.set(key, Buffer.from(r.sized('V'), 'latin1').toString('utf8').trim());
  }
  const unroot = (p: string) => (root !== '' && p.startsWith(`${root}/`) ? p.slice(root.length) : p);
  const entries: SysctlEntry[] = [];
  let sysctlConf: SysctlEntry | null = null;
  let dir: string | undefined;
  while (!r.done) {
    const h = r.header();
    if (h.startsWith('D ')) dir = h.slice(2);
    else if (h === 'Q') dir = undefined;
    else if (/^N \d+$/.test(h)) {
      if (dir === undefined) throw new Error('entry outside a directory');
      const name = r.take(Number(h.slice(2)));
      entries.push(readEntry(r, dir, name, unroot));
    } else if (h === 'S') {
      if (r.peek() === 'A') {
        r.header();
        sysctlConf = null;
      } else sysctlConf = readEntry(r, '/etc', 'sysctl.conf', unroot);
      if (!r.done) throw new Error('output continues after /etc/sysctl.conf');
    } else throw new Error(`unexpected record "${h}"`);
  }
  return { runtime, runtimeErrors, tree: { entries, sysctlConf } };
}

/**
 * Collects runtime values and the sysctl.d family in ONE exec. `root` prefixes every path read (tests point it at a
 * fixture tree through a LocalSession; it is '' on a real host).
 */
export async function collectSysctlState(
  session: HostSession,
  keys: readonly string[],
  opts: { root?: string; timeoutMs?: number } = {},
): Promise<SysctlState> {
  const root = opts.root ?? '';
  if (root !== '' && !root.startsWith('/')) throw new HostError(session.host, `sysctl root prefix must be absolute, got "${root}"`);
  const rel = keys.map((k) => sysctlProcPath(k).slice('/proc/sys/'.length));
  const res = await session.exec(['sh', '-c', COLLECT_SCRIPT, 'sh', root, ...rel], opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {});
  if (res.code !== 0) {
    const why = res.stderr.toString('utf8').trim() || (res.signal ? `killed by ${res.signal}` : `exit ${res.code}`);
    throw new HostError(session.host, `collecting sysctl state failed: ${why}`);
  }
  try {
    return decodeSysctlState(res.stdout, keys, root);
  } catch (err) {
    throw new HostError(session.host, `collecting sysctl state: unexpected output (${(err as Error).message}; did a file change while it was read?)`);
  }
}
