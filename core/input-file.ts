import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { KdriftError } from './errors.js';

/**
 * Largest input file kdrift reads (inventory, baseline, .kdriftignore, known_hosts): far above any real one (an
 * inventory of 10,000 hosts is ~1 MiB), far below what would take the controller's memory (a 15 MiB YAML took 1.6 GB
 * to parse).
 */
export const MAX_INPUT_FILE_BYTES = 4 * 1024 * 1024;

/**
 * Reads a file the user named (inventory, baseline, ignore file, known_hosts); a failure is one clear line naming the
 * file. Only regular files: the file is opened non-blocking (a named pipe with no writer would otherwise block the
 * open, and its read, forever) and checked with fstat on the opened descriptor before a byte is read, so a file
 * swapped between a check and the read cannot slip through. At most `maxBytes`.
 */
export async function readInputFileBytes(file: string, shownAs = file, maxBytes = MAX_INPUT_FILE_BYTES): Promise<Buffer> {
  let fh;
  try {
    fh = await open(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new KdriftError(code === 'ENOENT' ? 'file not found' : `cannot read: ${code ?? String(err)}`, shownAs);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new KdriftError(`not a regular file (${fileKind(st)}); kdrift reads only regular files`, shownAs);
    if (st.size > maxBytes) throw new KdriftError(`file is ${st.size} bytes, more than the ${maxBytes}-byte limit for input files`, shownAs);
    // Read one byte past the limit: a file that grew after fstat is caught too.
    const buf = Buffer.alloc(Math.min(maxBytes + 1, Math.max(st.size + 1, 64 * 1024)));
    let len = 0;
    for (;;) {
      if (len === buf.length) break;
      const { bytesRead } = await fh.read(buf, len, buf.length - len, len);
      if (bytesRead === 0) break;
      len += bytesRead;
    }
    if (len > maxBytes) throw new KdriftError(`file is more than the ${maxBytes}-byte limit for input files`, shownAs);
    return buf.subarray(0, len);
  } catch (err) {
    if (err instanceof KdriftError) throw err;
    throw new KdriftError(`cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, shownAs);
  } finally {
    await fh.close();
  }
}

/** readInputFileBytes as UTF-8 text. */
export async function readInputFile(file: string, shownAs = file, maxBytes = MAX_INPUT_FILE_BYTES): Promise<string> {
  return (await readInputFileBytes(file, shownAs, maxBytes)).toString('utf8');
}

function fileKind(st: { isDirectory(): boolean; isFIFO(): boolean; isSocket(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean }): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a named pipe';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'not a regular file';
}
