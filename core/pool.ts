/**
 * Bounded concurrency across hosts.
 *
 * DEFAULT_CONCURRENCY = 64, sized for fleets of ~1,000 hosts: each in-flight host costs this machine one TCP socket
 * and one SSH handshake (key exchange + signature, a few ms of CPU in-process), and sshd's MaxStartups (10:30:100)
 * limits unauthenticated connections *per server*, so it does not bound a fan-out across many servers. What does
 * bound it is local: file descriptors (default soft limit 1024, and each session may hold several), CPU for
 * handshakes, and memory for buffered output. 64 keeps 1,000 hosts at ~16 waves of one connection each, well inside
 * the fd limit, while hiding per-host round-trip latency.
 */
export const DEFAULT_CONCURRENCY = 64;

/**
 * Runs fn over items with at most `limit` in flight; results keep the input order. Like Promise.all, the first
 * rejection rejects the whole call (items already started still run to completion; no new ones start). Callers
 * that want per-item errors (one unreachable host must not hide the others) catch inside fn.
 */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`concurrency limit must be an integer >= 1, got ${limit}`);
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i] as T, i);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
