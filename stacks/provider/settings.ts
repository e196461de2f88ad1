/**
 * Provider-level settings, from the engine's Configure (and checked by CheckConfig). For the default provider they
 * come from stack config under `kdrift:` — the same keys the CLI reads from `Pulumi.<stack>.yaml` (knownHosts,
 * identityFile, agentCommand), plus concurrency, acceptNewHostKeys and timeouts. Keys the provider does not use
 * (`kdrift:hosts` is the program's) are ignored.
 */
import { z } from 'zod';
import { parseDurationMs } from '../../core/duration.js';
import { hostEntrySchema } from '../../core/inventory.js';
import { DEFAULT_CONCURRENCY } from '../../core/pool.js';
import type { SessionOptions } from '../../core/sessions.js';
import { propertyPath, type CheckFailure } from './inputs.js';

/** Stack config arrives as strings (Configure `variables`, or CheckConfig for a non-string value): JSON-decode those. */
const fromText = <T extends z.ZodTypeAny>(schema: T) =>
  z.preprocess((v) => {
    if (typeof v !== 'string') return v;
    try {
      return JSON.parse(v);
    } catch {
      return v;
    }
  }, schema);

const durationText = z.string().refine((s) => (parseDurationMs(s) ?? 0) > 0, 'is not a positive duration (e.g. 10s, 500ms)');

export const providerSettingsSchema = z.object({
  /** OpenSSH known_hosts for every host that does not name its own. */
  knownHosts: z.string().min(1).optional(),
  /** Key file for hosts without a privateKey input (ssh-agent otherwise). */
  identityFile: z.string().min(1).optional(),
  agentCommand: fromText(hostEntrySchema.shape.agentCommand),
  /** Host operations (create, update, read, delete) this provider runs at once. */
  concurrency: fromText(z.number().int().min(1).max(1024)).default(DEFAULT_CONCURRENCY),
  /** Record unknown host keys on first use (OpenSSH accept-new); a changed key is still refused. */
  acceptNewHostKeys: fromText(z.boolean()).default(false),
  /** Where the on-host journals live (default /var/lib/kdrift/journal); delete restores from them. */
  journalDir: z.string().startsWith('/', 'must be an absolute path').optional(),
  connectTimeout: durationText.optional(),
  commandTimeout: durationText.optional(),
});
export type ProviderSettings = z.output<typeof providerSettingsSchema>;

/** Configure's `variables` use `kdrift:config:<key>`; `args` (when sent) carries the same keys typed. */
export function settingsInput(variables: ReadonlyMap<string, string> | Record<string, string>, args: Record<string, unknown> | undefined): Record<string, unknown> {
  const vars = variables instanceof Map ? Object.fromEntries(variables) : (variables as Record<string, string>);
  const fromVars = Object.fromEntries(
    Object.entries(vars)
      .filter(([k]) => k.startsWith('kdrift:config:'))
      .map(([k, v]) => [k.slice('kdrift:config:'.length), v]),
  );
  return { ...fromVars, ...(args ?? {}) };
}

const known = new Set(Object.keys(providerSettingsSchema.shape));

export function parseSettings(input: Record<string, unknown>): { ok: true; value: ProviderSettings } | { ok: false; failures: CheckFailure[] } {
  const relevant = Object.fromEntries(Object.entries(input).filter(([k, v]) => known.has(k) && v !== undefined && v !== null));
  const res = providerSettingsSchema.safeParse(relevant);
  if (!res.success) return { ok: false, failures: res.error.issues.map((i) => ({ property: propertyPath(i.path), reason: i.message })) };
  return { ok: true, value: res.data };
}

export function sessionOptions(settings: ProviderSettings, knownHosts: string | undefined, privateKey: string | undefined): SessionOptions {
  const connect = settings.connectTimeout ? parseDurationMs(settings.connectTimeout) : undefined;
  const command = settings.commandTimeout ? parseDurationMs(settings.commandTimeout) : undefined;
  const kh = knownHosts ?? settings.knownHosts;
  return {
    ...(kh !== undefined ? { knownHostsPath: kh } : {}),
    acceptNewHostKeys: settings.acceptNewHostKeys,
    ...(connect !== undefined ? { connectTimeoutMs: connect } : {}),
    ...(command !== undefined ? { commandTimeoutMs: command } : {}),
    ...(privateKey !== undefined ? { privateKey: Buffer.from(privateKey) } : {}),
  };
}
