import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../core/errors.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/** Options every command that touches hosts takes. */
export const hostOptions = {
  stack: { type: 'string' },
  inventory: { type: 'string' },
  concurrency: { type: 'string' },
  'accept-new-host-keys': { type: 'boolean' },
  'connect-timeout': { type: 'string' },
  'command-timeout': { type: 'string' },
} as const satisfies Options;

export const hostOptionsUsage = `Hosts:
  --stack NAME              read hosts from Pulumi.NAME.yaml (config key kdrift:hosts)
  --inventory FILE          read hosts from a YAML inventory file
  --concurrency N           hosts worked on at once (default 64)
  --accept-new-host-keys    trust and record unknown host keys (OpenSSH StrictHostKeyChecking=accept-new);
                            a changed key is still refused
  --connect-timeout DUR     SSH connect timeout (default 10s)
  --command-timeout DUR     timeout per remote command (default 60s)
`;

/** node:util parseArgs, with its errors turned into one clear line. */
export function parseCommandArgs<T extends Options>(args: string[], options: T, allowPositionals = false) {
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/\. To specify a positional argument.*$/s, ''));
  }
}

export function intOption(value: string | undefined, name: string, def: number, min = 1): number {
  if (value === undefined) return def;
  if (!/^\d+$/.test(value) || Number(value) < min) throw new UsageError(`--${name} must be an integer >= ${min}, got "${value}"`);
  return Number(value);
}
