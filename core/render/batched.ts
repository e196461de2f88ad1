/** A whole text as one batch, or a renderer's chunks in batches (a string is not iterated by character). */
export function batchesOf(text: string | Iterable<string>): Iterable<string> {
  return typeof text === 'string' ? [text] : batchedChunks(text);
}

/** A renderer's small chunks joined into writes of about `size` characters: few syscalls, no whole-text string. */
export function* batchedChunks(chunks: Iterable<string>, size = 64 * 1024): Generator<string> {
  let parts: string[] = [];
  let length = 0;
  for (const c of chunks) {
    parts.push(c);
    length += c.length;
    if (length >= size) {
      yield parts.join('');
      parts = [];
      length = 0;
    }
  }
  if (length > 0) yield parts.join('');
}
