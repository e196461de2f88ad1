/**
 * kdrift's CrossGuard policy pack: `pulumi preview --policy-pack stacks/policy`. Constructing the PolicyPack starts
 * @pulumi/policy's analyzer server (it prints its port for the CLI); the policies are in policies.ts.
 */
import { PolicyPack } from '@pulumi/policy';
import { policies } from './policies.js';

new PolicyPack('kdrift', { description: 'Kernel state declarations known to break a role are stopped before they reach a host.', policies });
