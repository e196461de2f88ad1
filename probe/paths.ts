import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The repository root: the nearest directory above this module with kdrift's package.json. Works from the sources
 * (probe/ under tsx) and from the build (dist/probe/), which is how the agent runs on a host.
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
    if (parent === dir) throw new Error('cannot find the kdrift package root above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

/** Compiled BPF object `bpf/<name>.bpf.o` (built by `make -C bpf`, part of `npm run build`). */
export function bpfObjectPath(name: string): string {
  return path.join(repoRoot(), 'bpf', `${name}.bpf.o`);
}

/** The libbpf addon (built by cmake-js, part of `npm run build`). */
export function nativeAddonPath(): string {
  return path.join(repoRoot(), 'native', 'build', 'Release', 'kdrift_bpf.node');
}
