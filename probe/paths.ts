import path from 'node:path';
import { repoRoot } from '../core/package-root.js';

/** Compiled BPF object `bpf/<name>.bpf.o` (built by `make -C bpf`, part of `npm run build`). */
export function bpfObjectPath(name: string): string {
  return path.join(repoRoot(), 'bpf', `${name}.bpf.o`);
}

/** The libbpf addon (built by cmake-js, part of `npm run build`). */
export function nativeAddonPath(): string {
  return path.join(repoRoot(), 'native', 'build', 'Release', 'kdrift_bpf.node');
}
