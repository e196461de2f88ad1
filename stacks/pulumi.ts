/**
 * kdrift for Pulumi programs (`import * as kdrift from 'kdrift/pulumi'`): the typed resource class the kdrift
 * provider plugin applies, the role component, and the helper that resolves a host's roles into its inputs.
 * Separate from the library entry so `import from 'kdrift'` does not load @pulumi/pulumi.
 *
 *   new kdrift.HostKernelState('lb1', { host: 'lb1', address: '10.0.0.10', roles: ['load-balancer'],
 *     sysctls: { 'net.ipv4.tcp_window_scaling': { equals: 1, severity: 'critical', remediation: 'auto' } },
 *     behaviours: [{ check: 'tcp.windowScaling', port: 80, minShare: 0.99, dependsOn: ['net.ipv4.tcp_window_scaling'] }] });
 */
export { HostKernelState, type HostKernelStateArgs, type VerifiedBehaviour } from './host-kernel-state.js';
export { Role, type RoleArgs } from './role.js';
export { hostDeclaration, type HostDeclaration } from './declaration.js';
export type { RoleDeclaration, SysctlExpectationArgs, BehaviourArgs, SysctlKey, SysctlValue } from './roles/types.js';
export { HOST_KERNEL_STATE } from './provider/type-token.js';
