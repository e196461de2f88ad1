import { parseBaseline, type Baseline } from '../core/baseline.js';
import { loadBalancer } from './roles/load-balancer.js';
import { appNode } from './roles/app-node.js';
import { client } from './roles/client.js';

/** The fleet's declared kernel state, per role. The Pulumi program and the CLI both import this. */
export const declaredRoles = {
  'load-balancer': loadBalancer,
  'app-node': appNode,
  client,
};

/** Validated once; a bad declaration fails here naming the module and the path inside it. */
export function fleetBaseline(): Baseline {
  return parseBaseline({ roles: declaredRoles }, 'stacks/baselines.ts');
}
