/**
 * What the kernel makes of a value an applier writes (both write `value\n` in one write at offset 0). For integer
 * sysctls (proc_dointvec and friends; the shape comes from the value /proc/sys shows: N integer fields) the kernel
 * reads up to N fields: whitespace skipped, an optional `-`, a number in C base-0 notation (`0x10`, `010`), which must
 * be followed by space, tab, newline or the end; each field is stored as it is read, so a bad field leaves the earlier
 * ones set and the later ones as they were; text after the N-th field is ignored (`8192 # note` sets 8192). Other
 * sysctls (strings) take the value as written. Range checks of individual keys are not modelled: a value out of a
 * key's range is reported as written.
 */
import type { Bytes } from './bytes.js';

export type KernelShape = { ints: number } | { text: true };

export function shapeOf(runtime: string): KernelShape {
  const fields = runtime.trim().split(/\s+/).filter((f) => f.length > 0);
  return fields.length > 0 && fields.every((f) => /^-?\d+$/.test(f)) ? { ints: fields.length } : { text: true };
}

const KERNEL_SPACE = ' \t\n\v\f\r';
const AFTER_NUMBER = ' \t\n';
/** proc_get_long copies at most TMPBUFLEN - 1 = 21 bytes; a number that long is refused. */
const TMPBUF_MAX = 21;

function parseNumber(buf: string, at: number): { value: string; next: number } | null {
  const window = buf.slice(at, at + TMPBUF_MAX);
  let i = 0;
  let neg = false;
  if (window[0] === '-' && buf.length - at > 1) {
    neg = true;
    i = 1;
  }
  if (!/[0-9]/.test(window[i] ?? '')) return null;
  let base = 10;
  if (window[i] === '0' && /[xX]/.test(window[i + 1] ?? '') && /[0-9a-fA-F]/.test(window[i + 2] ?? '')) {
    base = 16;
    i += 2;
  } else if (window[i] === '0') base = 8;
  const digit = base === 16 ? /[0-9a-fA-F]/ : base === 8 ? /[0-7]/ : /[0-9]/;
  const startDigits = i;
  while (i < window.length && digit.test(window[i] as string)) i++;
  if (i === TMPBUF_MAX) return null;
  const text = window.slice(startDigits, i);
  const magnitude = text.length === 0 ? 0n : BigInt(base === 16 ? `0x${text}` : base === 8 ? `0o${text}` : text);
  if (magnitude > 0xffffffffffffffffn) return null;
  const next = at + i;
  if (next < buf.length && !AFTER_NUMBER.includes(buf[next] as string)) return null;
  return { value: (neg ? -magnitude : magnitude).toString(), next };
}

/** The fields a write stores: index → value. An empty result means the write changed nothing. */
export function kernelWrite(value: Bytes, shape: KernelShape): string[] {
  if ('text' in shape) return [value];
  const buf = `${value}\n`;
  const out: string[] = [];
  let at = 0;
  while (out.length < shape.ints) {
    while (at < buf.length && KERNEL_SPACE.includes(buf[at] as string)) at++;
    if (at >= buf.length) break;
    const n = parseNumber(buf, at);
    if (!n) break;
    out.push(n.value);
    at = n.next;
  }
  return out;
}
