/**
 * The engine: baseline × inventory → a plan per host → collect on every host concurrently → judge → one Report.
 * A host that cannot be checked (down, auth, timeout, a command failing) becomes that host's `status: "error"`; the
 * other hosts still report. Bad declarations (a role the baseline lacks, two roles of one host declaring the same key
 * differently) are input errors: thrown before any host is touched.
 */
import { isDeepStrictEqual } from 'node:util';
import type { Baseline, SysctlExpectation } from '../baseline.js';
import { HostError, errorMessage } from '../errors.js';
import { describeEntry, mergeRoleSysctls } from '../sysctl-rules/index.js';
import type { Finding } from '../finding.js';
import type { HostEntry, Inventory } from '../inventory.js';
import type { HostSession } from '../session.js';
import { openSession, type SessionOptions } from '../sessions.js';
import { mapLimit } from '../pool.js';
import type { KeptSessions } from './kept-sessions.js';
import { WRITE_LOG_PATH, attributeWriters } from './write-log.js';
import { behaviourKindNamed, configKinds, type BehaviourSpec, type CheckContext, type CheckKind, type SysctlObservation } from '../../checks/index.js';
import {
  REPORT_VERSION,
  countsAsDrift,
  hostStatus,
  isConfigLayer,
  summarise,
  type FileWarning,
  type HostReport,
  type Report,
  type Verdict,
} from '../report.js';
import { findRootCauses } from './root-cause.js';
import { assignFindingIds } from '../report-diff.js';
import { applySuppressions, expiredList, type SuppressionRule, type SuppressionSet } from '../suppressions.js';

export interface CheckPlan {
  host: HostEntry;
  /** Merged sysctl declarations of the host's roles, and which role declared each. */
  sysctls: Map<string, SysctlExpectation>;
  sysctlRoles: Map<string, string>;
  behaviours: { spec: BehaviourSpec; role: string }[];
}

/**
 * Merges the host's roles: sysctls by the sysctl rules' role merge (a key declared differently is an error). A plan
 * depends on the roles only, so hosts with the same roles share one (read-only) plan per baseline: a fleet run plans
 * each host three times (validation, check, root causes), and report --every again every run.
 */
export function planChecks(host: HostEntry, baseline: Baseline): CheckPlan {
  let byRoles = plansByRoles.get(baseline);
  if (!byRoles) plansByRoles.set(baseline, (byRoles = new Map()));
  const rolesKey = host.roles.join('\0');
  let plan = byRoles.get(rolesKey);
  if (!plan) {
    plan = planRoles(host, baseline);
    byRoles.set(rolesKey, plan);
  }
  return { host, ...plan };
}

const plansByRoles = new WeakMap<Baseline, Map<string, Omit<CheckPlan, 'host'>>>();

function planRoles(host: HostEntry, baseline: Baseline): Omit<CheckPlan, 'host'> {
  const merged = mergeRoleSysctls(host.roles, baseline, `host ${host.name}`);
  const sysctls = new Map<string, SysctlExpectation>([...merged].map(([k, d]) => [k, d.exp]));
  const sysctlRoles = new Map<string, string>([...merged].map(([k, d]) => [k, d.roles[0] as string]));
  const behaviours: CheckPlan['behaviours'] = [];
  for (const role of host.roles) {
    for (const spec of baseline.roles[role]?.behaviours ?? []) {
      if (!behaviours.some((b) => isDeepStrictEqual(b.spec, spec))) behaviours.push({ spec, role });
    }
  }
  return { sysctls, sysctlRoles, behaviours };
}

export interface CheckHostOptions {
  /** Run behaviour checks (the probe agent on the host) too. */
  probe?: boolean;
  suppressions?: SuppressionSet;
  /** Time suppressions are judged at (default now). */
  now?: Date;
  /** Prefix for every path the sysctl check reads (tests: a fixture tree); '' on real hosts. */
  sysctlRoot?: string;
  commandTimeoutMs?: number;
  signal?: AbortSignal;
  /** Filled with how many findings each expired suppression matched (runChecks merges them into the report). */
  expired?: Map<SuppressionRule, number>;
  /** Judge the probe's own test connections when no real one was seen (remediation's verification). */
  ownTraffic?: boolean;
  /** The session is kept for later runs: collect through its kept collector (no exec per run; same script). */
  keptCollector?: boolean;
}

/** Key of a behaviour spec in the map handed to its CheckKind: what the finding's `key` says (`port 80`, `port 8080 out`). */
export function behaviourKey(spec: Pick<BehaviourSpec, 'port' | 'direction'>): string {
  return spec.direction === 'out' ? `port ${spec.port} out` : `port ${spec.port}`;
}

/**
 * Checks one host through an open session: config always, behaviour with `probe`. Host failures come back as
 * `status: "error"` (not thrown) so remediation can re-verify one host with the same call the report uses; only a
 * bad declaration (planChecks) throws, as it is an input error.
 */
export async function checkHost(session: HostSession, host: HostEntry, baseline: Baseline, opts: CheckHostOptions = {}): Promise<HostReport> {
  const started = Date.now();
  const plan = planChecks(host, baseline);
  const ctx: CheckContext = { host, roles: host.roles, ...(opts.signal ? { signal: opts.signal } : {}), ...(opts.ownTraffic ? { ownTraffic: true } : {}) };
  const base = { name: host.name, roles: host.roles };
  let findings: Finding[] = [];
  const warnings: FileWarning[] = [];
  try {
    if (plan.sysctls.size > 0) {
      const makeSysctlCheck = await configKinds.sysctl();
      const sysctl = makeSysctlCheck({
        ...(opts.sysctlRoot !== undefined ? { root: opts.sysctlRoot } : {}),
        ...(opts.commandTimeoutMs !== undefined ? { timeoutMs: opts.commandTimeoutMs } : {}),
        writeLogPath: WRITE_LOG_PATH,
        ...(opts.keptCollector ? { kept: true } : {}),
      });
      const obs = await sysctl.collect(session, plan.sysctls, ctx);
      findings.push(...sysctl.judge(obs, plan.sysctls, ctx));
      warnings.push(...skippedFiles(obs));
      attributeWriters(findings, (obs.writeLog ?? []).map((t) => Buffer.from(t, 'latin1').toString('utf8')));
    }
  } catch (err) {
    return { ...base, status: 'error', error: hostErrorText(err), findings, durationMs: Date.now() - started };
  }
  if (opts.probe) findings.push(...(await runBehaviours(session, plan, ctx)));

  const applied = applySuppressions(findings, host.roles, opts.suppressions, opts.now ?? new Date());
  findings = applied.findings;
  if (opts.expired) for (const [r, n] of applied.expired) opts.expired.set(r, (opts.expired.get(r) ?? 0) + n);
  return {
    ...base,
    status: hostStatus(findings),
    ...(opts.probe ? { verdict: verdictFor(findings, plan) } : {}),
    findings,
    ...(warnings.length > 0 ? { warnings } : {}),
    durationMs: Date.now() - started,
  };
}

/**
 * Behaviour checks, one CheckKind per declared check. A check that cannot run (agent missing, probe failure) gives an
 * `unknown` finding per declaration with the reason: config findings of the host are still worth reporting.
 */
async function runBehaviours(session: HostSession, plan: CheckPlan, ctx: CheckContext): Promise<Finding[]> {
  const out: Finding[] = [];
  const byCheck = new Map<string, Map<string, BehaviourSpec>>();
  for (const { spec } of plan.behaviours) {
    const m = byCheck.get(spec.check) ?? new Map<string, BehaviourSpec>();
    m.set(behaviourKey(spec), spec);
    byCheck.set(spec.check, m);
  }
  // Behaviour checks observe live traffic for a window each; start them together (same tick: the probe side batches
  // them into one agent run) so a host costs one window. Results keep the declaration order.
  const perKind = await Promise.all(
    [...byCheck].map(async ([check, specs]): Promise<Finding[]> => {
      // Each kind's spec type differs; the engine only hands a kind specs its own schema produced (grouped by `check`).
      const kind = behaviourKindNamed(check) as CheckKind<BehaviourSpec, unknown> | undefined;
      if (!kind) return [...specs].map(([key, spec]) => unknownBehaviour(ctx.host.name, check, key, spec, `no check kind "${check}" is built in`));
      try {
        const obs = await kind.collect(session, specs, ctx);
        return kind.judge(obs, specs, ctx);
      } catch (err) {
        return [...specs].map(([key, spec]) => unknownBehaviour(ctx.host.name, check, key, spec, `probe failed: ${hostErrorText(err)}`));
      }
    }),
  );
  out.push(...perKind.flat());
  return out;
}

/**
 * Entries of the sysctl.d family that no boot reads as a file, but that are not a plain mask or a dangling link (a boot
 * skips those silently too): unreadable here, a device/fifo/socket, a directory named *.conf.
 */
function skippedFiles(obs: SysctlObservation): FileWarning[] {
  const entries = [...obs.tree.entries, ...(obs.tree.sysctlConf ? [obs.tree.sysctlConf] : [])];
  return entries
    .filter((e) => e.kind === 'unreadable' || e.kind === 'other' || e.kind === 'directory')
    .map((e) => ({ file: describeEntry(e), reason: SKIP_REASON[e.kind as 'unreadable' | 'other' | 'directory'] }));
}

const SKIP_REASON = {
  unreadable: 'unreadable by this session (a boot, as root, may read it)',
  other: 'not a regular file (device, fifo or socket): a boot may block on it',
  directory: 'a directory named *.conf: a boot reads nothing from it',
} as const;

function unknownBehaviour(host: string, check: string, key: string, spec: BehaviourSpec, reason: string): Finding {
  return { host, check, key, layer: 'behaviour', status: 'unknown', expected: check, actual: null, severity: spec.severity, reason };
}

/** Joins config and behaviour (see Verdict in core/report.ts). */
export function verdictFor(findings: readonly Finding[], plan: Pick<CheckPlan, 'behaviours'>): Verdict {
  const configDrift = findings.filter((f) => isConfigLayer(f.layer) && countsAsDrift(f));
  const behaviourDrift = findings.filter((f) => f.layer === 'behaviour' && countsAsDrift(f));
  if (configDrift.length > 0 && behaviourDrift.length > 0) return 'both';
  if (behaviourDrift.length > 0) return 'behaviour drift';
  if (configDrift.length === 0) return 'ok';
  // "Not yet shown" needs a behaviour that depends on a drifted key AND was observed without drift; a behaviour that
  // could not be observed (unknown) shows nothing either way.
  const drifted = new Set(configDrift.map((f) => f.key));
  const observedOk = (b: CheckPlan['behaviours'][number]) =>
    findings.some((f) => f.layer === 'behaviour' && f.check === b.spec.check && f.key === behaviourKey(b.spec) && f.status === 'ok');
  const watched = plan.behaviours.some((b) => b.spec.dependsOn.some((k) => drifted.has(k)) && observedOk(b));
  return watched ? 'config drift not yet shown by behaviour' : 'config drift';
}

function hostErrorText(err: unknown): string {
  if (err instanceof HostError) return err.message.replace(/^host [^:]+: /, '');
  return errorMessage(err);
}

export interface ProgressEvent {
  host: string;
  status: HostReport['status'];
  done: number;
  total: number;
}

export interface RunChecksOptions {
  inventory: Pick<Inventory, 'stack'>;
  baseline: Baseline;
  hosts: HostEntry[];
  sessionOptions: SessionOptions;
  concurrency: number;
  probe?: boolean;
  suppressions?: SuppressionSet;
  onProgress?: (ev: ProgressEvent) => void;
  now?: Date;
  /** Per-host prefix for the sysctl check's paths (tests: fixture trees); '' / undefined on real hosts. */
  sysctlRoot?: string | ((host: HostEntry) => string);
  /** How a next-step command names the inventory (default `--stack NAME` when the inventory is a stack). */
  selector?: string[];
  /** Keep each host's connection open for the next run (report --every) instead of closing it. */
  keptSessions?: KeptSessions;
}

function connectFailed(host: HostEntry, err: unknown): HostReport {
  return { name: host.name, roles: host.roles, status: 'error', error: hostErrorText(err), findings: [] };
}

/**
 * One connection for this run. It is closed without holding the host's concurrency slot (the goodbye is a round
 * trip the next host need not wait for); runChecks awaits every close before it returns.
 */
async function checkFresh(host: HostEntry, opts: RunChecksOptions, check: CheckHostOptions, closing: Promise<void>[]): Promise<HostReport> {
  let session: HostSession | undefined;
  try {
    session = await openSession(host, opts.sessionOptions);
    return await checkHost(session, host, opts.baseline, check);
  } catch (err) {
    return connectFailed(host, err);
  } finally {
    if (session) closing.push(session.close().catch(() => undefined));
  }
}

/**
 * Over the kept connection; a kept connection that fails (the host rebooted, sshd restarted, a NAT forgot it) is
 * dropped and the host checked once more over a new one, so a dropped connection is not reported as a down host.
 */
async function checkKept(kept: KeptSessions, host: HostEntry, baseline: Baseline, check: CheckHostOptions): Promise<HostReport> {
  for (let attempt = 0; ; attempt++) {
    let got: { session: HostSession; fresh: boolean };
    try {
      got = await kept.get(host);
    } catch (err) {
      return connectFailed(host, err);
    }
    const report = await checkHost(got.session, host, baseline, { ...check, keptCollector: true });
    if (report.status !== 'error') return report;
    await kept.drop(host.name);
    if (got.fresh || attempt > 0) return report;
  }
}

export async function runChecks(opts: RunChecksOptions): Promise<Report> {
  const started = opts.now ?? new Date();
  const t0run = Date.now();
  // Validate every host's plan first: a bad declaration is an input error, not a host error.
  for (const h of opts.hosts) planChecks(h, opts.baseline);
  const expired = new Map<SuppressionRule, number>();
  let done = 0;
  const checkOpts = (host: HostEntry): CheckHostOptions => ({
    probe: opts.probe ?? false,
    ...(opts.suppressions ? { suppressions: opts.suppressions } : {}),
    now: started,
    expired,
    ...(opts.sysctlRoot !== undefined ? { sysctlRoot: typeof opts.sysctlRoot === 'function' ? opts.sysctlRoot(host) : opts.sysctlRoot } : {}),
    ...(opts.sessionOptions.commandTimeoutMs !== undefined ? { commandTimeoutMs: opts.sessionOptions.commandTimeoutMs } : {}),
  });
  const closing: Promise<void>[] = [];
  const hosts = await mapLimit(opts.hosts, Math.max(1, opts.concurrency), async (host) => {
    const t0 = Date.now();
    const report = opts.keptSessions ? await checkKept(opts.keptSessions, host, opts.baseline, checkOpts(host)) : await checkFresh(host, opts, checkOpts(host), closing);
    if (report.status === 'error') report.durationMs = Date.now() - t0;
    done += 1;
    opts.onProgress?.({ host: host.name, status: report.status, done, total: opts.hosts.length });
    return report;
  });
  await Promise.all(closing);
  const expiredSuppressions = expiredList(expired);
  const judged = findRootCauses({
    hosts,
    entries: opts.hosts,
    plans: new Map(opts.hosts.map((h) => [h.name, planChecks(h, opts.baseline)])),
    selector: opts.selector ?? (opts.inventory.stack ? ['--stack', opts.inventory.stack] : []),
  });
  return assignFindingIds({
    version: REPORT_VERSION,
    generatedAt: started.toISOString(),
    stack: opts.inventory.stack ?? null,
    probe: opts.probe ?? false,
    summary: summarise(judged.hosts, judged.rootCauses),
    rootCauses: judged.rootCauses,
    hosts: judged.hosts,
    ...(judged.legs.length > 0 ? { legs: judged.legs } : {}),
    ...(expiredSuppressions.length > 0 ? { expiredSuppressions } : {}),
    durationMs: Date.now() - t0run,
  });
}
