/**
 * The yaml package, loaded on first use (synchronously, so the parsers stay synchronous): it is ~70 modules and
 * ~75 ms of CPU to load, and `kdrift check --local` with the built-in baseline and no .kdriftignore reads no YAML.
 */
import { createRequire } from 'node:module';

type Yaml = typeof import('yaml');
let loaded: Yaml | undefined;

export function yaml(): Yaml {
  loaded ??= createRequire(import.meta.url)('yaml') as Yaml;
  return loaded;
}
