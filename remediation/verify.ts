/**
 * Verification after apply: the same checks the report runs (checkHost, core/engine/), narrowed to what the plan
 * fixed — the planned sysctls (runtime AND persisted layers) and the behaviours that depend on them (baseline
 * `dependsOn`), observed by the probe agent with its own test connections and a short window. Verified only when every
 * one of those findings is `ok`: `unknown` (nothing observed, probe failed) is not proof.
 */
import type { Baseline, RoleBaseline } from '../core/baseline.js';
import type { HostEntry } from '../core/inventory.js';
import type { HostSession } from '../core/session.js';
import type { Finding } from '../core/finding.js';
import type { BehaviourSpec } from '../checks/registry.js';
import { checkHost } from '../core/engine/index.js';
import type { HostReport } from '../core/report.js';

export const DEFAULT_VERIFY_WINDOW_MS = 1000;

export interface VerifyOptions {
  /** Observe dependent behaviours with the probe (default true). */
  probe?: boolean;
  /** Probe window for verification (the probe drives its own test connections, so seconds are enough). */
  behaviourWindowMs?: number;
  commandTimeoutMs?: number;
}

export interface VerifyResult {
  ok: boolean;
  /** The host could not be checked at all (session lost, collection failed): the reason. */
  error?: string;
  findings: Finding[];
  /** One line per finding that is not ok. */
  reasons: string[];
  behaviours: string[];
}

/** The baseline narrowed to `keys` and the behaviours depending on them (window shortened). */
export function verificationBaseline(baseline: Baseline, host: HostEntry, keys: readonly string[], opts: VerifyOptions = {}): Baseline {
  const wanted = new Set(keys);
  const roles: Record<string, RoleBaseline> = {};
  for (const [name, rb] of Object.entries(baseline.roles)) {
    if (!host.roles.includes(name)) {
      roles[name] = rb;
      continue;
    }
    const behaviours: BehaviourSpec[] =
      opts.probe === false
        ? []
        : rb.behaviours
            .filter((b) => b.dependsOn.some((k) => wanted.has(k)))
            .map((b) => ({ ...b, window: Math.min(b.window, opts.behaviourWindowMs ?? DEFAULT_VERIFY_WINDOW_MS) }));
    roles[name] = { ...rb, sysctls: new Map([...rb.sysctls].filter(([k]) => wanted.has(k))), behaviours };
  }
  return { roles };
}

export async function verifyHost(session: HostSession, host: HostEntry, baseline: Baseline, keys: readonly string[], opts: VerifyOptions = {}): Promise<VerifyResult> {
  const narrowed = verificationBaseline(baseline, host, keys, opts);
  const behaviours = host.roles.flatMap((r) => narrowed.roles[r]?.behaviours ?? []).map((b) => `${b.check} port ${b.port}`);
  const report: HostReport = await checkHost(session, host, narrowed, {
    probe: behaviours.length > 0,
    // A quiet host has only the probe's own test connections to show the fix: verification may judge them.
    ownTraffic: true,
    ...(opts.commandTimeoutMs !== undefined ? { commandTimeoutMs: opts.commandTimeoutMs } : {}),
  });
  if (report.status === 'error') return { ok: false, error: report.error ?? 'check failed', findings: report.findings, reasons: [report.error ?? 'check failed'], behaviours };
  const wanted = new Set(keys);
  const relevant = report.findings.filter((f) => f.layer === 'behaviour' || wanted.has(f.key));
  const reasons = relevant.filter((f) => f.status !== 'ok').map(describeNotOk);
  // Every planned key must have been judged on both layers (a missing finding is not a pass).
  for (const k of keys) {
    for (const layer of ['runtime', 'persisted'] as const) {
      if (!relevant.some((f) => f.key === k && f.layer === layer)) reasons.push(`${k} (${layer}): not checked`);
    }
  }
  return { ok: reasons.length === 0, findings: relevant, reasons, behaviours };
}

function describeNotOk(f: Finding): string {
  const what = f.layer === 'behaviour' ? `${f.check} ${f.key}` : `${f.key} (${f.layer})`;
  return `${what}: ${f.status}, expected ${f.expected}, found ${f.actual ?? 'nothing'}${f.reason ? ` — ${f.reason}` : ''}`;
}
