/**
 * Command output to stdout. A reader that stops early (`kdrift report | head`) closes the pipe: the next write fails
 * with EPIPE, which ends the run quietly (no Node stack trace) with the exit code set so far.
 */
import { once } from 'node:events';
import { batchedChunks } from '../core/render/index.js';

let guarded = false;

/**
 * A string, or a renderer's chunks: written in batches of about 64 KiB, each after the pipe took the one before.
 * Node queues what a full pipe does not take (it does not block), so without waiting for 'drain' a 12 MB report to
 * a slow reader sat in memory whole.
 */
export async function writeOut(text: string | Iterable<string>): Promise<void> {
  if (!guarded) {
    guarded = true;
    process.stdout.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
      throw err;
    });
  }
  for (const batch of typeof text === 'string' ? [text] : batchedChunks(text)) {
    if (!process.stdout.write(batch)) await once(process.stdout, 'drain');
  }
}
