/**
 * The kdrift policies as @pulumi/policy resource policies over `kdrift:index:HostKernelState` (rules in rules.ts).
 * Separate from index.ts, which serves them, so tests can call each policy's validateResource as the analyzer does.
 */
import type { ResourceValidationArgs, ResourceValidationPolicy, ReportViolation } from '@pulumi/policy';
import { HOST_KERNEL_STATE } from '../provider/type-token.js';
import { DEFAULT_SERVING_ROLES, DEFAULT_SOMAXCONN_FLOOR, dependsOnDeclared, lbTcpFeatures, servingRoleBehaviour, somaxconnFloor, type HostProps } from './rules.js';

/** A policy over HostKernelState inputs; other resource types are not its business. */
function hostPolicy(rule: (p: HostProps, args: ResourceValidationArgs) => string[]): ResourceValidationPolicy['validateResource'] {
  return (args: ResourceValidationArgs, report: ReportViolation) => {
    if (args.type !== HOST_KERNEL_STATE) return;
    for (const message of rule(args.props as HostProps, args)) report(message);
  };
}

export const policies: ResourceValidationPolicy[] = [
  {
    name: 'kdrift-lb-tcp-features',
    description: 'Load balancers keep TCP window scaling, SACK and timestamps on (off, large responses stall across real round-trip times).',
    enforcementLevel: 'mandatory',
    severity: 'critical',
    validateResource: hostPolicy((p) => lbTcpFeatures(p)),
  },
  {
    name: 'kdrift-somaxconn-floor',
    description: 'net.core.somaxconn, where declared, stays at or above a floor (config: floor, default 1024).',
    enforcementLevel: 'mandatory',
    severity: 'medium',
    configSchema: { properties: { floor: { type: 'integer', minimum: 1, default: DEFAULT_SOMAXCONN_FLOOR } } },
    validateResource: hostPolicy((p, args) => somaxconnFloor(p, args.getConfig<{ floor?: number }>().floor ?? DEFAULT_SOMAXCONN_FLOOR)),
  },
  {
    name: 'kdrift-behaviour-depends-on-declared',
    description: "A behaviour check's dependsOn keys are declared sysctls of the host, so fixing them re-verifies the behaviour.",
    enforcementLevel: 'mandatory',
    severity: 'high',
    validateResource: hostPolicy((p) => dependsOnDeclared(p)),
  },
  {
    name: 'kdrift-serving-role-behaviour-check',
    description: 'Roles that serve traffic declare at least one behaviour check (config: servingRoles).',
    enforcementLevel: 'advisory',
    severity: 'medium',
    configSchema: { properties: { servingRoles: { type: 'array', items: { type: 'string' }, default: DEFAULT_SERVING_ROLES } } },
    validateResource: hostPolicy((p, args) => servingRoleBehaviour(p, args.getConfig<{ servingRoles?: string[] }>().servingRoles ?? DEFAULT_SERVING_ROLES)),
  },
];
