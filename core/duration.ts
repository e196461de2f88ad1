import { z } from 'zod';

/** "30s", "500ms", "2m", or a number of seconds → milliseconds. */
export function parseDurationMs(raw: string | number): number | undefined {
  if (typeof raw === 'number') return Number.isFinite(raw) && raw >= 0 ? raw * 1000 : undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(raw);
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  const factor = unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000;
  return n * factor;
}

export const durationMsSchema = z.union([z.string(), z.number()]).transform((raw, ctx) => {
  const ms = parseDurationMs(raw);
  if (ms === undefined) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `"${raw}" is not a duration (e.g. 30s, 500ms, 2m)` });
    return z.NEVER;
  }
  return ms;
});
