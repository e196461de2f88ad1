import * as pulumi from '@pulumi/pulumi';
import type { BehaviourArgs, SysctlExpectationArgs, SysctlKey } from './roles/types.js';
import { HOST_KERNEL_STATE } from './provider/type-token.js';

/**
 * Inputs of a `kdrift:index:HostKernelState`. The declarations are plain typed values (not Inputs): a misspelt
 * field, `equals` with `min`, an unknown severity or a behaviour with another check's thresholds does not compile.
 */
export interface HostKernelStateArgs {
  /** Inventory name of the host; the resource id. */
  host: pulumi.Input<string>;
  address: pulumi.Input<string>;
  port?: pulumi.Input<number>;
  user?: pulumi.Input<string>;
  roles: pulumi.Input<pulumi.Input<string>[]>;
  /** Private key text; always stored as a secret. Without it: the provider's identityFile, or ssh-agent. */
  privateKey?: pulumi.Input<string>;
  /** known_hosts for this host (default: the provider's `kdrift:knownHosts`). */
  knownHosts?: pulumi.Input<string>;
  agentCommand?: pulumi.Input<pulumi.Input<string>[]>;
  sysctls: { readonly [key: SysctlKey]: SysctlExpectationArgs };
  behaviours?: readonly BehaviourArgs[];
}

/** A behaviour as the probe observed it when the last change was verified. */
export interface VerifiedBehaviour {
  check: string;
  key: string;
  status: 'ok' | 'drift' | 'unknown';
  expected: string;
  actual: string | null;
  evidence: Record<string, unknown>;
}

/**
 * One host's declared kernel state, applied by the kdrift provider plugin (bin/pulumi-resource-kdrift): create and
 * update apply, verify by behaviour and roll back on failure; refresh reads the host; delete restores what was there
 * before kdrift first applied.
 */
export class HostKernelState extends pulumi.CustomResource {
  /** Runtime value of every declared key, as last applied or read. */
  declare readonly applied: pulumi.Output<Record<string, string>>;
  /** Value a boot would apply, per key (absent: nothing sets it). */
  declare readonly persisted: pulumi.Output<Record<string, string | null>>;
  /** Keys that do not meet their declaration, with what was found and where. */
  declare readonly drift: pulumi.Output<Record<string, string[]>>;
  declare readonly verdict: pulumi.Output<string>;
  declare readonly verified: pulumi.Output<VerifiedBehaviour[]>;
  declare readonly journal: pulumi.Output<string>;

  constructor(name: string, args: HostKernelStateArgs, opts?: pulumi.CustomResourceOptions) {
    const props: pulumi.Inputs = {
      ...args,
      behaviours: args.behaviours ?? [],
      privateKey: args.privateKey === undefined ? undefined : pulumi.secret(args.privateKey),
      applied: undefined,
      persisted: undefined,
      drift: undefined,
      verdict: undefined,
      verified: undefined,
      journal: undefined,
    };
    super(HOST_KERNEL_STATE, name, props, { ...opts, additionalSecretOutputs: ['privateKey'] });
  }
}
