import * as pulumi from '@pulumi/pulumi';
import type { Baseline } from '../core/baseline.js';
import { describeExpectation } from '../core/baseline.js';
import type { HostEntry } from '../core/inventory.js';
import { planChecks } from '../core/engine/index.js';

export interface HostKernelStateArgs {
  host: HostEntry;
  baseline: Baseline;
}

/**
 * The declared kernel state of one host: its roles merged by the engine's own planner (so `pulumi preview` and
 * `kdrift report` can never disagree about what a host must hold). A component, so the applying provider hangs under it.
 */
export class HostKernelState extends pulumi.ComponentResource {
  readonly sysctls: pulumi.Output<Record<string, string>>;
  readonly behaviours: pulumi.Output<string[]>;

  constructor(name: string, args: HostKernelStateArgs, opts?: pulumi.ComponentResourceOptions) {
    super('kdrift:fleet:HostKernelState', name, {}, opts);
    const plan = planChecks(args.host, args.baseline);
    this.sysctls = pulumi.output(Object.fromEntries([...plan.sysctls].map(([key, exp]) => [key, describeExpectation(exp)])));
    this.behaviours = pulumi.output(plan.behaviours.map((b) => `${b.spec.check} port ${b.spec.port}`));
    this.registerOutputs({ sysctls: this.sysctls, behaviours: this.behaviours });
  }
}
