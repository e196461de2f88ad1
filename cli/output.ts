/**
 * The CLI's one guard for its output streams. A reader that goes away (`kdrift fix --yes | head -1`, a closed
 * terminal) makes the next write fail with EPIPE; unhandled, that error event kills the process mid-fix — a host
 * left "applied" (unverified) with its lock behind. Here EPIPE ends that stream's output quietly: later writes to it
 * are dropped, and the command runs to its end (each host's transaction verified or rolled back, its lock released),
 * exiting with the code it would have had. Any other stream error is reported once on the other stream.
 */
type Stream = NodeJS.WriteStream;

const guarded = new WeakSet<Stream>();

export function guardOutput(stream: Stream, other?: Stream): void {
  if (guarded.has(stream)) return;
  guarded.add(stream);
  let closed = false;
  const write = stream.write.bind(stream) as (chunk: unknown, ...rest: unknown[]) => boolean;
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (closed) return;
    closed = true;
    if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_DESTROYED' && other && !other.destroyed) {
      other.write(`kdrift: output stopped: ${err.message}\n`);
    }
  });
  // Writes after the reader left are dropped (and their callbacks still called), never an error.
  stream.write = ((chunk: unknown, ...rest: unknown[]) => {
    if (closed || stream.destroyed) {
      const cb = rest.find((r): r is () => void => typeof r === 'function');
      if (cb) process.nextTick(cb);
      return true;
    }
    return write(chunk, ...rest);
  }) as Stream['write'];
}

/** Guards stdout and stderr of this process (idempotent). */
export function guardStdio(): void {
  guardOutput(process.stdout, process.stderr);
  guardOutput(process.stderr);
}
