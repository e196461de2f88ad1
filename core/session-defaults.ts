/** Defaults shared by the local and SSH sessions (and shown in cli/args.ts hostOptionsUsage). */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
export const DEFAULT_COMMAND_TIMEOUT_MS = 60_000;

/** "1.5s" / "250ms" for error messages. */
export function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)}ms` : `${Number((ms / 1000).toFixed(3))}s`;
}

/** Node's timers: a delay above 2^31-1 ms fires after 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A timeout of 0 (or none) means "no timeout"; anything else must be a positive finite number, clamped to what a timer
 * can hold (the CLI already refuses more than 24 h; this keeps an API caller's huge value from firing at once).
 */
export function effectiveTimeout(perCall: number | undefined, sessionDefault: number | undefined): number | undefined {
  const t = perCall ?? sessionDefault;
  return t === undefined || t === 0 || !Number.isFinite(t) ? undefined : Math.min(Math.max(t, 1), MAX_TIMER_MS);
}
