/** The kdrift CLI from source (tsx), as a child process exactly as a user runs `kdrift ...`: exit code and output. */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO } from './dist.js';

/** tsx's loader by absolute URL: the CLI may run in another working directory. */
const TSX = pathToFileURL(path.join(REPO, 'node_modules/tsx/dist/loader.mjs')).href;
const ENTRY = `const { main } = await import(${JSON.stringify(path.join(REPO, 'cli/main.ts'))}); process.exitCode = await main(process.argv.slice(1));`;

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** argv for running the CLI from source (for callers that spawn it themselves, e.g. a long-running --every). */
export function kdriftArgv(args: readonly string[]): string[] {
  return [process.execPath, '--import', TSX, '--input-type=module', '-e', ENTRY, ...args];
}

export function runKdrift(args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  const [cmd, ...rest] = kdriftArgv(args) as [string, ...string[]];
  const child = spawn(cmd, rest, { cwd: opts.cwd ?? REPO, env: { ...process.env, NO_COLOR: '1', ...opts.env } });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (d: Buffer) => out.push(d));
  child.stderr.on('data', (d: Buffer) => err.push(d));
  return new Promise((resolve) => {
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
  });
}
