/**
 * Unified diff of two small text files (sysctl.d files are tens of lines), as `diff -u` prints it, so a plan can be
 * read by anyone who reads patches. Longest-common-subsequence on lines; quadratic, capped: past MAX_CELLS the whole
 * file is shown as replaced (still a correct diff, just not a minimal one).
 */
const CONTEXT = 3;
const MAX_CELLS = 4_000_000;

type Op = { kind: ' ' | '-' | '+'; text: string };

/** `before` null means the file does not exist yet (`--- /dev/null`); `after` null means it is removed. */
export function unifiedDiff(path: string, before: string | null, after: string | null): string {
  if (before === after) return '';
  const a = splitLines(before ?? '');
  const b = splitLines(after ?? '');
  const ops = diffLines(a.lines, b.lines);
  const head = `--- ${before === null ? '/dev/null' : `a${path}`}\n+++ ${after === null ? '/dev/null' : `b${path}`}\n`;
  let out = head;
  for (const hunk of hunks(ops)) out += hunk;
  // diff -u marks a last line without a newline; keep that visible, it is a byte-level difference.
  if (before !== null && before.length > 0 && !a.finalNewline) out += '\\ No newline at end of file (before)\n';
  if (after !== null && after.length > 0 && !b.finalNewline) out += '\\ No newline at end of file (after)\n';
  return out;
}

function splitLines(text: string): { lines: string[]; finalNewline: boolean } {
  if (text.length === 0) return { lines: [], finalNewline: true };
  const finalNewline = text.endsWith('\n');
  const lines = (finalNewline ? text.slice(0, -1) : text).split('\n');
  return { lines, finalNewline };
}

export function diffLines(a: string[], b: string[]): Op[] {
  // Strip the common prefix and suffix first: remediation edits touch a few lines of a file.
  let pre = 0;
  while (pre < a.length && pre < b.length && a[pre] === b[pre]) pre++;
  let suf = 0;
  while (suf < a.length - pre && suf < b.length - pre && a[a.length - 1 - suf] === b[b.length - 1 - suf]) suf++;
  const am = a.slice(pre, a.length - suf);
  const bm = b.slice(pre, b.length - suf);
  const ops: Op[] = a.slice(0, pre).map((text) => ({ kind: ' ', text }));
  if ((am.length + 1) * (bm.length + 1) > MAX_CELLS) {
    for (const text of am) ops.push({ kind: '-', text });
    for (const text of bm) ops.push({ kind: '+', text });
  } else {
    ops.push(...lcsOps(am, bm));
  }
  for (const text of a.slice(a.length - suf)) ops.push({ kind: ' ', text });
  return ops;
}

function lcsOps(a: string[], b: string[]): Op[] {
  const n = a.length;
  const m = b.length;
  // len[i][j] = LCS length of a[i..], b[j..]
  const len: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    const row = len[i] as Uint32Array;
    const next = len[i + 1] as Uint32Array;
    for (let j = m - 1; j >= 0; j--) {
      row[j] = a[i] === b[j] ? (next[j + 1] as number) + 1 : Math.max(next[j] as number, row[j + 1] as number);
    }
  }
  const ops: Op[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      ops.push({ kind: ' ', text: a[i] as string });
      i++;
      j++;
    } else if ((len[i + 1] as Uint32Array)[j] as number >= ((len[i] as Uint32Array)[j + 1] as number)) {
      ops.push({ kind: '-', text: a[i] as string });
      i++;
    } else {
      ops.push({ kind: '+', text: b[j] as string });
      j++;
    }
  }
  while (i < n) ops.push({ kind: '-', text: a[i++] as string });
  while (j < m) ops.push({ kind: '+', text: b[j++] as string });
  return ops;
}

function hunks(ops: Op[]): string[] {
  const changed = ops.map((o, idx) => (o.kind === ' ' ? -1 : idx)).filter((idx) => idx >= 0);
  if (changed.length === 0) return [];
  // Group changes whose context windows touch.
  const groups: [number, number][] = [];
  for (const idx of changed) {
    const last = groups[groups.length - 1];
    if (last && idx - last[1] <= 2 * CONTEXT) last[1] = idx;
    else groups.push([idx, idx]);
  }
  // Line numbers (1-based) in a and b at each op index.
  const aLine: number[] = [];
  const bLine: number[] = [];
  let la = 1;
  let lb = 1;
  for (const o of ops) {
    aLine.push(la);
    bLine.push(lb);
    if (o.kind !== '+') la++;
    if (o.kind !== '-') lb++;
  }
  return groups.map(([first, last]) => {
    const start = Math.max(0, first - CONTEXT);
    const end = Math.min(ops.length - 1, last + CONTEXT);
    const slice = ops.slice(start, end + 1);
    const aCount = slice.filter((o) => o.kind !== '+').length;
    const bCount = slice.filter((o) => o.kind !== '-').length;
    // diff -u writes the line before an empty range (0 for an empty file).
    const aStart = aCount === 0 ? (aLine[start] as number) - 1 : (aLine[start] as number);
    const bStart = bCount === 0 ? (bLine[start] as number) - 1 : (bLine[start] as number);
    const range = (s: number, c: number) => (c === 1 ? `${s}` : `${s},${c}`);
    let text = `@@ -${range(aStart, aCount)} +${range(bStart, bCount)} @@\n`;
    for (const o of slice) text += `${o.kind}${o.text}\n`;
    return text;
  });
}
