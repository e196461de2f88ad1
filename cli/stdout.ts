/**
 * Command output to stdout, and writing a renderer's text to any stream. A reader that stops early
 * (`kdrift report | head`) closes the pipe: the next write fails with EPIPE, which ends the run quietly (no Node stack
 * trace) with the exit code set so far.
 */
import type { Writable } from 'node:stream';
import { batchesOf } from '../core/render/index.js';

let guarded = false;

/**
 * A string, or a renderer's chunks in ~64 KiB batches, each after the stream took the one before: Node queues what a
 * full pipe or socket does not take (it does not block), so without waiting a 12 MB report to a slow reader sat in
 * memory whole. Stops when the stream is gone (a scraper that hung up); the caller ends the stream.
 */
export async function writeText(stream: Writable, text: string | Iterable<string>): Promise<void> {
  for (const batch of batchesOf(text)) {
    if (stream.destroyed) return;
    if (!stream.write(batch)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          stream.off('drain', done).off('close', done);
          resolve();
        };
        stream.on('drain', done).on('close', done);
      });
    }
  }
}

export async function writeOut(text: string | Iterable<string>): Promise<void> {
  if (!guarded) {
    guarded = true;
    process.stdout.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
      throw err;
    });
  }
  await writeText(process.stdout, text);
}
