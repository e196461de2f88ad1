/**
 * The sysctl.d line grammar of both boot appliers, on bytes (see bytes.ts). Read from their sources, not guessed:
 *
 * systemd-sysctl (systemd 252 src/sysctl/sysctl.c parse_file, read_line_full, strstrip, sysctl_normalize):
 *  - a line ends at `\n`, `\r` or `\0`, or a run of distinct ones (`\r\n`, `\n\r`, `\r\0`, `\n\r\0`…; a `\0` ends the
 *    run): `# x\rkey = 0` is a comment and an assignment; every read counts one line;
 *  - a line of 1 MiB or more stops the file there (ENOBUFS; what came before it stays);
 *  - strip " \t\n\r" both sides; empty, or first byte `#` or `;`: ignored. No inline comments: in
 *    `key = 8192 # note` the value is `8192 # note`, and what the kernel makes of it is kernel.ts's business;
 *  - `key = value` at the first `=`, both sides stripped; a `-` before the key = ignore failures; `-key` without `=`
 *    is a negative match (keeps globs off that key); anything else is not an assignment;
 *  - the key: if its first separator is `.`, dots and slashes swap; then path_simplify (no empty or `.` segments).
 * procps 4.0.2 `sysctl --system` (src/sysctl.c Preload, parse_setting_line):
 *  - getline: lines end at `\n` only; a `\0` ends the C string (the rest of that line is invisible); a line of fewer than
 *    2 bytes (with its `\n`) is skipped; every line counts;
 *  - left-strip isspace (space \t \n \v \f \r); fewer than 2 bytes left, or `#`/`;` first: ignored;
 *  - at the first `=`: `-` before the key = ignore failures, key right-stripped, value stripped both sides; without `=`,
 *    `-key` excludes the key from globs and anything else is not an assignment;
 *  - the key becomes a path: if its first separator is `.`, dots and slashes swap (slashdot), nothing else.
 */
import type { Bytes } from './bytes.js';

export interface RawLine {
  /** The line's bytes without its terminator. */
  text: Bytes;
  /** 1-based line number as the applier counts (and logs) it. */
  line: number;
  /** Byte range of `text` within the file. */
  start: number;
  end: number;
}

/** systemd's LONG_LINE_MAX. */
export const SYSTEMD_LONG_LINE_MAX = 1024 * 1024;

const EOL_ZERO = 1;
const EOL_TEN = 2;
const EOL_THIRTEEN = 4;

function eolOf(code: number): number {
  return code === 0x0a ? EOL_TEN : code === 0x0d ? EOL_THIRTEEN : code === 0 ? EOL_ZERO : 0;
}

/** Lines as systemd's read_line_full returns them. `stopped`: a line was too long and the rest is not read. */
export function systemdLines(content: Bytes): { lines: RawLine[]; stopped: boolean } {
  const lines: RawLine[] = [];
  let i = 0;
  while (i < content.length) {
    const start = i;
    let end = -1;
    let seen = 0;
    while (i < content.length) {
      const eol = eolOf(content.charCodeAt(i));
      if (seen & EOL_ZERO || (eol === 0 && seen !== 0) || (eol !== 0 && (seen & eol) !== 0)) break;
      if (eol !== 0) {
        if (end < 0) end = i;
        seen |= eol;
      } else if (i - start >= SYSTEMD_LONG_LINE_MAX) {
        return { lines, stopped: true };
      }
      i++;
    }
    if (end < 0) end = i;
    lines.push({ text: content.slice(start, end), line: lines.length + 1, start, end });
  }
  return { lines, stopped: false };
}

/** Lines as procps' getline loop sees them: split at `\n`, cut at the first `\0`; too-short lines already dropped. */
export function procpsLines(content: Bytes): RawLine[] {
  const out: RawLine[] = [];
  let start = 0;
  let n = 0;
  while (start < content.length) {
    const nl = content.indexOf('\n', start);
    const stop = nl < 0 ? content.length : nl + 1;
    n += 1;
    if (stop - start >= 2) {
      const nul = content.indexOf('\0', start);
      const end = nul >= 0 && nul < stop ? nul : nl < 0 ? stop : nl;
      out.push({ text: content.slice(start, end), line: n, start, end: nl < 0 ? stop : nl });
    }
    start = stop;
  }
  return out;
}

/** One parsed line: an assignment, or a negative match (value null). */
export interface ParsedLine {
  /** kdrift's form of the key (core/sysctl-key.ts): dotted, or slashed when a segment holds a dot. */
  key: string;
  /** The key as a /proc/sys-relative path, as the applier compares it. */
  path: string;
  value: Bytes | null;
  ignoreErrors: boolean;
  glob: boolean;
}

const GLOB_CHARS = /[*?[]/;
const SYSTEMD_WS = ' \t\n\r';
const C_ISSPACE = ' \t\n\v\f\r';

function stripSet(s: string, set: string, left = true, right = true): string {
  let a = 0;
  let b = s.length;
  if (left) while (a < b && set.includes(s[a] as string)) a++;
  if (right) while (b > a && set.includes(s[b - 1] as string)) b--;
  return s.slice(a, b);
}

/** Swaps `.` and `/` when the first separator is a dot (systemd sysctl_normalize, procps slashdot). */
function slashDot(key: string): string {
  const first = /[./]/.exec(key);
  if (!first || first[0] === '/') return key;
  return key.replace(/[./]/g, (c) => (c === '.' ? '/' : '.'));
}

/** /proc/sys-relative path → kdrift's key form. Empty and `.` segments dropped (the kernel's path walk does the same). */
export function keyOfPath(path: string): string {
  const segments = path.split('/').filter((s) => s !== '' && s !== '.');
  return segments.some((s) => s.includes('.')) ? segments.join('/') : segments.join('.');
}

export function parseSystemdLine(text: Bytes): ParsedLine | null {
  const p = stripSet(text, SYSTEMD_WS);
  if (p.length === 0 || '#;\n'.includes(p[0] as string)) return null;
  const eq = p.indexOf('=');
  let keyPart: string;
  let value: string | null = null;
  let ignoreErrors = false;
  if (eq >= 0) {
    ignoreErrors = p[0] === '-';
    keyPart = p.slice(ignoreErrors ? 1 : 0, eq);
    value = stripSet(p.slice(eq + 1), SYSTEMD_WS);
  } else {
    if (p[0] !== '-') return null;
    keyPart = p.slice(1);
  }
  // sysctl_normalize: swap, path_simplify, drop the leading slash.
  const path = slashDot(stripSet(keyPart, SYSTEMD_WS))
    .split('/')
    .filter((s) => s !== '' && s !== '.')
    .join('/');
  return { key: keyOfPath(path), path, value, ignoreErrors, glob: GLOB_CHARS.test(path) };
}

export function parseProcpsLine(text: Bytes): ParsedLine | null {
  let key = stripSet(text, C_ISSPACE, true, false);
  if (key.length < 2 || key[0] === '#' || key[0] === ';') return null;
  const eq = key.indexOf('=');
  let value: string | null = null;
  let ignoreErrors = false;
  if (eq < 0) {
    if (key[0] !== '-') return null;
    key = stripSet(key.slice(1), C_ISSPACE, false, true);
  } else {
    value = stripSet(key.slice(eq + 1), C_ISSPACE);
    key = key.slice(0, eq);
    if (key[0] === '-') {
      ignoreErrors = true;
      key = key.slice(1);
    }
    key = stripSet(key, C_ISSPACE, false, true);
  }
  // setting_new drops one more leading '-'.
  if (key[0] === '-') key = key.slice(1);
  const path = slashDot(key);
  return { key: keyOfPath(path), path, value, ignoreErrors, glob: GLOB_CHARS.test(path) };
}

export interface ConfLine extends ParsedLine {
  line: number;
  start: number;
  end: number;
  text: Bytes;
}

/** Every meaningful line of a file as an applier reads it. */
export function confLines(content: Bytes, applier: 'systemd-sysctl' | 'sysctl --system'): { lines: ConfLine[]; stopped: boolean } {
  const raw = applier === 'systemd-sysctl' ? systemdLines(content) : { lines: procpsLines(content), stopped: false };
  const parse = applier === 'systemd-sysctl' ? parseSystemdLine : parseProcpsLine;
  const lines: ConfLine[] = [];
  for (const r of raw.lines) {
    const p = parse(r.text);
    if (p) lines.push({ ...p, line: r.line, start: r.start, end: r.end, text: r.text });
  }
  return { lines, stopped: raw.stopped };
}
