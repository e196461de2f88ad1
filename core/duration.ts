import { z } from 'zod';

/**
 * Longest duration kdrift accepts anywhere (timeouts, windows). Node's timers hold at most 2^31-1 ms (~24.8 days) and
 * fire after 1 ms when given more, so `--connect-timeout 600h` would have timed out at once; a day is far above any
 * real timeout or observation window.
 */
export const MAX_DURATION_MS = 24 * 3_600_000;

/** "30s", "500ms", "2m", "1h", or a number of seconds → milliseconds; undefined when not a duration or above 24h. */
export function parseDurationMs(raw: string | number): number | undefined {
  let ms: number;
  if (typeof raw === 'number') {
    if (!Number.isFinite(raw) || raw < 0) return undefined;
    ms = raw * 1000;
  } else {
    const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(raw);
    if (!m) return undefined;
    const n = Number(m[1]);
    const unit = m[2] ?? 's';
    ms = n * (unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000);
  }
  return Number.isFinite(ms) && ms <= MAX_DURATION_MS ? ms : undefined;
}

/** Why `raw` is not an accepted duration, for one clear error line. */
export function durationProblem(raw: string | number): string {
  return `"${String(raw)}" is not a duration of at most 24h (e.g. 30s, 500ms, 2m)`;
}

export const durationMsSchema = z.union([z.string(), z.number()]).transform((raw, ctx) => {
  const ms = parseDurationMs(raw);
  if (ms === undefined) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: durationProblem(raw) });
    return z.NEVER;
  }
  return ms;
});
