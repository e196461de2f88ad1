import { readFile } from 'node:fs/promises';
import { KdriftError } from './errors.js';

/** Reads a file the user named (inventory, baseline, ignore file); a failure is one clear line naming the file. */
export async function readInputFile(file: string, shownAs = file): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new KdriftError(code === 'ENOENT' ? 'file not found' : `cannot read: ${code ?? String(err)}`, shownAs);
  }
}
