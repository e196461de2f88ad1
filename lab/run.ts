import { spawn } from 'node:child_process';
import { KdriftError } from '../core/errors.js';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs argv (never a shell) and collects its output. */
export function run(argv: readonly string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const [cmd, ...args] = argv;
    if (cmd === undefined) return reject(new Error('run: empty argv'));
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], timeout: opts.timeoutMs ?? 60_000 });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => reject(new KdriftError(`cannot run ${cmd}: ${e.message}`)));
    child.on('close', (code) =>
      resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }),
    );
    // A command that exits without reading its stdin makes the write fail with EPIPE: not an error of the command.
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

/** Runs argv and throws a KdriftError naming the command and its stderr unless it exits 0. */
export async function runOk(argv: readonly string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<string> {
  const res = await run(argv, opts);
  if (res.code !== 0) {
    throw new KdriftError(`\`${argv.join(' ')}\` failed (exit ${res.code}): ${res.stderr.trim() || res.stdout.trim()}`);
  }
  return res.stdout;
}
