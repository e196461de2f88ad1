/**
 * `kdrift:index:HostKernelState`: one host's declared kernel state, kept by the remediation engine.
 *
 *   check    inputs validated with the project's schemas; failures name the property; the private key made secret
 *   diff     declared vs last applied/observed: which sysctl keys change (never a replacement)
 *   create   remediation/index.ts remediateHost: plan → journal → apply → verify (behaviour included) → or roll back;
 *   update     a rollback fails the operation with the verification evidence (the rollout gate)
 *   read     core/engine checkHost (collect + judge) → runtime and persisted values, drift, verdict (`pulumi refresh`)
 *   delete   revertHost: the host as it was before kdrift first applied, kdrift's file removed
 *
 * Plain JSON in and out; stacks/provider/server.ts speaks the engine's gRPC protocol around it.
 */
import { isDeepStrictEqual } from 'node:util';
import { KdriftError, errorMessage } from '../../core/errors.js';
import { checkHost, planChecks, verdictFor } from '../../core/engine/index.js';
import type { Finding } from '../../core/finding.js';
import type { HostSession } from '../../core/session.js';
import { openSession } from '../../core/sessions.js';
import { remediateHost, blockedKeys, type HostOutcome } from '../../remediation/index.js';
import { parseHostInputs, withDefaults, type CheckFailure, type HostInputs } from './inputs.js';
import { parseSettings, sessionOptions, type ProviderSettings } from './settings.js';
import { revertHost } from '../../remediation/index.js';
import { containsUnknown, reveal, revealProps, secret, UNKNOWN, type Json, type Props } from './wire.js';


/** Outputs the provider computes (everything else echoes the inputs). */
export const COMPUTED = ['applied', 'persisted', 'drift', 'verdict', 'verified', 'journal'] as const;

export type DiffKind = 'ADD' | 'DELETE' | 'UPDATE';
export interface DiffResult {
  changes: boolean;
  /** Always empty: no input change replaces a host's kernel state. */
  replaces: string[];
  diffs: string[];
  detailedDiff: Record<string, { kind: DiffKind; inputDiff: boolean }>;
}

/** A failed operation whose message is what the user sees under the resource in `pulumi up`. */
export class OperationError extends KdriftError {}

/** At most `limit` host operations at once (provider setting `concurrency`). */
class Gate {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(public limit: number) {}
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((r) => this.waiting.push(r));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

function inputsOrThrow(raw: Props): HostInputs {
  const parsed = parseHostInputs(revealProps(inputsOf(raw)));
  if (!parsed.ok) throw new OperationError(parsed.failures.map((f) => `${f.property}: ${f.reason}`).join('; '), 'invalid inputs');
  return parsed.value;
}

/** The input part of a property bag (outputs echo the inputs next to the computed values). */
function inputsOf(props: Props): Props {
  return Object.fromEntries(Object.entries(props).filter(([k]) => !(COMPUTED as readonly string[]).includes(k)));
}

/** Inputs as the state keeps them: the private key is always a secret, whether or not the program marked it. */
function stateInputs(raw: Props): Props {
  const out = withDefaults(inputsOf(raw));
  if (out.privateKey !== undefined && out.privateKey !== null) out.privateKey = secret(out.privateKey);
  return out;
}

/** Behaviour evidence, minus the per-connection samples: counts that explain the verdict. */
function evidenceSummary(f: Finding): Json {
  const { samples: _samples, ...rest } = f.evidence ?? {};
  return JSON.parse(JSON.stringify(rest)) as Json;
}

function behaviourOutputs(findings: readonly Finding[] | undefined): Json[] {
  return (findings ?? [])
    .filter((f) => f.layer === 'behaviour')
    .map((f) => ({ check: f.check, key: f.key, status: f.status, expected: f.expected, actual: f.actual, evidence: evidenceSummary(f) }));
}

function describeFinding(f: Finding): string {
  const what = f.layer === 'behaviour' ? `${f.check} ${f.key}` : `${f.key} (${f.layer})`;
  return `${what}: expected ${f.expected}, found ${f.actual ?? 'nothing'}${f.source ? ` at ${f.source}` : ''}${f.reason ? ` — ${f.reason}` : ''}`;
}

/** What `pulumi refresh` compares: runtime and persisted values of the declared keys, what drifts, the verdict. */
async function observe(session: HostSession, hi: HostInputs): Promise<Props> {
  const report = await checkHost(session, hi.host, hi.baseline, {});
  if (report.status === 'error') throw new OperationError(report.error ?? 'could not be checked', `host ${hi.host.name}`);
  const applied: Record<string, Json> = {};
  const persisted: Record<string, Json> = {};
  const drift: Record<string, Json> = {};
  for (const f of report.findings) {
    if (f.layer === 'runtime') applied[f.key] = f.actual;
    if (f.layer === 'persisted') persisted[f.key] = f.actual;
    if (f.status === 'drift') drift[f.key] = [...((drift[f.key] as string[] | undefined) ?? []), describeFinding(f)];
  }
  return { applied, persisted, drift, verdict: verdictFor(report.findings, planChecks(hi.host, hi.baseline)) };
}

/**
 * Reverts kdrift's fixes newest first until none is left in effect: the host as it was before kdrift first applied.
 * (revertHost restores one verified fix per call; a fix later than it built on its bytes, so order matters.)
 */
async function revertAll(session: HostSession, host: HostInputs['host'], opts: { journalDir?: string }): Promise<{ status: string; reasons: string[] }> {
  // Bounded: journals are kept per host (remediation prunes them), so more rounds than this means a revert that
  // does not mark its journal.
  for (let reverted = 0; reverted < 1000; reverted++) {
    const o = await revertHost(session, host, opts);
    if (o.status === 'reverted') continue;
    if (o.status === 'nothing-to-revert') return reverted > 0 ? { status: 'reverted', reasons: [] } : o;
    return o;
  }
  return { status: 'revert-failed', reasons: ['a revert left its journal in effect: stopped after 1000 rounds'] };
}

function failureMessage(o: HostOutcome): string {
  const lines = [`kdrift could not roll out host ${o.host}: ${o.status}`, ...o.reasons.map((r) => `  ${r}`)];
  const evidence = (o.findings ?? []).filter((f) => f.layer === 'behaviour' && f.status !== 'ok');
  if (evidence.length > 0) {
    lines.push('verification evidence:');
    for (const f of evidence) lines.push(`  ${f.check} ${f.key}: ${f.status}, ${f.actual ?? 'nothing observed'} (expected ${f.expected}) ${JSON.stringify(evidenceSummary(f))}`);
  }
  for (const b of blockedKeys(o)) lines.push(`  could NOT fix ${b.key}: ${b.reason}`);
  if (o.journal) lines.push(`journal: ${o.journal}`);
  if (o.status === 'unfinished' || o.status === 'rollback-failed') lines.push(`the host may be half-changed: run kdrift fix --undo --host ${o.host}`);
  return lines.join('\n');
}

export class HostKernelStateProvider {
  private settings: ProviderSettings;
  private readonly gate: Gate;

  constructor() {
    const parsed = parseSettings({});
    if (!parsed.ok) throw new Error('provider defaults do not parse'); // the schema's defaults: a bug if it happens
    this.settings = parsed.value;
    this.gate = new Gate(this.settings.concurrency);
  }

  /** CheckConfig: the settings' failures, property by property. */
  checkConfig(input: Record<string, unknown>): CheckFailure[] {
    const parsed = parseSettings(reveal(input as Json) as Record<string, unknown>);
    return parsed.ok ? [] : parsed.failures;
  }

  configure(input: Record<string, unknown>): void {
    const parsed = parseSettings(reveal(input as Json) as Record<string, unknown>);
    if (!parsed.ok) throw new OperationError(parsed.failures.map((f) => `${f.property}: ${f.reason}`).join('; '), 'provider kdrift configuration');
    this.settings = parsed.value;
    this.gate.limit = parsed.value.concurrency;
  }

  get currentSettings(): Readonly<ProviderSettings> {
    return this.settings;
  }

  check(news: Props): { inputs: Props; failures: CheckFailure[] } {
    const inputs = stateInputs(news);
    // A value not known yet (preview, taken from another resource's output) is checked when it is known: at create/update.
    if (containsUnknown(news as Json)) return { inputs, failures: [] };
    const parsed = parseHostInputs(revealProps(inputs));
    return { inputs, failures: parsed.ok ? [] : parsed.failures };
  }

  /**
   * olds are the last outputs (inputs + what the last create/update/read observed), news the checked inputs. A key
   * changes when its declaration changed or the last observation found it drifting (after `pulumi refresh`).
   */
  diff(olds: Props, news: Props): DiffResult {
    const detailed: DiffResult['detailedDiff'] = {};
    const oldIn = revealProps(withDefaults(inputsOf(olds)));
    const newIn = revealProps(withDefaults(inputsOf(news)));
    for (const key of new Set([...Object.keys(oldIn), ...Object.keys(newIn)])) {
      if (key === 'sysctls') continue;
      if (isDeepStrictEqual(oldIn[key], newIn[key])) continue;
      detailed[key] = { kind: oldIn[key] === undefined ? 'ADD' : newIn[key] === undefined ? 'DELETE' : 'UPDATE', inputDiff: true };
    }
    const oldSysctls = (oldIn.sysctls ?? {}) as Record<string, Json>;
    const newSysctls = (newIn.sysctls ?? {}) as Record<string, Json>;
    const drifted = new Set(Object.keys((olds.drift ?? {}) as Record<string, Json>));
    for (const key of new Set([...Object.keys(oldSysctls), ...Object.keys(newSysctls)])) {
      const path = `sysctls[${JSON.stringify(key)}]`;
      if (!(key in newSysctls)) detailed[path] = { kind: 'DELETE', inputDiff: true };
      else if (!(key in oldSysctls)) detailed[path] = { kind: 'ADD', inputDiff: true };
      else if (!isDeepStrictEqual(oldSysctls[key], newSysctls[key])) detailed[path] = { kind: 'UPDATE', inputDiff: true };
      else if (drifted.has(key)) detailed[path] = { kind: 'UPDATE', inputDiff: false };
    }
    const diffs = [...new Set(Object.keys(detailed).map((p) => p.split(/[.[]/)[0] as string))];
    return { changes: Object.keys(detailed).length > 0, replaces: [], diffs, detailedDiff: detailed };
  }

  async create(news: Props, preview: boolean): Promise<{ id: string; outs: Props }> {
    const inputs = stateInputs(news);
    const hostName = reveal(inputs.host ?? null);
    if (preview) return { id: '', outs: { ...inputs, ...Object.fromEntries(COMPUTED.map((k) => [k, UNKNOWN])) } };
    const outs = await this.apply(inputs);
    return { id: String(hostName), outs };
  }

  async update(news: Props, preview: boolean): Promise<{ outs: Props }> {
    const inputs = stateInputs(news);
    if (preview) return { outs: { ...inputs, ...Object.fromEntries(COMPUTED.map((k) => [k, UNKNOWN])) } };
    return { outs: await this.apply(inputs) };
  }

  /** Outputs of a refresh: the stored inputs with what the host holds now. The inputs are returned unchanged. */
  async read(id: string, props: Props, inputs: Props | undefined): Promise<{ id: string; props: Props; inputs: Props }> {
    const stored = stateInputs(inputs && Object.keys(inputs).length > 0 ? inputs : props);
    const hi = inputsOrThrow(stored);
    const observed = await this.withSession(hi, (s, h) => observe(s, h));
    return { id, props: { ...props, ...stored, ...observed }, inputs: stored };
  }

  async delete(props: Props): Promise<void> {
    const hi = inputsOrThrow(stateInputs(props));
    const outcome = await this.withSession(hi, (s, h) => revertAll(s, h.host, this.journalOptions()));
    if (outcome.status === 'reverted') return;
    // Nothing to restore is fine only when kdrift never changed the host; a recorded change whose journal is gone is not.
    const recorded = typeof props.journal === 'string' && props.journal !== '';
    if (outcome.status === 'nothing-to-revert' && !recorded) return;
    if (outcome.status === 'nothing-to-revert') {
      throw new OperationError(`kdrift applied ${String(props.journal)} but finds no kept journal to restore from (removed by hand?); the host keeps kdrift's changes`, `host ${hi.host.name}`);
    }
    throw new OperationError(`could not restore the state from before kdrift: ${outcome.status}\n  ${outcome.reasons.join('\n  ')}`, `host ${hi.host.name}`);
  }

  private async apply(inputs: Props): Promise<Props> {
    return this.withSession(inputsOrThrow(inputs), async (session, hi) => {
      const outcome = await remediateHost(session, hi.host, hi.baseline, { ...this.journalOptions(), reconnect: () => this.open(hi) });
      if ((outcome.status !== 'verified' && outcome.status !== 'nothing-to-do') || blockedKeys(outcome).length > 0) {
        throw new OperationError(failureMessage(outcome));
      }
      const observed = await observe(session, hi);
      return { ...inputs, ...observed, verified: behaviourOutputs(outcome.findings), journal: outcome.journal ?? '' };
    });
  }

  private journalOptions(): { journalDir?: string } {
    return this.settings.journalDir !== undefined ? { journalDir: this.settings.journalDir } : {};
  }

  /** The host entry with the provider's defaults (identityFile when no key is given, agentCommand). */
  private withDefaults(hi: HostInputs): HostInputs {
    const identityFile = hi.privateKey === undefined ? this.settings.identityFile : undefined;
    const agentCommand = hi.host.agentCommand ?? this.settings.agentCommand;
    return { ...hi, host: { ...hi.host, ...(identityFile ? { identityFile } : {}), ...(agentCommand ? { agentCommand } : {}) } };
  }

  private open(hi: HostInputs): Promise<HostSession> {
    return openSession(hi.host, sessionOptions(this.settings, hi.knownHosts, hi.privateKey));
  }

  private withSession<T>(raw: HostInputs, fn: (s: HostSession, hi: HostInputs) => Promise<T>): Promise<T> {
    const hi = this.withDefaults(raw);
    return this.gate.run(async () => {
      let session: HostSession;
      try {
        session = await this.open(hi);
      } catch (err) {
        throw new OperationError(errorMessage(err).replace(/^host [^:]+: /, ''), `host ${hi.host.name}`);
      }
      try {
        return await fn(session, hi);
      } finally {
        await session.close().catch(() => undefined);
      }
    });
  }
}

