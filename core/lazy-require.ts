/**
 * A CommonJS package loaded on first use, synchronously (the same module a static import gives, so callers stay
 * synchronous). For the heavy packages a run may not need: ssh2 (~100 ms of CPU to load) and yaml (~75 ms) —
 * `kdrift check --local`, run on every host from its own timer, neither connects nor, with the built-in baseline,
 * reads YAML.
 */
import { createRequire } from 'node:module';

const requireHere = createRequire(import.meta.url);

export function lazyRequire<T>(name: string): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= requireHere(name) as T);
}
