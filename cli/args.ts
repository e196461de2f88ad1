import { parseArgs, type ParseArgsConfig } from 'node:util';
import { KdriftError } from '../core/errors.js';

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
    throw new KdriftError((err as Error).message.replace(/\. To specify a positional argument.*$/s, ''));
  }
}

export function intOption(value: string | undefined, name: string, def: number, min = 1): number {
  if (value === undefined) return def;
  if (!/^\d+$/.test(value) || Number(value) < min) throw new KdriftError(`--${name} must be an integer >= ${min}, got "${value}"`);
  return Number(value);
}

/** --serve ADDR:PORT (port 0 picks a free port). */
export function serveOption(value: string | undefined): { host: string; port: number } | undefined {
  if (value === undefined) return undefined;
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9][A-Za-z0-9_.-]*)):(\d{1,5})$/.exec(value);
  if (!m || Number(m[3]) > 65535) throw new KdriftError(`--serve "${value}" is not ADDR:PORT (e.g. 127.0.0.1:9464)`);
  return { host: (m[1] ?? m[2]) as string, port: Number(m[3]) };
}
