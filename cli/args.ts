import type { ParseArgsConfig } from 'node:util';

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

export { parseCommandArgs, intOption, serveOption } from '../core/command.js';
