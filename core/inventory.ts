import path from 'node:path';
import { z } from 'zod';
import { yaml } from './yaml.js';
import { readInputFile } from './input-file.js';
import { KdriftError } from './errors.js';
import { formatZodError } from './zod-error.js';

/**
 * The hosts to check. Read from a Pulumi stack config (`Pulumi.<stack>.yaml`, key `kdrift:hosts`, plus the optional
 * `kdrift:knownHosts`, `kdrift:identityFile`, `kdrift:agentCommand`) or from a plain YAML file with the same fields
 * without the `kdrift:` prefix. Relative paths are resolved against the file's directory.
 */
const hostNameSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, 'host names are letters, digits, "_", "." and "-"');

const addressSchema = z.string().min(1).regex(/^[A-Za-z0-9_.:-]+$/, 'an address is a host name, IPv4 or IPv6 address');

export const hostEntrySchema = z
  .object({
    name: hostNameSchema,
    address: addressSchema,
    /**
     * Other addresses the host's peers see it by (a WAN or VIP address): a connection the probe sees from one of them
     * is named as this host in root causes and the fleet picture. Never used to connect.
     */
    addresses: z.array(addressSchema).max(64, 'at most 64 addresses').optional(),
    port: z.number().int().min(1).max(65535).default(22),
    user: z.string().regex(/^[a-z_][a-z0-9_-]*\$?$/, 'not a valid user name').default('root'),
    roles: z.array(z.string().regex(/^[a-z][a-z0-9-]*$/)).min(1, 'a host needs at least one role'),
    identityFile: z.string().optional(),
    /** Command (argv) that runs the kdrift probe agent on the host; default `kdrift`. */
    agentCommand: z.array(z.string().min(1)).min(1).optional(),
    /** Check this machine without SSH (kdrift check --local). */
    local: z.boolean().optional(),
    /**
     * The host is a network namespace of a shared kernel (a container): only per-netns sysctls (net.*) are fixed on
     * it. Detected over SSH when its netns differs from PID 1's; say so here when its PID namespace hides that.
     */
    netns: z.boolean().optional(),
  })
  .strict();
export type HostEntry = z.output<typeof hostEntrySchema>;

const inventoryFileSchema = z
  .object({
    hosts: z.array(hostEntrySchema).min(1, 'no hosts'),
    knownHosts: z.string().optional(),
    identityFile: z.string().optional(),
    agentCommand: z.array(z.string().min(1)).min(1).optional(),
    /** Where the role baselines come from: a YAML/JSON file (never a module: code only from --baseline); default stacks/baselines. */
    baseline: z.string().optional(),
  })
  .strict()
  .superRefine((inv, ctx) => {
    const seen = new Set<string>();
    inv.hosts.forEach((h, i) => {
      if (seen.has(h.name)) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['hosts', i, 'name'], message: `duplicate host name ${h.name}` });
      seen.add(h.name);
    });
  });

/** What an inventory's `baseline:` may name: data only (a module would run code chosen by a data file). */
const DATA_BASELINE = /\.(ya?ml|json)$/i;

export interface Inventory {
  source: string;
  stack?: string;
  hosts: HostEntry[];
  knownHosts?: string;
  agentCommand?: string[];
  baseline?: string;
}

export async function loadInventory(opts: { stack?: string; inventory?: string; cwd?: string }): Promise<Inventory> {
  const cwd = opts.cwd ?? process.cwd();
  if (opts.stack && opts.inventory) throw new KdriftError('give either --stack or --inventory, not both');
  if (!opts.stack && !opts.inventory) throw new KdriftError('no hosts: give --stack NAME (reads Pulumi.NAME.yaml) or --inventory FILE');
  if (opts.stack && !/^[A-Za-z0-9_.-]+$/.test(opts.stack)) throw new KdriftError(`stack name "${opts.stack}" is not valid`);
  const file = opts.stack ? path.resolve(cwd, `Pulumi.${opts.stack}.yaml`) : path.resolve(cwd, opts.inventory as string);
  const text = await readInputFile(file);
  return parseInventory(text, file, opts.stack);
}

export function parseInventory(text: string, file: string, stack?: string): Inventory {
  let doc: unknown;
  try {
    doc = yaml().parse(text, { prettyErrors: true });
  } catch (err) {
    throw new KdriftError(`not valid YAML: ${(err as Error).message.split('\n')[0]}`, file);
  }
  let raw: unknown = doc;
  let prefix = '';
  if (stack !== undefined || isPulumiConfig(doc)) {
    const config = (doc as { config?: Record<string, unknown> } | null)?.config;
    if (!config || typeof config !== 'object') throw new KdriftError('no "config:" section (a Pulumi stack config holds kdrift:hosts under config)', file);
    raw = Object.fromEntries(
      Object.entries(config)
        .filter(([k]) => k.startsWith('kdrift:'))
        .map(([k, v]) => [k.slice('kdrift:'.length), v]),
    );
    prefix = 'config.kdrift:';
  }
  const res = inventoryFileSchema.safeParse(raw);
  if (!res.success) {
    const msg = formatZodError(res.error).replace(/^([^:\n]*):/gm, (m, p: string) => (p === '(top level)' ? m : `${prefix}${p}:`));
    throw new KdriftError(msg, file);
  }
  const dir = path.dirname(file);
  const abs = (p: string | undefined) => (p === undefined ? undefined : path.resolve(dir, p));
  const inv = res.data;
  if (inv.baseline !== undefined && !DATA_BASELINE.test(inv.baseline)) {
    throw new KdriftError(
      `${prefix}baseline: "${inv.baseline}" is not a YAML or JSON file (.yaml, .yml, .json). An inventory or stack config is data and may not name code to run: pass a baseline module with --baseline, or import it in the Pulumi program`,
      file,
    );
  }
  return {
    source: file,
    stack,
    knownHosts: abs(inv.knownHosts),
    agentCommand: inv.agentCommand,
    baseline: abs(inv.baseline),
    hosts: inv.hosts.map((h) => ({
      ...h,
      identityFile: abs(h.identityFile ?? inv.identityFile),
      agentCommand: h.agentCommand ?? inv.agentCommand,
    })),
  };
}

function isPulumiConfig(doc: unknown): boolean {
  return typeof doc === 'object' && doc !== null && 'config' in doc;
}

export function selectHosts(inv: Inventory, filter: { host?: string; role?: string }): HostEntry[] {
  let hosts = inv.hosts;
  if (filter.host) {
    hosts = hosts.filter((h) => h.name === filter.host);
    if (hosts.length === 0) throw new KdriftError(`no host named "${filter.host}" (hosts: ${inv.hosts.map((h) => h.name).join(', ')})`, inv.source);
  }
  if (filter.role) {
    hosts = hosts.filter((h) => h.roles.includes(filter.role as string));
    if (hosts.length === 0) throw new KdriftError(`no host has role "${filter.role}"`, inv.source);
  }
  return hosts;
}
