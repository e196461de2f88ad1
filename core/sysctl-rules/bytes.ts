/**
 * Byte strings: file names and contents as the kernel and systemd see them — bytes, not decoded text. One char code per
 * byte (latin1), so two names that are not valid UTF-8 never collapse into one string, `\r` and `\0` stay where they
 * are, and comparisons and sorting are bytewise (strcmp order).
 */
export type Bytes = string;

export function bytesOf(buf: Buffer): Bytes {
  return buf.toString('latin1');
}

export function bufferOf(bytes: Bytes): Buffer {
  return Buffer.from(bytes, 'latin1');
}

/** The UTF-8 bytes of a text (a declared value, a comment kdrift writes). */
export function bytesFromText(text: string): Bytes {
  return Buffer.from(text, 'utf8').toString('latin1');
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** The text the bytes encode, or null when they are not valid UTF-8. */
export function textOf(bytes: Bytes): string | null {
  try {
    return strictUtf8.decode(bufferOf(bytes));
  } catch {
    return null;
  }
}

/**
 * Printable, unambiguous form for reports: valid UTF-8 as text with control characters escaped; otherwise every byte
 * outside printable ASCII (and the backslash) as \xNN, so distinct byte strings never print the same.
 */
export function displayBytes(bytes: Bytes): string {
  const text = textOf(bytes);
  const escape = (c: string) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
  if (text !== null) return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, escape);
  return bytes.replace(/[^\u0020-\u005b\u005d-\u007e]/g, escape);
}
