/** `--role R [--stack S | --baseline F]` → the merged sysctl declarations of those roles (gate and watch). */
import { KdriftError } from '../../core/errors.js';
import type { SysctlExpectation } from '../../core/baseline.js';
import { planChecks } from '../../core/engine/index.js';
import { loadInventory } from '../../core/inventory.js';
import { loadBaselineFile } from '../../core/baseline-file.js';
import { localHost } from './report.js';

export const roleSourceOptions = {
  role: { type: 'string', multiple: true },
  stack: { type: 'string' },
  baseline: { type: 'string' },
} as const;

export const roleSourceUsage = `  --role ROLE          the role whose declarations apply (repeatable)
  --stack NAME         baseline of this Pulumi stack's inventory
  --baseline FILE      role baselines from a YAML/JSON file or module
`;

export async function resolveRoleSpecs(values: { role?: string[]; stack?: string; baseline?: string }): Promise<{ roles: string[]; specs: Map<string, SysctlExpectation> }> {
  const roles = values.role ?? [];
  if (roles.length === 0) throw new KdriftError('give --role ROLE: whose declared sysctls apply');
  if (values.stack && values.baseline) throw new KdriftError('give either --stack or --baseline, not both');
  let file = values.baseline;
  if (values.stack) file = (await loadInventory({ stack: values.stack })).baseline;
  const baseline = file !== undefined ? await loadBaselineFile(file) : (await import('../../stacks/baselines.js')).fleetBaseline();
  const unknown = roles.filter((r) => !(r in baseline.roles));
  if (unknown.length > 0) throw new KdriftError(`no role ${unknown.join(', ')} in the baseline (roles: ${Object.keys(baseline.roles).join(', ')})`, file);
  const plan = planChecks(localHost(roles), baseline);
  return { roles, specs: plan.sysctls };
}
