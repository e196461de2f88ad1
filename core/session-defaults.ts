/** Defaults shared by the local and SSH sessions (and shown in cli/args.ts hostOptionsUsage). */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
export const DEFAULT_COMMAND_TIMEOUT_MS = 60_000;

/** "1.5s" / "250ms" for error messages. */
export function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)}ms` : `${Number((ms / 1000).toFixed(3))}s`;
}

/** A timeout of 0 (or none) means "no timeout"; anything else must be a positive finite number. */
export function effectiveTimeout(perCall: number | undefined, sessionDefault: number | undefined): number | undefined {
  const t = perCall ?? sessionDefault;
  return t === undefined || t === 0 || !Number.isFinite(t) ? undefined : t;
}
