/**
 * Whole-string wildcard matching: `*` any run of characters (empty included), `?` exactly one, everything else
 * literal. Iterative with a single restart point (the last `*` seen), so a pattern of 40 `*` against a long name
 * costs at most |pattern| × |value| steps — never the exponential backtracking a regular expression such as
 * `^.*.*.*…$` takes on a near miss. Used for .kdriftignore keys and OpenSSH known_hosts patterns.
 */
export function wildcardMatch(pattern: string, value: string): boolean {
  let p = 0;
  let v = 0;
  let star = -1; // index in pattern just after the last `*`
  let starV = 0; // where in value that `*` currently ends
  while (v < value.length) {
    const c = pattern[p];
    if (c === '*') {
      while (pattern[p] === '*') p++; // a run of stars is one star
      if (p === pattern.length) return true;
      star = p;
      starV = v;
    } else if (c !== undefined && (c === '?' || c === value[v])) {
      p++;
      v++;
    } else if (star >= 0) {
      // Mismatch after a star: let that star swallow one more character and retry from just after it.
      starV++;
      v = starV;
      p = star;
    } else {
      return false;
    }
  }
  while (pattern[p] === '*') p++;
  return p === pattern.length;
}
