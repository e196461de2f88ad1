/**
 * Command output to stdout. A reader that stops early (`kdrift report | head`) closes the pipe: the next write fails
 * with EPIPE, which ends the run quietly (no Node stack trace) with the exit code set so far.
 */
let guarded = false;

export function writeOut(text: string): void {
  if (!guarded) {
    guarded = true;
    process.stdout.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
      throw err;
    });
  }
  process.stdout.write(text);
}
