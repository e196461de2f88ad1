/**
 * The compiled tree (dist/) for tests that run what a user runs: the probe agent on lab hosts, the package entry
 * imported as `kdrift`. Rebuilt when any source tsconfig.json compiles is newer than its compiled file.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The .ts files tsconfig.json compiles (its `include` entries: folders walked, files as named). */
function compiledSources(): string[] {
  const { include } = JSON.parse(readFileSync(path.join(REPO, 'tsconfig.json'), 'utf8')) as { include: string[] };
  const out: string[] = [];
  const walk = (rel: string): void => {
    const abs = path.join(REPO, rel);
    if (!existsSync(abs)) return;
    if (statSync(abs).isFile()) {
      if (rel.endsWith('.ts') && !rel.endsWith('.d.ts')) out.push(rel);
      return;
    }
    for (const n of readdirSync(abs)) walk(path.join(rel, n));
  };
  for (const entry of include) walk(entry);
  return out;
}

export function distIsStale(): boolean {
  return compiledSources().some((rel) => {
    const js = path.join(REPO, 'dist', rel.replace(/\.ts$/, '.js'));
    return !existsSync(js) || statSync(js).mtimeMs < statSync(path.join(REPO, rel)).mtimeMs;
  });
}

/** tsc emits even when some file has a type error, so a half-edited tree still runs. */
export function buildDist(): void {
  spawnSync(process.execPath, [path.join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', REPO], { cwd: REPO, stdio: 'ignore' });
}

export function ensureDist(): void {
  if (distIsStale()) buildDist();
}
