/**
 * A HostKernelState's inputs, validated with the project's own schemas: the connection fields with
 * core/inventory.ts hostEntrySchema, the declared sysctls and behaviours with core/baseline.ts baselineSchema (which
 * also checks that every behaviour's dependsOn key is declared). A failure names the Pulumi property path
 * (`sysctls["net.core.somaxconn"].min`, `behaviours[0].dependsOn`) and the reason, as a CheckFailure.
 */
import { z } from 'zod';
import { baselineSchema, type Baseline } from '../../core/baseline.js';
import { hostEntrySchema, type HostEntry } from '../../core/inventory.js';
import type { Props } from './wire.js';

const shape = hostEntrySchema.shape;
const resourceInputsSchema = z
  .object({
    host: shape.name,
    address: shape.address,
    port: shape.port,
    user: shape.user,
    roles: shape.roles,
    agentCommand: shape.agentCommand,
    privateKey: z.string().min(1, 'is empty').optional(),
    knownHosts: z.string().min(1, 'is empty').optional(),
    sysctls: z.record(z.string(), z.unknown()),
    behaviours: z.array(z.unknown()).default([]),
  })
  .strict();

export interface HostInputs {
  host: HostEntry;
  baseline: Baseline;
  privateKey?: string;
  knownHosts?: string;
}

export interface CheckFailure {
  property: string;
  reason: string;
}

/** `sysctls["net.ipv4.tcp_sack"].equals`, `behaviours[1].port`: Pulumi's property path syntax. */
export function propertyPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/**
 * The declarations as one baseline: all of them under the host's first role and the other roles empty, so the
 * engine's planner merges back exactly the host's inputs (they arrive already merged across roles).
 */
function baselineInput(roles: readonly string[], sysctls: unknown, behaviours: unknown): unknown {
  const [first, ...rest] = roles;
  return { roles: { [first as string]: { sysctls, behaviours }, ...Object.fromEntries(rest.map((r) => [r, {}])) } };
}

/** Maps a baseline issue path (`roles.<role>.sysctls.<key>...`) back to the resource's property path. */
function baselineIssuePath(path: readonly (string | number)[]): (string | number)[] {
  return path[0] === 'roles' && path.length >= 3 ? path.slice(2) : [...path];
}

export function parseHostInputs(raw: Props): { ok: true; value: HostInputs } | { ok: false; failures: CheckFailure[] } {
  const res = resourceInputsSchema.safeParse(raw);
  if (!res.success) return { ok: false, failures: res.error.issues.map((i) => ({ property: propertyPath(i.path) || '(inputs)', reason: i.message })) };
  const i = res.data;
  const base = baselineSchema.safeParse(baselineInput(i.roles, i.sysctls, i.behaviours));
  if (!base.success) return { ok: false, failures: base.error.issues.map((x) => ({ property: propertyPath(baselineIssuePath(x.path)), reason: x.message })) };
  const host: HostEntry = {
    name: i.host,
    address: i.address,
    port: i.port,
    user: i.user,
    roles: i.roles,
    ...(i.agentCommand ? { agentCommand: i.agentCommand } : {}),
  };
  return {
    ok: true,
    value: { host, baseline: base.data, ...(i.privateKey ? { privateKey: i.privateKey } : {}), ...(i.knownHosts ? { knownHosts: i.knownHosts } : {}) },
  };
}

/** The inputs a resource keeps: what the user gave plus the schema's defaults (port 22, user root). */
export function withDefaults(raw: Props): Props {
  return { port: 22, user: 'root', behaviours: [], ...raw };
}
