/**
 * Bounded capture of a command's output, shared by the local and SSH sessions. A host (or an agent on it) decides
 * how much it prints; the controller must not hold 3 GB for it (V8 dies and no host gets a report), nor copy 50 MB
 * of stderr into findings.
 *  - stdout: everything up to `maxStdoutBytes`; one byte more and the command is killed and fails with a clear error.
 *  - stderr: the LAST `stderrTailBytes` bytes (the end of an error output is where the reason is), with a first line
 *    saying how much was cut.
 */
export const DEFAULT_MAX_STDOUT_BYTES = 64 * 1024 * 1024;
export const DEFAULT_STDERR_TAIL_BYTES = 64 * 1024;
/** HostSession.readFile: files kdrift reads whole from a host (journals) are far smaller. */
export const DEFAULT_MAX_READ_BYTES = 64 * 1024 * 1024;

export class StdoutCap {
  private chunks: Buffer[] = [];
  private size = 0;
  overflowed = false;

  constructor(readonly max: number) {}

  /** Adds a chunk; false (and nothing kept) once the total would pass the cap. */
  push(chunk: Buffer): boolean {
    if (this.overflowed) return false;
    if (this.size + chunk.length > this.max) {
      this.overflowed = true;
      this.chunks = [];
      return false;
    }
    this.chunks.push(chunk);
    this.size += chunk.length;
    return true;
  }

  result(): Buffer {
    return Buffer.concat(this.chunks, this.size);
  }
}

export class StderrTail {
  private chunks: Buffer[] = [];
  private size = 0;
  private dropped = 0;

  constructor(readonly keep: number) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    // Trim from the front once twice the budget is held: amortised O(1) per byte.
    if (this.size > 2 * this.keep) this.trim();
  }

  private trim(): void {
    const all = Buffer.concat(this.chunks, this.size);
    const cut = all.length - this.keep;
    if (cut <= 0) return;
    this.dropped += cut;
    this.chunks = [Buffer.from(all.subarray(cut))];
    this.size = this.keep;
  }

  /** The kept tail, after a line saying how many bytes before it were dropped (if any). */
  result(): Buffer {
    this.trim();
    const tail = Buffer.concat(this.chunks, this.size);
    return this.dropped > 0 ? Buffer.concat([Buffer.from(`[kdrift: ${this.dropped} earlier bytes of stderr not kept]\n`), tail]) : tail;
  }
}
