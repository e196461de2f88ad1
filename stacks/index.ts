import * as pulumi from '@pulumi/pulumi';
import { hostEntrySchema } from '../core/inventory.js';
import { formatZodError } from '../core/zod-error.js';
import { KdriftError } from '../core/errors.js';
import { fleetBaseline } from './baselines.js';
import { HostKernelState } from './host-kernel-state.js';

/**
 * The Pulumi program: the fleet's hosts come from stack config (`kdrift:hosts`, the same key the CLI reads), their
 * declared state from stacks/baselines.ts (the same module the CLI imports).
 */
const config = new pulumi.Config('kdrift');
const parsed = hostEntrySchema.array().safeParse(config.requireObject<unknown>('hosts'));
if (!parsed.success) throw new KdriftError(formatZodError(parsed.error), `Pulumi.${pulumi.getStack()}.yaml config.kdrift:hosts`);

const baseline = fleetBaseline();
const hosts = parsed.data.map((host) => new HostKernelState(host.name, { host, baseline }));

export const declared = Object.fromEntries(hosts.map((h, i) => [parsed.data[i]!.name, h.sysctls]));
export const hostUrns = hosts.map((h) => h.urn);
