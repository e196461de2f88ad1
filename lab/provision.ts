import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { KdriftError } from '../core/errors.js';
import type { Baseline } from '../core/baseline.js';
import { mergeRoleSysctls } from '../core/sysctl-rules/index.js';
import { fleetBaseline } from '../stacks/baselines.js';
import { runOk } from './run.js';
import { inHost } from './host-mounts.js';
import type { LabHostLayout } from './plan.js';

/**
 * Bring a new lab host to its declared state, as a `pulumi up` would: a persisted sysctl.d file and the runtime
 * values. The value chosen for each expectation: equals → it; oneOf → the first; min/max → min if given, else max.
 * Only net.* keys are ever written: they are per network namespace, so the lab can never change the machine itself.
 */
export const FLEET_CONF = '60-fleet.conf';

export function declaredSysctls(roles: readonly string[], baseline: Baseline = fleetBaseline()): Map<string, string> {
  const out = new Map<string, string>();
  for (const [key, { exp }] of mergeRoleSysctls(roles, baseline, 'stacks/baselines.ts')) {
    const value = exp.equals ?? exp.oneOf?.[0] ?? exp.min ?? exp.max;
    if (value === undefined) continue;
    assertPerNetns(key);
    out.set(key, value);
  }
  return out;
}

/** A key outside net.* would change the whole machine, not the lab host. */
export function assertPerNetns(key: string): void {
  if (!/^net[./]/.test(key)) throw new KdriftError(`refusing to set ${key} in a lab host: only net.* sysctls are per network namespace`);
}

export function fleetConfText(host: string, values: Map<string, string>): string {
  const lines = [`# Declared kernel state for lab host ${host} (stacks/baselines.ts), written by kdrift lab up.`];
  for (const [k, v] of values) lines.push(`${k} = ${v}`);
  return lines.join('\n') + '\n';
}

/** `root` is the host's own tree (lab/host-root.ts): the file goes to its /etc/sysctl.d. */
export async function provisionHost(h: LabHostLayout, root: string): Promise<Map<string, string>> {
  const values = declaredSysctls(h.roles);
  writeFileSync(path.join(root, 'etc', 'sysctl.d', FLEET_CONF), fleetConfText(h.name, values));
  await applyRuntime(h, root, values);
  return values;
}

/** Runtime values, written inside the host (sysctl -w resolves /proc/sys/net in the caller's netns); no /sys mounts needed. */
export async function applyRuntime(h: LabHostLayout, root: string, values: Map<string, string>): Promise<void> {
  if (values.size === 0) return;
  for (const k of values.keys()) assertPerNetns(k);
  await runOk(inHost(h.netns, root, ['sysctl', '-q', '-w', ...[...values].map(([k, v]) => `${k}=${v}`)], []));
}
