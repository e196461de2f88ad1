import * as pulumi from '@pulumi/pulumi';
import type { Baseline } from '../core/baseline.js';
import type { HostEntry } from '../core/inventory.js';
import { hostDeclaration } from './declaration.js';
import { HostKernelState } from './host-kernel-state.js';

export interface RoleArgs {
  /** Hosts whose first role is this one (a host is one resource, under one role). */
  hosts: HostEntry[];
  baseline: Baseline;
  /** SSH private key for every host (a secret from stack config), else the provider's identityFile or ssh-agent. */
  privateKey?: pulumi.Input<string>;
}

/** A role of the fleet: one HostKernelState per host, children of this component. */
export class Role extends pulumi.ComponentResource {
  readonly hosts: Record<string, HostKernelState>;
  /** Host → verdict of its last apply or refresh. */
  readonly verdicts: pulumi.Output<Record<string, string>>;

  constructor(name: string, args: RoleArgs, opts?: pulumi.ComponentResourceOptions) {
    super('kdrift:index:Role', name, {}, opts);
    this.hosts = Object.fromEntries(
      args.hosts.map((host) => {
        const decl = hostDeclaration(host, args.baseline);
        const state = new HostKernelState(
          host.name,
          {
            host: host.name,
            address: host.address,
            port: host.port,
            user: host.user,
            ...(args.privateKey !== undefined ? { privateKey: args.privateKey } : {}),
            ...(host.agentCommand ? { agentCommand: host.agentCommand } : {}),
            ...decl,
          },
          { parent: this },
        );
        return [host.name, state];
      }),
    );
    this.verdicts = pulumi.all(Object.fromEntries(Object.entries(this.hosts).map(([n, h]) => [n, h.verdict])));
    this.registerOutputs({ verdicts: this.verdicts });
  }
}
