import * as pulumi from '@pulumi/pulumi';
import type { Baseline } from '../core/baseline.js';
import { describeExpectation } from '../core/baseline.js';
import type { HostEntry } from '../core/inventory.js';
import { KdriftError } from '../core/errors.js';

export interface HostKernelStateArgs {
  host: HostEntry;
  baseline: Baseline;
}

/**
 * The declared kernel state of one host: the union of its roles' sysctls and behaviours. A component (no provider
 * yet), so `pulumi preview` shows per host what kdrift will hold it to; the applying provider hangs under it.
 */
export class HostKernelState extends pulumi.ComponentResource {
  readonly sysctls: pulumi.Output<Record<string, string>>;
  readonly behaviours: pulumi.Output<string[]>;

  constructor(name: string, args: HostKernelStateArgs, opts?: pulumi.ComponentResourceOptions) {
    super('kdrift:fleet:HostKernelState', name, {}, opts);
    const declared = declaredStateOf(args.host, args.baseline);
    this.sysctls = pulumi.output(declared.sysctls);
    this.behaviours = pulumi.output(declared.behaviours);
    this.registerOutputs({ sysctls: this.sysctls, behaviours: this.behaviours });
  }
}

/** Merges a host's roles; two roles declaring one key differently is an error naming both. */
export function declaredStateOf(host: HostEntry, baseline: Baseline): { sysctls: Record<string, string>; behaviours: string[] } {
  const sysctls: Record<string, string> = {};
  const from: Record<string, string> = {};
  const behaviours: string[] = [];
  for (const role of host.roles) {
    const rb = baseline.roles[role];
    if (!rb) throw new KdriftError(`role "${role}" has no baseline (declared roles: ${Object.keys(baseline.roles).join(', ')})`, `host ${host.name}`);
    for (const [key, exp] of rb.sysctls) {
      const text = describeExpectation(exp);
      if (sysctls[key] !== undefined && sysctls[key] !== text) {
        throw new KdriftError(`${key} is declared "${sysctls[key]}" by role ${from[key]} and "${text}" by role ${role}`, `host ${host.name}`);
      }
      sysctls[key] = text;
      from[key] = role;
    }
    for (const b of rb.behaviours) behaviours.push(`${b.check} port ${b.port}`);
  }
  return { sysctls, behaviours };
}
