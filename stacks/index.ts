import * as pulumi from '@pulumi/pulumi';
import { hostEntrySchema } from '../core/inventory.js';
import { formatZodError } from '../core/zod-error.js';
import { KdriftError } from '../core/errors.js';
import { fleetBaseline } from './baselines.js';
import { Role } from './role.js';

/**
 * The Pulumi program: the fleet's hosts come from stack config (`kdrift:hosts`, the same key the CLI reads), their
 * declared state from stacks/baselines.ts (the same module the CLI imports), one `kdrift:index:HostKernelState` per
 * host under a component per role. Provider settings (`kdrift:knownHosts`, `kdrift:identityFile`,
 * `kdrift:agentCommand`, ...) go to the kdrift provider from the same config; `kdrift:privateKey` (a secret) logs in.
 */
const config = new pulumi.Config('kdrift');
const where = `Pulumi.${pulumi.getStack()}.yaml config.kdrift:hosts`;
const parsed = hostEntrySchema.array().min(1, 'no hosts').safeParse(config.requireObject<unknown>('hosts'));
if (!parsed.success) throw new KdriftError(formatZodError(parsed.error), where);
const hosts = parsed.data;
const dup = hosts.find((h, i) => hosts.findIndex((x) => x.name === h.name) !== i);
if (dup) throw new KdriftError(`duplicate host name ${dup.name}`, where);

const baseline = fleetBaseline();
const privateKey = config.getSecret('privateKey');
const roleNames = [...new Set(hosts.map((h) => h.roles[0] as string))];
const roles = roleNames.map(
  (role) => new Role(role, { hosts: hosts.filter((h) => h.roles[0] === role), baseline, ...(privateKey !== undefined ? { privateKey } : {}) }),
);

/** Host → verdict (ok | config drift) of its last `pulumi up` or `pulumi refresh`. */
export const verdicts = pulumi.all(roles.map((r) => r.verdicts)).apply((all) => Object.assign({}, ...all) as Record<string, string>);
export const hostUrns = roles.flatMap((r) => Object.values(r.hosts).map((h) => h.urn));
