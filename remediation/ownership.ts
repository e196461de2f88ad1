/**
 * kdrift writes only what it owns. Before a plan is shown (and again under the lock, since apply re-plans), every file
 * it would write is checked on the host:
 *  - /etc/sysctl.d/90-kdrift.conf is kdrift's own: absent, or a regular file that starts with kdrift's header. A
 *    symlink (other than a /dev/null mask, which the planner already refuses to write) is never followed — a link to
 *    /etc/passwd once had its target replaced by kdrift's header — and a regular file without the header is someone
 *    else's and is never overwritten.
 *  - a file whose lines are neutralised is a regular file under /etc, reached through no symlinked directory.
 * A violation is one HostError naming the host and the file; nothing is written.
 *
 * TOCTOU: the check runs on the host at plan time; a link planted between it and the write is caught twice over —
 * the session's writeFileAtomic lstat()s the path and refuses a link, and its final step is rename(2) of an
 * exclusively created temp file, which replaces a link planted after that lstat itself, never its target.
 */
import type { HostSession } from '../core/session.js';
import { HostError } from '../core/errors.js';
import { KDRIFT_CONF, KDRIFT_CONF_HEADER } from './sysctl-plan.js';
import type { KindPlan } from './kind.js';

/** What the host says about one path. */
export interface PathFacts {
  path: string;
  kind: 'file' | 'symlink' | 'absent' | 'other';
  /** readlink of a symlink. */
  linkTarget?: string;
  /** realpath of the directory holding it. */
  realDir: string;
  /** First bytes of a regular file (enough for the header). */
  head?: string;
}

const HEADER_LINE = KDRIFT_CONF_HEADER[0] as string;

/** Pure: why kdrift must not write these files (empty = it may). `writes` are the paths the plan writes. */
export function ownershipProblems(facts: readonly PathFacts[], writes: readonly string[]): string[] {
  const problems: string[] = [];
  const byPath = new Map(facts.map((f) => [f.path, f]));
  const own = byPath.get(KDRIFT_CONF);
  if (own) {
    if (own.kind === 'symlink' && own.linkTarget !== '/dev/null') {
      problems.push(`${KDRIFT_CONF} is a symlink (to ${own.linkTarget ?? '?'}): kdrift writes only its own regular file and never through a link; remove the link`);
    } else if (own.kind === 'other') {
      problems.push(`${KDRIFT_CONF} is not a regular file: kdrift writes only its own regular file`);
    } else if (own.kind === 'file' && writes.includes(KDRIFT_CONF) && !(own.head ?? '').startsWith(HEADER_LINE)) {
      problems.push(`${KDRIFT_CONF} is not kdrift's (it does not start with "${HEADER_LINE}"): kdrift never overwrites a file it does not own; move it away or merge it into your own file`);
    }
  }
  for (const w of writes) {
    const f = byPath.get(w);
    const dir = w.slice(0, w.lastIndexOf('/')) || '/';
    if (!w.startsWith('/etc/')) problems.push(`${w} is not under /etc: kdrift edits files only in /etc`);
    else if (!f) problems.push(`${w} could not be checked`);
    else if (f.kind === 'symlink') problems.push(`${w} is a symlink (to ${f.linkTarget ?? '?'}): kdrift never writes through a link`);
    else if (f.kind === 'other') problems.push(`${w} is not a regular file`);
    else if (f.realDir !== dir) problems.push(`${w}: its directory resolves to ${f.realDir} (a symlinked directory): kdrift writes only through real directories under /etc`);
  }
  return [...new Set(problems)];
}

/**
 * Per path: `<kind> <len>\n<realdir>`, then for a symlink `<len>\n<target>`, for a regular file `<len>\n<first 256
 * bytes>`. Paths are arguments; the script is a constant.
 */
export const FACTS_SCRIPT = `LC_ALL=C; export LC_ALL
for p; do
  r=$(readlink -f -- "\${p%/*}") || r=
  if [ -L "$p" ]; then t=$(readlink -- "$p"); printf 'L %s\\n%s%s\\n%s' "\${#r}" "$r" "\${#t}" "$t"
  elif [ -f "$p" ]; then h=$(head -c 256 -- "$p" | tr -d '\\000'); printf 'F %s\\n%s%s\\n%s' "\${#r}" "$r" "\${#h}" "$h"
  elif [ -e "$p" ]; then printf 'O %s\\n%s' "\${#r}" "$r"
  else printf 'A %s\\n%s' "\${#r}" "$r"; fi
done
`;

export function decodeFacts(out: Buffer, paths: readonly string[]): PathFacts[] {
  let pos = 0;
  const field = (): string => {
    const nl = out.indexOf(0x0a, pos);
    if (nl < 0) throw new Error('truncated output');
    const m = /^(?:([LFOA]) )?(\d+)$/.exec(out.subarray(pos, nl).toString('latin1'));
    if (!m) throw new Error(`bad record at byte ${pos}`);
    pos = nl + 1;
    const len = Number(m[2]);
    // ${#v} counts characters in the host's locale (C: bytes).
    const v = out.subarray(pos, pos + len).toString('utf8');
    if (pos + len > out.length) throw new Error('truncated output');
    pos += len;
    return m[1] ? `${m[1]}${v}` : v;
  };
  return paths.map((p) => {
    const first = field();
    const tag = first[0] as 'L' | 'F' | 'O' | 'A';
    const realDir = first.slice(1);
    if (tag === 'L') return { path: p, kind: 'symlink', realDir, linkTarget: field() };
    if (tag === 'F') return { path: p, kind: 'file', realDir, head: field() };
    return { path: p, kind: tag === 'O' ? 'other' : 'absent', realDir };
  });
}

/** Throws a HostError naming the host and the files when the plans would write anything kdrift does not own. */
export async function assertOwnsWrites(session: HostSession, plans: readonly KindPlan[]): Promise<void> {
  const writes = [...new Set(plans.flatMap((p) => p.files.map((f) => f.path)))];
  if (writes.length === 0) return;
  const paths = [...new Set([KDRIFT_CONF, ...writes])];
  const res = await session.exec(['sh', '-c', FACTS_SCRIPT, 'sh', ...paths]);
  if (res.code !== 0) throw new HostError(session.host, `checking the files kdrift would write failed: ${res.stderr.toString('utf8').trim() || `exit ${res.code}`}`);
  let facts: PathFacts[];
  try {
    facts = decodeFacts(res.stdout, paths);
  } catch (err) {
    throw new HostError(session.host, `checking the files kdrift would write: unexpected output (${(err as Error).message})`);
  }
  const problems = ownershipProblems(facts, writes);
  if (problems.length > 0) throw new HostError(session.host, `refusing to fix: ${problems.join('; ')}`);
}
