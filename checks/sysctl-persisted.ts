/**
 * Collects what the sysctl rules (core/sysctl-rules) need from a host, in ONE exec: the runtime values of the keys
 * asked for and the sysctl.d family as bytes (names, contents, link targets, what each entry is).
 *
 * The shell only lists (builtins: globs, test -L/-f/-d/-ef/-r, printf) and streams NUL-terminated records through a
 * pipe to ONE awk (RS="\0" for the records), which reads every value and file, each whole (RS="^$" while it reads
 * one: mawk and gawk read a file as one record, bytes kept, NUL included; an awk that takes RS as one character splits
 * a file holding `^`, which the script reports as an error instead of returning wrong bytes). Processes per host:
 * sh + awk, plus one readlink per symlink that points neither to /dev/null nor to /etc/sysctl.conf. Records go through
 * a pipe, not an ever-growing "$@" (which made 20,000 entries quadratic), so listing is linear in the number of
 * entries and reading linear in their size.
 *
 * Two modes, one listing and one reader: `once` (one exec per collect) and `kept` (report --every, over a kept
 * connection): sh and awk stay running, and for every line `ID` sh reads on stdin it lists again into the same awk,
 * which answers the same records followed by `Z ID\n` (flushed), so a rescan starts no process on the host (no
 * session, login shell, sh or awk; only readlinks as above). ID is unguessable and new per request: the reply ends
 * at the first `Z ID\n`. After `Z` sh sends 16 KiB of padding records (`P…`, 1 KiB each, one printf, skipped):
 * mawk reads its input until its 4 KiB buffer is full (grown only for a longer record: a path near PATH_MAX makes
 * it 8 KiB), so without them it would hold `Z` until the next request; gawk reads what is there and skips them.
 *
 * Output records, lengths in bytes (LC_ALL=C), so any name or content frames unambiguously: per key
 * `V <len>\n<bytes>` | `M\n` (missing) | `E\n` (unreadable); when a write log was asked for, `L <len>\n<its last
 * WRITE_LOG_TAIL_BYTES, from a line start>` | `L\n` (absent) for FILE.1 then FILE; then per directory `D <dir>\n` (or `Q\n` after it when
 * it is an earlier one: /lib/sysctl.d on merged /usr) and its entries `N <len>\n<name>`, optionally
 * `T <len>\n<resolved link target>`, then `C <len>\n<bytes>` (a regular file), `O directory\n` / `O other\n`,
 * `A\n` (dangling link) or `U\n` (this session cannot read it); last `S\n` and /etc/sysctl.conf the same way
 * (nothing after `S`: it is absent). The record letters V/M/E/A/U/O are remediation/host-files.ts' snapshot's.
 */
import { randomBytes } from 'node:crypto';
import type { HostSession } from '../core/session.js';
import { HostError } from '../core/errors.js';
import { sysctlProcPath } from '../core/sysctl-key.js';
import { bytesOf, SYSCTL_CONF, SYSCTL_DIRS, type SysctlEntry, type SysctlTree } from '../core/sysctl-rules/index.js';

/** How much of each write log file (the end: the newest writes) the collect reads; the watcher rotates at 1 MiB. */
export const WRITE_LOG_TAIL_BYTES = 65536;

export const COLLECT_SCRIPT = `LC_ALL=C; export LC_ALL
mode=$1; root=$2; log=$3; shift 3
r() { printf '%s\\0' "$1"; }
collect() {
for k in "$@"; do
  p="$root/proc/sys/$k"
  if [ -f "$p" ]; then r "V:$p"; else r "M:"; fi
done
if [ -n "$log" ]; then r "L:$root$log.1"; r "L:$root$log"; fi
for d in ${SYSCTL_DIRS.join(' ')} /etc; do
  p=$root$d
  if [ "$d" = /etc ]; then r "S:"; pats=sysctl.conf
  else
    r "D:$d"; pats='*.conf .*.conf .conf'
    [ -d "$p" ] || continue
    if [ "$d" = /lib/sysctl.d ] && [ "$p" -ef "$root/usr/lib/sysctl.d" ]; then r "Q:"; continue; fi
  fi
  set -f; for g in $pats; do set +f
    for f in "$p"/$g; do
      [ -e "$f" ] || [ -L "$f" ] || continue
      [ "$d" = /etc ] || r "N:\${f##*/}"
      if [ -L "$f" ]; then
        if [ "$f" -ef /dev/null ]; then r "T:/dev/null"
        elif [ "$f" -ef "$root${SYSCTL_CONF}" ]; then r "T:${SYSCTL_CONF}"
        else r "T:$(readlink -f -- "$f")"; fi
      fi
      if [ -f "$f" ]; then if [ -r "$f" ]; then r "C:$f"; else r "U:"; fi
      elif [ -d "$f" ]; then r "O:directory"
      elif [ -e "$f" ]; then r "O:other"
      else r "A:"; fi
    done
  set -f; done; set +f
done
}
reader='BEGIN { RS = "\\0" }
{
  t = substr($0, 1, 1)
  if (t == "P") next
  a = substr($0, 3)
  if (t == "Z") { printf "Z %s\\n", a; fflush(); next }
  if (t == "V" || t == "C" || t == "L") {
    RS = "^$"; v = ""; n = 0
    while ((r = (getline rec < a)) > 0) { v = rec; n++ }
    close(a); RS = "\\0"
    if (n > 1) { print "awk on this host reads RS=\\"^$\\" as one character: use mawk or gawk" > "/dev/stderr"; exit 1 }
    if (t == "L" && length(v) > ${WRITE_LOG_TAIL_BYTES}) { v = substr(v, length(v) - ${WRITE_LOG_TAIL_BYTES} + 1); v = substr(v, index(v, "\\n") + 1) }
    if (r < 0) print (t == "V" ? "E" : t == "C" ? "U" : "L"); else printf "%s %d\\n%s", t, length(v), v
  } else if (t == "N" || t == "T") printf "%s %d\\n%s", t, length(a), a
  else if (t == "D" || t == "O") printf "%s %s\\n", t, a
  else print t
}'
if [ "$mode" = once ]; then collect "$@" | awk "$reader"; exit; fi
pad=x; i=0; while [ $i -lt 10 ]; do pad=$pad$pad; i=$((i+1)); done
pad="P$pad\\\\0"; i=0; while [ $i -lt 4 ]; do pad=$pad$pad; i=$((i+1)); done
while IFS= read -r id; do collect "$@"; r "Z:$id"; printf "$pad"; done | awk "$reader"
`;

export interface SysctlState {
  /** Runtime value per key asked for; null when /proc/sys has no such key (or it cannot be read: see runtimeErrors). */
  runtime: Map<string, string | null>;
  /** Keys that exist but could not be read (write-only keys, permissions). */
  runtimeErrors: Map<string, string>;
  tree: SysctlTree;
  /**
   * The end of the on-host write log, when one was asked for: the rotated FILE.1 first, then FILE (latin1, as read),
   * absent files left out. Read in the same exec so a drifting host costs no extra round trip.
   */
  writeLog?: string[];
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
  const c = /^C (\d+)$/.exec(h);
  if (c) e.content = r.take(Number(c[1]));
  else if (h === 'U') e.kind = 'unreadable';
  else if (h === 'A') e.kind = 'dangling';
  else if (h === 'O directory') e.kind = 'directory';
  else if (h === 'O other') e.kind = e.target === '/dev/null' ? 'masked' : 'other';
  else throw new Error(`unexpected record "${h}" for ${dir}/${name}`);
  return e;
}

/** Turns the script's records into SysctlState; `root` is stripped from resolved symlink targets. */
export function decodeSysctlState(out: Buffer, keys: readonly string[], root = '', withWriteLog = false): SysctlState {
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
  const writeLog: string[] = [];
  for (let i = 0; withWriteLog && i < 2; i++) {
    if (r.peek() === 'L') r.header();
    else writeLog.push(r.sized('L'));
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
      sysctlConf = r.done ? null : readEntry(r, '/etc', 'sysctl.conf', unroot);
      if (!r.done) throw new Error('output continues after /etc/sysctl.conf');
    } else throw new Error(`unexpected record "${h}"`);
  }
  return { runtime, runtimeErrors, tree: { entries, sysctlConf }, ...(withWriteLog ? { writeLog } : {}) };
}

export interface CollectOptions {
  /** Prefix for every path read (tests point it at a fixture tree through a LocalSession; '' on a real host). */
  root?: string;
  timeoutMs?: number;
  /** Also read the end of this write log and its rotated `.1` in the same exec (SysctlState.writeLog). */
  writeLogPath?: string;
  /**
   * Collect through the session's kept collector (report --every over kept connections) when the session can keep
   * one (HostSession.converse); otherwise, and by default, one exec.
   */
  kept?: boolean;
}

/** Kept collector request ids: unguessable by a file's content (the reply ends at the first `Z <id>\\n`), unique per request. */
const REQUEST_PREFIX = randomBytes(12).toString('hex');
let requests = 0;

/** /proc/sys-relative paths of the keys (remembered: every host of a fleet asks for the same keys, every run). */
function procRelative(keys: readonly string[]): string[] {
  const id = keys.join('\n');
  let rel = relativePaths.get(id);
  if (!rel) {
    rel = keys.map((k) => sysctlProcPath(k).slice('/proc/sys/'.length));
    if (relativePaths.size >= 64) relativePaths.clear();
    relativePaths.set(id, rel);
  }
  return rel;
}
const relativePaths = new Map<string, string[]>();

/** The script's argv: mode, root prefix, write log path, then /proc/sys-relative key paths. */
function collectArgv(session: HostSession, mode: 'once' | 'kept', keys: readonly string[], opts: CollectOptions): string[] {
  const root = opts.root ?? '';
  if (root !== '' && !root.startsWith('/')) throw new HostError(session.host, `sysctl root prefix must be absolute, got "${root}"`);
  return ['sh', '-c', COLLECT_SCRIPT, 'sh', mode, root, opts.writeLogPath ?? '', ...procRelative(keys)];
}

/**
 * Runs the collect script and returns its records undecoded: ONE exec, or with `opts.kept` one request to the
 * session's kept collector for these keys and options (started on first use; the same script, so the same bytes).
 */
export async function execSysctlCollect(session: HostSession, keys: readonly string[], opts: CollectOptions = {}): Promise<Buffer> {
  const timeout = opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {};
  if (opts.kept && session.converse) {
    const id = `${REQUEST_PREFIX}${(requests += 1)}`;
    const reply = await session.converse(collectArgv(session, 'kept', keys, opts), `${id}\n`, `Z ${id}\n`, timeout);
    // The reply is the records, then `Z <id>\n`.
    const records = reply.stdout.length - id.length - 3;
    if (records < 0 || reply.stdout.subarray(records, records + 2).toString('latin1') !== 'Z ') {
      throw new HostError(session.host, 'collecting sysctl state: the kept collector answered without its end line');
    }
    return reply.stdout.subarray(0, records);
  }
  const res = await session.exec(collectArgv(session, 'once', keys, opts), timeout);
  if (res.code !== 0) {
    const why = res.stderr.toString('utf8').trim() || (res.signal ? `killed by ${res.signal}` : `exit ${res.code}`);
    throw new HostError(session.host, `collecting sysctl state failed: ${why}`);
  }
  return res.stdout;
}

/** decodeSysctlState for `host`'s collect output: a mismatch is that host's error. */
export function decodeCollected(host: string, out: Buffer, keys: readonly string[], opts: CollectOptions = {}): SysctlState {
  try {
    return decodeSysctlState(out, keys, opts.root ?? '', opts.writeLogPath !== undefined);
  } catch (err) {
    throw new HostError(host, `collecting sysctl state: unexpected output (${(err as Error).message}; did a file change while it was read?)`);
  }
}

/** Collects runtime values and the sysctl.d family (and, if asked, the write log's end) in ONE exec. */
export async function collectSysctlState(session: HostSession, keys: readonly string[], opts: CollectOptions = {}): Promise<SysctlState> {
  return decodeCollected(session.host, await execSysctlCollect(session, keys, opts), keys, opts);
}
