import { execFile } from 'node:child_process';

export interface ExecOut {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs argv (no shell) and resolves with its exit code and output; never rejects (the tests assert on the code). */
export function execOut(cmd: string, args: readonly string[], timeoutMs = 20_000): Promise<ExecOut> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}
