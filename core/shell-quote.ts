/**
 * The ONE function through which an argv reaches a remote shell.
 *
 * SSH has no argv: sshd runs `$SHELL -c <string>` with the user's login shell. So the argv is turned into one string
 * that a POSIX shell (sh, dash, bash, ksh, zsh) splits back into exactly the same words, with nothing expanded:
 * every word that is not made only of characters no shell treats specially is wrapped in single quotes, inside which a
 * POSIX shell interprets nothing at all; a single quote itself is written as `'\''` (close, escaped quote, reopen).
 * Newlines, `$()`, backticks, globs, `;`, `&&`, leading `-` and non-ASCII text all survive unchanged.
 *
 * Not supported: non-POSIX login shells (fish treats `\` inside single quotes specially; csh rejects newlines in quotes).
 */
import { KdriftError } from './errors.js';

/** Characters that need no quoting in any POSIX shell, in any position (no `=`: zsh expands a leading `=cmd`; no `~`). */
const BARE_WORD = /^[A-Za-z0-9_\/.,:@%+-]+$/;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function quoteArg(arg: string): string {
  assertQuotable(arg);
  if (BARE_WORD.test(arg)) return arg;
  return singleQuote(arg);
}

function assertQuotable(arg: string): void {
  if (typeof arg !== 'string') throw new KdriftError(`cannot quote a ${typeof arg} for a remote shell; argv elements are strings`);
  if (arg.includes('\0')) {
    // A C string (what exec() receives) ends at NUL: the remote command would silently see a shorter argument.
    throw new KdriftError(`argument contains a NUL byte, which no remote command can receive: ${JSON.stringify(arg)}`);
  }
  if (LONE_SURROGATE.test(arg)) {
    // A lone UTF-16 surrogate has no UTF-8 form; ssh would send U+FFFD instead, so the value would not round-trip.
    throw new KdriftError(`argument is not valid Unicode (lone surrogate): ${JSON.stringify(arg)}`);
  }
}

function quoteCommandWord(arg: string): string {
  assertQuotable(arg);
  return singleQuote(arg);
}

function singleQuote(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** argv → one string for `$SHELL -c`, which the remote shell splits back into exactly argv. */
export function quoteArgv(argv: readonly string[]): string {
  if (argv.length === 0) throw new KdriftError('cannot run an empty command (argv has no elements)');
  // The command word is always quoted: a bare `time`, `if` or `!` would be read as shell syntax, not as a command name.
  return argv.map((arg, i) => (i === 0 ? quoteCommandWord(arg) : quoteArg(arg))).join(' ');
}

/** The command as a person would type it, shortened for error messages. */
export function describeArgv(argv: readonly string[], max = 160): string {
  let text: string;
  try {
    text = quoteArgv(argv);
  } catch {
    text = JSON.stringify(argv);
  }
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
