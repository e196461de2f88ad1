/**
 * glob(3) over /proc/sys as both appliers expand a pattern key: per path segment (`*` and `?` never cross a `/`), a
 * leading `.` only matched explicitly, `[...]` / `[!...]` classes with ranges, `\` escaping the next character.
 * Matching is iterative (no backtracking blow-up on patterns like `*a*a*a*…`).
 */

type Token = { any: true } | { one: true } | { set: (c: string) => boolean } | { lit: string };

function tokens(seg: string): Token[] {
  const out: Token[] = [];
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i] as string;
    if (c === '*') out.push({ any: true });
    else if (c === '?') out.push({ one: true });
    else if (c === '\\' && i + 1 < seg.length) out.push({ lit: seg[++i] as string });
    else if (c === '[') {
      let j = i + 1;
      const negate = seg[j] === '!' || seg[j] === '^';
      if (negate) j++;
      const body: string[] = [];
      if (seg[j] === ']') body.push(seg[j++] as string);
      while (j < seg.length && seg[j] !== ']') body.push(seg[j++] as string);
      if (j >= seg.length) {
        out.push({ lit: '[' });
        continue;
      }
      const ranges: [string, string][] = [];
      for (let k = 0; k < body.length; k++) {
        const a = body[k] as string;
        if (body[k + 1] === '-' && k + 2 < body.length) {
          ranges.push([a, body[k + 2] as string]);
          k += 2;
        } else ranges.push([a, a]);
      }
      out.push({ set: (ch) => ranges.some(([lo, hi]) => ch >= lo && ch <= hi) !== negate });
      i = j;
    } else out.push({ lit: c });
  }
  return out;
}

function matchOne(t: Token, c: string): boolean {
  if ('one' in t) return true;
  if ('set' in t) return t.set(c);
  if ('lit' in t) return t.lit === c;
  return false;
}

function segmentMatches(pattern: string, name: string): boolean {
  if (name.startsWith('.') && !pattern.startsWith('.')) return false;
  const ts = tokens(pattern);
  let ti = 0;
  let ni = 0;
  let starT = -1;
  let starN = 0;
  while (ni < name.length) {
    const t = ts[ti];
    if (t && 'any' in t) {
      starT = ti++;
      starN = ni;
    } else if (t && matchOne(t, name[ni] as string)) {
      ti++;
      ni++;
    } else if (starT >= 0) {
      ti = starT + 1;
      ni = ++starN;
    } else return false;
  }
  while (ti < ts.length && 'any' in (ts[ti] as Token)) ti++;
  return ti === ts.length;
}

/** Does the pattern path (slash form, relative to /proc/sys) match the key path? */
export function globMatchesPath(patternPath: string, keyPath: string): boolean {
  const ps = patternPath.split('/');
  const ks = keyPath.split('/');
  return ps.length === ks.length && ps.every((p, i) => segmentMatches(p, ks[i] as string));
}
