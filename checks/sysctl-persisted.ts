/**
 * What value a boot would apply to a sysctl: the sysctl.d family, resolved as systemd-sysctl / `sysctl --system` do.
 *
 * Order implemented (and why): the files of SYSCTL_DIRS in lexical order of their names (a name in an earlier directory
 * masks the same name in later ones; a symlink to /dev/null masks = disables), then /etc/sysctl.conf LAST.
 * That is procps' `sysctl --system` order (Debian's procps 4.0.2 reads the directories, then /etc/sysctl.conf), and
 * the order the issue specifies. systemd-sysctl reads /etc/sysctl.conf only through the `99-sysctl.conf ->
 * ../sysctl.conf` symlink Debian ships, i.e. at position "99-sysctl.conf": the two agree unless a file name sorts after
 * "99-sysctl.conf". A directory entry that resolves to /etc/sysctl.conf is therefore not applied at its own position
 * (sysctl.conf is applied last anyway, so the effective values are the same and its lines are not listed twice).
 *
 * Line syntax (systemd-sysctl parse_file): blank lines and lines starting with `#` or `;` are ignored; `key = value`
 * with whitespace stripped around both; a `-` before the key means "ignore errors when applying"; `-key` with no `=` is a
 * negative match that keeps glob patterns off that key; keys in `.` or `/` form (the first separator decides, as
 * sysctl_normalize does); keys containing `*`, `?` or `[` are glob patterns, applied to every matching key that no
 * explicit line (anywhere) names; a later assignment of a key replaces an earlier one.
 */
import type { HostSession } from '../core/session.js';
import { HostError } from '../core/errors.js';
import { sysctlProcPath } from '../core/sysctl-key.js';

/** systemd-sysctl's search path, highest precedence first. */
export const SYSCTL_DIRS = ['/etc/sysctl.d', '/run/sysctl.d', '/usr/local/lib/sysctl.d', '/usr/lib/sysctl.d', '/lib/sysctl.d'] as const;
/** Applied after every directory (see the order note above). */
export const SYSCTL_CONF = '/etc/sysctl.conf';

export interface SysctlConfFile {
  /** The path a boot reads, after masking (for a symlink: the link's path). */
  path: string;
  content: string;
  /** For a symlink: the file it resolves to (what to edit). */
  target?: string;
}

export interface SysctlAssignment {
  /** Normalised key (dotted; slashed when a segment contains a dot — the form core/sysctl-key.ts uses). */
  key: string;
  value: string;
  /** SysctlConfFile.path of the file holding the line. */
  file: string;
  /** 1-based line number. */
  line: number;
  /** The line starts with `-`: a failure to apply it is ignored. */
  ignoreErrors: boolean;
  /** Set when this assignment comes from a glob line: the normalised pattern. */
  pattern?: string;
}

/** One entry of a directory listing as collected from a host. */
export interface SysctlDirEntry {
  dir: string;
  name: string;
  /** Resolved target when the entry is a symlink ('/dev/null' = masked). */
  target?: string;
  /** Content when readable as a regular file. */
  content?: string;
  /** Why it could not be read (dangling symlink, not a regular file, permission). */
  error?: string;
}

/** A parsed line: an assignment, or a negative match (`-key`, value null). */
interface ConfLine {
  key: string;
  value: string | null;
  file: string;
  line: number;
  ignoreErrors: boolean;
  glob: boolean;
}

const GLOB_CHARS = /[*?[]/;

/**
 * Normalises a key as written in a file to kdrift's form. Mirrors systemd's sysctl_normalize: if the first separator is
 * a dot, dots separate segments and slashes stand for dots inside a segment; otherwise slashes separate segments.
 */
export function normaliseConfKey(raw: string): string {
  const first = /[./]/.exec(raw);
  let segments: string[];
  if (first && first[0] === '.') segments = raw.split('.').map((s) => s.replaceAll('/', '.'));
  else segments = raw.split('/');
  segments = segments.filter((s) => s.length > 0);
  return segments.some((s) => s.includes('.')) ? segments.join('/') : segments.join('.');
}

/** Segments of a normalised key (the inverse of the join above). */
function keySegments(key: string): string[] {
  return key.includes('/') ? key.split('/') : key.split('.');
}

function parseLines(file: SysctlConfFile): ConfLine[] {
  const out: ConfLine[] = [];
  const lines = file.content.split('\n');
  lines.forEach((rawLine, i) => {
    const p = rawLine.trim();
    if (p.length === 0 || p[0] === '#' || p[0] === ';') return;
    const eq = p.indexOf('=');
    let keyPart: string;
    let value: string | null;
    let ignoreErrors = false;
    if (eq >= 0) {
      keyPart = p.slice(0, eq);
      value = p.slice(eq + 1).trim();
      if (keyPart.startsWith('-')) {
        ignoreErrors = true;
        keyPart = keyPart.slice(1);
      }
    } else {
      // Not an assignment: only `-key` (a negative match) means something; systemd warns about and skips the rest.
      if (!p.startsWith('-')) return;
      keyPart = p.slice(1);
      value = null;
    }
    const key = normaliseConfKey(keyPart.trim());
    if (key.length === 0) return;
    out.push({ key, value, file: file.path, line: i + 1, ignoreErrors, glob: GLOB_CHARS.test(key) });
  });
  return out;
}

/** Every assignment line of a file, in order (negative matches are not assignments and are left out). */
export function parseSysctlConf(file: SysctlConfFile): SysctlAssignment[] {
  return parseLines(file)
    .filter((l): l is ConfLine & { value: string } => l.value !== null)
    .map((l) => ({ key: l.key, value: l.value, file: l.file, line: l.line, ignoreErrors: l.ignoreErrors, ...(l.glob ? { pattern: l.key } : {}) }));
}

/**
 * fnmatch(3) without FNM_PERIOD, per path segment, as glob(3) over /proc/sys matches: `*` and `?` never cross a
 * segment boundary; `[...]` / `[!...]` classes.
 */
export function sysctlGlobMatches(pattern: string, key: string): boolean {
  const ps = keySegments(pattern);
  const ks = keySegments(key);
  if (ps.length !== ks.length) return false;
  return ps.every((p, i) => segmentRegExp(p).test(ks[i] as string));
}

function segmentRegExp(seg: string): RegExp {
  let re = '';
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i] as string;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const close = seg.indexOf(']', i + 2);
      if (close < 0) {
        re += '\\[';
        continue;
      }
      let body = seg.slice(i + 1, close);
      const negate = body.startsWith('!') || body.startsWith('^');
      if (negate) body = body.slice(1);
      re += `[${negate ? '^' : ''}${body.replace(/[\\\]^]/g, '\\$&')}]`;
      i = close;
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/**
 * Every assignment that applies to each key, in application order; the last is the effective one.
 * `files` are in application order (as orderConfFiles returns them). Explicit lines of a key are collected as they
 * appear. Glob lines are expanded against `keys` (the key names asked for) and apply to a key only when no explicit
 * line — an assignment or a negative match — names it anywhere, as systemd-sysctl does. A key whose last explicit line
 * is a negative match has no effective assignment and is left out of the map.
 */
export function resolvePersisted(files: SysctlConfFile[], keys: Iterable<string> = []): Map<string, SysctlAssignment[]> {
  const explicit = new Map<string, ConfLine[]>();
  // systemd keeps one option per pattern in an ordered hashmap; a changed value moves it to the end.
  const globs = new Map<string, ConfLine>();
  for (const file of files) {
    for (const l of parseLines(file)) {
      if (l.glob) {
        const prev = globs.get(l.key);
        if (prev && prev.value === l.value) {
          prev.ignoreErrors ||= l.ignoreErrors;
          continue;
        }
        globs.delete(l.key);
        globs.set(l.key, l);
        continue;
      }
      const list = explicit.get(l.key) ?? [];
      list.push(l);
      explicit.set(l.key, list);
    }
  }
  const toAssignment = (l: ConfLine, key: string): SysctlAssignment => ({
    key,
    value: l.value as string,
    file: l.file,
    line: l.line,
    ignoreErrors: l.ignoreErrors,
    ...(l.glob ? { pattern: l.key } : {}),
  });
  const out = new Map<string, SysctlAssignment[]>();
  for (const [key, lines] of explicit) {
    const last = lines[lines.length - 1] as ConfLine;
    if (last.value === null) continue;
    out.set(key, lines.filter((l) => l.value !== null).map((l) => toAssignment(l, key)));
  }
  for (const key of keys) {
    if (explicit.has(key)) continue;
    const matching = [...globs.values()].filter((g) => g.value !== null && sysctlGlobMatches(g.key, key));
    if (matching.length > 0) out.set(key, matching.map((g) => toAssignment(g, key)));
  }
  return out;
}

/**
 * Directory listings → the files a boot reads, in application order: per name, the entry of the first directory that
 * has it; /dev/null symlinks (and other non-files) mask without contributing; names sorted bytewise; entries resolving
 * to /etc/sysctl.conf skipped (it is applied last); then /etc/sysctl.conf itself when present.
 * Returns also the masked / unreadable entries, so a report can say why a file was not read.
 */
export function orderConfFiles(
  entries: SysctlDirEntry[],
  sysctlConf: string | null,
): { files: SysctlConfFile[]; masked: SysctlDirEntry[]; unreadable: SysctlDirEntry[] } {
  const byName = new Map<string, SysctlDirEntry>();
  const rank = (dir: string) => {
    const i = (SYSCTL_DIRS as readonly string[]).indexOf(dir);
    return i < 0 ? SYSCTL_DIRS.length : i;
  };
  const masked: SysctlDirEntry[] = [];
  const unreadable: SysctlDirEntry[] = [];
  for (const e of [...entries].sort((a, b) => rank(a.dir) - rank(b.dir))) {
    const prev = byName.get(e.name);
    if (prev) {
      masked.push(e);
      continue;
    }
    byName.set(e.name, e);
  }
  const files: SysctlConfFile[] = [];
  const names = [...byName.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const name of names) {
    const e = byName.get(name) as SysctlDirEntry;
    const path = `${e.dir}/${e.name}`;
    if (e.target === '/dev/null') {
      masked.push(e);
      continue;
    }
    if (e.target === SYSCTL_CONF) continue;
    if (e.content === undefined) {
      unreadable.push(e);
      continue;
    }
    files.push({ path, content: e.content, ...(e.target !== undefined && e.target !== path ? { target: e.target } : {}) });
  }
  if (sysctlConf !== null) files.push({ path: SYSCTL_CONF, content: sysctlConf });
  return { files, masked, unreadable };
}

/**
 * The collection script: fixed text, never built from values. Arguments: $1 = root prefix ('' on a real host; a
 * fixture tree in tests), then the keys as paths relative to /proc/sys. Output: records `TAG LEN:PAYLOAD\n`, LEN in
 * bytes (LC_ALL=C), so any content frames unambiguously:
 *   V value | M (missing) | E error          — one per key, in argument order
 *   D dir, then per entry N name [L resolved-target] (C content | U why-unreadable)
 *   S content | X (absent) | U error         — /etc/sysctl.conf
 * The shell only lists (builtins: globs, test -L/-f/-ef, printf) into a pipe; ONE awk reads every file, with buffered
 * reads, in that order. Linear in the number and size of the files (bench/hostile-scale.ts). Two reasons: /proc/sys answers a read at a non-zero offset with EOF, so the shell's byte-at-a-time `read`
 * would see "3" of "32768"; and every process and syscall counts (process creation ~20 ms on a small VM, measured
 * here). Processes per host: sh + awk, plus one readlink per symlink that points neither to /dev/null nor to
 * /etc/sysctl.conf. Contents come back line-joined (a final newline is not kept; line numbers are); NUL bytes cannot
 * be carried (no sysctl value or conf file has one).
 */
export const COLLECT_SCRIPT = `LC_ALL=C; export LC_ALL
root=$1; shift
# One record per entry, written to awk's stdin as "TAG LEN" + newline + payload + newline: linear in the number of
# entries (appending to "$@" one entry at a time copied the whole list each time: 5,000 files took minutes).
emit() { printf '%s %d\\n%s\\n' "$1" "\${#2}" "$2"; }
{
for k in "$@"; do
  p="$root/proc/sys/$k"
  if [ -f "$p" ]; then emit V "$p"; else emit M ""; fi
done
for d in ${SYSCTL_DIRS.join(' ')}; do
  emit D "$d"
  [ -d "$root$d" ] || continue
  for f in "$root$d"/*.conf; do
    [ -e "$f" ] || [ -L "$f" ] || continue
    emit N "\${f##*/}"
    if [ -L "$f" ]; then
      if [ "$f" -ef /dev/null ]; then emit L /dev/null
      elif [ "$f" -ef "$root${SYSCTL_CONF}" ]; then emit L "$root${SYSCTL_CONF}"
      else emit L "$(readlink -f -- "$f")"; fi
    fi
    if [ -f "$f" ]; then emit C "$f"
    elif [ -e "$f" ]; then emit U "not a regular file"
    else emit U "dangling symlink"; fi
  done
done
f="$root${SYSCTL_CONF}"
if [ -f "$f" ]; then emit S "$f"; else emit X ""; fi
} | awk '
# the payload of a record: LEN bytes over one or more lines (a name may hold a newline)
function payload(want,   v, l, first) {
  v = ""; first = 1
  while (first || length(v) < want) {
    if ((getline l) <= 0) break
    v = first ? l : v "\\n" l; first = 0
  }
  return v
}
{
  t = substr($0, 1, 1); p = payload(substr($0, 3) + 0)
  if (t == "V" || t == "C" || t == "S") {
    # lines kept in an array and printed one by one: growing one string line by line copies it each time
    # (quadratic: a 3 MB file took 8 minutes); a file past 16 MiB is not read on (a bound that names the file,
    # not a timeout that names nothing)
    n = 0; len = 0; big = 0
    while ((r = (getline line < p)) > 0) { buf[++n] = line; len += length(line) + 1; if (len > 16777216) { big = 1; break } }
    len -= n
    close(p)
    if (big) { v = "larger than 16 MiB: kdrift does not read it (no sysctl file is that big)"; t = (t == "V" ? "E" : "U"); printf "%s %d:%s\\n", t, length(v), v }
    else if (r < 0) { v = "cannot read " p; t = (t == "V" ? "E" : "U"); printf "%s %d:%s\\n", t, length(v), v }
    else {
      printf "%s %d:", t, len + (n > 0 ? n - 1 : 0)
      for (j = 1; j <= n; j++) printf "%s%s", (j > 1 ? "\\n" : ""), buf[j]
      printf "\\n"
    }
    split("", buf)
  } else printf "%s %d:%s\\n", t, length(p), p
}'
`;

interface RawRecord {
  tag: string;
  payload: string;
}

/** Splits the script's output into records; throws on anything that is not exactly the framing above. */
export function parseRecords(out: Buffer): RawRecord[] {
  const recs: RawRecord[] = [];
  let pos = 0;
  while (pos < out.length) {
    const sp = out.indexOf(0x20, pos);
    const colon = out.indexOf(0x3a, pos);
    if (sp < 0 || colon < 0 || colon < sp) throw new Error(`bad record header at byte ${pos}`);
    const tag = out.subarray(pos, sp).toString('latin1');
    const lenText = out.subarray(sp + 1, colon).toString('latin1');
    if (!/^[A-Z]$/.test(tag) || !/^\d+$/.test(lenText)) throw new Error(`bad record header at byte ${pos}`);
    const start = colon + 1;
    const end = start + Number(lenText);
    if (end >= out.length) throw new Error(`record at byte ${pos} is truncated`);
    if (out[end] !== 0x0a) throw new Error(`record at byte ${pos} does not end where its length says`);
    recs.push({ tag, payload: out.subarray(start, end).toString('utf8') });
    pos = end + 1;
  }
  return recs;
}

export interface SysctlState {
  /** Runtime value per key asked for; null when /proc/sys has no such key (or it cannot be read: see runtimeErrors). */
  runtime: Map<string, string | null>;
  /** Keys that exist but could not be read (write-only keys, permissions). */
  runtimeErrors: Map<string, string>;
  /** The files a boot reads, in application order. */
  files: SysctlConfFile[];
  /** Entries masked by an earlier directory or by a /dev/null symlink. */
  masked: SysctlDirEntry[];
  /** Entries that could not be read (dangling symlinks, permission). */
  unreadable: SysctlDirEntry[];
}

/** Turns the script's records into SysctlState; `root` is stripped from resolved symlink targets. */
export function decodeSysctlState(out: Buffer, keys: readonly string[], root = ''): SysctlState {
  const recs = parseRecords(out);
  let i = 0;
  const runtime = new Map<string, string | null>();
  const runtimeErrors = new Map<string, string>();
  for (const key of keys) {
    const r = recs[i++];
    if (!r || !'VME'.includes(r.tag)) throw new Error(`expected a value record for ${key}`);
    if (r.tag === 'V') runtime.set(key, r.payload.trim());
    else {
      runtime.set(key, null);
      if (r.tag === 'E') runtimeErrors.set(key, r.payload.trim() || 'cannot be read');
    }
  }
  const entries: SysctlDirEntry[] = [];
  const unroot = (p: string) => (root !== '' && p.startsWith(`${root}/`) ? p.slice(root.length) : p);
  let dir: string | undefined;
  let sysctlConf: string | null = null;
  const confErrors: SysctlDirEntry[] = [];
  while (i < recs.length) {
    const r = recs[i++] as RawRecord;
    if (r.tag === 'D') dir = r.payload;
    else if (r.tag === 'N') {
      if (dir === undefined) throw new Error('entry before directory');
      const e: SysctlDirEntry = { dir, name: r.payload };
      while (i < recs.length && 'LCU'.includes((recs[i] as RawRecord).tag)) {
        const f = recs[i++] as RawRecord;
        if (f.tag === 'L') e.target = unroot(f.payload);
        else if (f.tag === 'C') e.content = f.payload;
        else e.error = f.payload.trim();
      }
      entries.push(e);
    } else if (r.tag === 'S') sysctlConf = r.payload;
    else if (r.tag === 'U') confErrors.push({ dir: '/etc', name: 'sysctl.conf', error: r.payload.trim() });
    else if (r.tag === 'X') sysctlConf = null;
    else throw new Error(`unexpected record ${r.tag}`);
  }
  const ordered = orderConfFiles(entries, sysctlConf);
  return { runtime, runtimeErrors, ...ordered, unreadable: [...ordered.unreadable, ...confErrors] };
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
  if (root !== '' && !root.startsWith('/')) throw new Error(`sysctl root prefix must be absolute, got "${root}"`);
  const rel = keys.map((k) => sysctlProcPath(k).slice('/proc/sys/'.length));
  const res = await session.exec(['sh', '-c', COLLECT_SCRIPT, 'sh', root, ...rel], opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {});
  if (res.code !== 0) {
    const why = res.stderr.toString('utf8').trim() || (res.signal ? `killed by ${res.signal}` : `exit ${res.code}`);
    throw new HostError(session.host, `collecting sysctl state failed: ${why}`);
  }
  try {
    return decodeSysctlState(res.stdout, keys, root);
  } catch (err) {
    throw new HostError(session.host, `collecting sysctl state: unexpected output (${(err as Error).message})`);
  }
}
