/**
 * Command output to stdout. A reader that stops early (`kdrift report | head`) closes the pipe: the next write fails
 * with EPIPE, which ends the run quietly (no Node stack trace) with the exit code set so far.
 */
import { batchedChunks } from '../core/render/index.js';

let guarded = false;

/** A string, or a renderer's chunks (written in batches of about 64 KiB: never the whole text as one string). */
export function writeOut(text: string | Iterable<string>): void {
  if (!guarded) {
    guarded = true;
    process.stdout.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
      throw err;
    });
  }
  if (typeof text === 'string') process.stdout.write(text);
  else for (const batch of batchedChunks(text)) process.stdout.write(batch);
}
