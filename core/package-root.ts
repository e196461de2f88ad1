import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KdriftError } from './errors.js';

/**
 * The repository (package) root: the nearest directory above this module with kdrift's package.json. Works from the
 * sources (under tsx) and from the build (dist/), which is how the agent runs on a host and the lab starts helpers.
 */
export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'kdrift') return dir;
      } catch {
        // not ours; keep walking up
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new KdriftError('cannot find the kdrift package root above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}
