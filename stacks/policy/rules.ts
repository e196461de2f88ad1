/**
 * The CrossGuard rules over one `kdrift:index:HostKernelState`'s inputs, as pure functions: declaration in, messages
 * out (each naming the host, the key and the fix). stacks/policy/policies.ts wraps them as @pulumi/policy policies.
 * Expectations are read with the project's schema and judged with its own rule (core/sysctl-rules meetsExpectation):
 * "does this declaration let the feature be off" is "would the value 0 meet it".
 */
import { sysctlExpectationSchema, type SysctlExpectation } from '../../core/baseline.js';
import { meetsExpectation } from '../../core/sysctl-rules/index.js';
import { sysctlFields } from '../../core/sysctl-key.js';

export interface HostProps {
  host?: unknown;
  roles?: unknown;
  sysctls?: unknown;
  behaviours?: unknown;
}

interface Behaviour {
  check: string;
  port: number;
  dependsOn?: string[];
}

export const LB_ROLE = 'load-balancer';
export const LB_TCP_FEATURES: Record<string, string> = {
  'net.ipv4.tcp_window_scaling': 'without it every connection is capped at a 64 KiB window and throughput collapses with round-trip time',
  'net.ipv4.tcp_sack': 'without it a lost segment costs a whole window of retransmits on long paths',
  'net.ipv4.tcp_timestamps': 'without them RTT measurement and PAWS protection are gone',
};
export const SOMAXCONN = 'net.core.somaxconn';
export const DEFAULT_SOMAXCONN_FLOOR = 1024;
export const DEFAULT_SERVING_ROLES = ['load-balancer', 'app-node'];

function hostName(p: HostProps): string {
  return typeof p.host === 'string' ? p.host : 'this host';
}
function roles(p: HostProps): string[] {
  return Array.isArray(p.roles) ? p.roles.filter((r): r is string => typeof r === 'string') : [];
}
/** Declared expectations that parse (a malformed one is the provider's Check failure, not a policy's). */
function expectations(p: HostProps): Map<string, SysctlExpectation> {
  const out = new Map<string, SysctlExpectation>();
  if (typeof p.sysctls !== 'object' || p.sysctls === null) return out;
  for (const [key, raw] of Object.entries(p.sysctls)) {
    const parsed = sysctlExpectationSchema.safeParse(raw);
    if (parsed.success) out.set(key, parsed.data);
  }
  return out;
}
function behaviours(p: HostProps): Behaviour[] {
  return Array.isArray(p.behaviours) ? (p.behaviours as Behaviour[]).filter((b) => typeof b?.check === 'string') : [];
}

/** Mandatory: a load balancer may not declare window scaling, SACK or timestamps in a way that allows them off. */
export function lbTcpFeatures(p: HostProps): string[] {
  if (!roles(p).includes(LB_ROLE)) return [];
  const declared = expectations(p);
  return Object.entries(LB_TCP_FEATURES).flatMap(([key, why]) => {
    const e = declared.get(key);
    if (!e || !meetsExpectation(e, '0')) return [];
    return [`${hostName(p)} (${LB_ROLE}) declares ${key} so that 0 (off) passes: ${why}. Fix: declare ${key}: { equals: 1 } in stacks/roles/load-balancer.ts.`];
  });
}

/** The smallest value an expectation admits, per its first field (undefined: no lower bound). */
function lowestAdmitted(e: SysctlExpectation): number | undefined {
  const first = (v: string) => Number(sysctlFields(v)[0]);
  if (e.equals !== undefined) return first(e.equals);
  if (e.oneOf !== undefined) return Math.min(...e.oneOf.map(first));
  return e.min !== undefined ? first(e.min) : undefined;
}

/** Mandatory: a declared net.core.somaxconn must not admit an accept queue below the floor. */
export function somaxconnFloor(p: HostProps, floor = DEFAULT_SOMAXCONN_FLOOR): string[] {
  const e = expectations(p).get(SOMAXCONN);
  if (!e) return [];
  const low = lowestAdmitted(e);
  if (low !== undefined && low >= floor) return [];
  const admits = low === undefined ? 'has no lower bound' : `admits ${low}`;
  return [`${hostName(p)} declares ${SOMAXCONN} that ${admits}, below the floor of ${floor}: bursts of new connections overflow the accept queue and are dropped. Fix: declare ${SOMAXCONN}: { min: ${floor} } (or higher).`];
}

/** Mandatory: every key a behaviour dependsOn must be declared, or kdrift never re-verifies the behaviour after fixing it. */
export function dependsOnDeclared(p: HostProps): string[] {
  const declared = typeof p.sysctls === 'object' && p.sysctls !== null ? new Set(Object.keys(p.sysctls)) : new Set<string>();
  return behaviours(p).flatMap((b, i) =>
    (b.dependsOn ?? [])
      .filter((k) => !declared.has(k))
      .map((k) => `${hostName(p)}: behaviours[${i}] (${b.check} port ${b.port}) depends on ${k}, which the host does not declare. Fix: declare ${k} in the role's sysctls, or remove it from dependsOn.`),
  );
}

/** Advisory: a role that serves traffic should prove it with at least one behaviour check. */
export function servingRoleBehaviour(p: HostProps, servingRoles: readonly string[] = DEFAULT_SERVING_ROLES): string[] {
  const serving = roles(p).filter((r) => servingRoles.includes(r));
  if (serving.length === 0 || behaviours(p).length > 0) return [];
  return [
    `${hostName(p)} serves traffic (${serving.join(', ')}) but declares no behaviour check: a sysctl can be right while connections still fail. Fix: add e.g. { check: 'tcp.windowScaling', port: <its service port>, minShare: 0.99, dependsOn: ['net.ipv4.tcp_window_scaling'] } to the role's behaviours.`,
  ];
}
