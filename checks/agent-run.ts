/**
 * The controller side of the behaviour checks: runs the probe agent on a host through its HostSession and parses
 * what it prints. All behaviour specs of a host share ONE agent run: the engine calls each behaviour CheckKind's
 * collect() at the same time, and calls on the same session within one tick are batched into a single exec (one SSH
 * command, one observation window).
 * No BPF code is loaded here: this runs on the machine that checks, the agent runs on the host.
 */
import { HostError } from '../core/errors.js';
import type { HostSession } from '../core/session.js';
import type { CheckContext } from './kind.js';
import type { BehaviourBase } from './behaviour.schema.js';
import { formatZodError } from '../core/zod-error.js';
import { DEFAULT_OBSERVERS, OBSERVER_NAMES, probeObservationSchema, type ObserverName, type ProbeObservation } from '../probe/index.js';

/** What one agent run needs of a behaviour declaration: where to look, for how long. */
export type ObservedSpec = Pick<BehaviourBase, 'port' | 'window'> & Partial<Pick<BehaviourBase, 'direction'>>;

export interface CollectOptions {
  /**
   * Drive test connections to 127.0.0.1:<port> for each watched port once the probe is attached, so a quiet host
   * still shows a handshake (default true; KDRIFT_PROBE_DRIVE=0 turns it off). They test this host's own side only;
   * the kernel tags them (probe/agent.ts markOwn) and they are counted apart from real traffic.
   */
  drive?: boolean;
  /** Extra `--connect HOST:PORT` targets (e.g. a backend the host talks to). */
  connectTargets?: readonly string[];
  connectCount?: number;
  /** Slack added to the window for the exec timeout (agent start-up, SSH). */
  slackMs?: number;
  /** The observers the specs need (each behaviour kind names its own); default: the agent's defaults. */
  observe?: Iterable<ObserverName>;
}

/** argv of one agent run for the given specs. Exported for tests. */
export function agentArgv(specs: readonly ObservedSpec[], ctx: Pick<CheckContext, 'host'>, opts: CollectOptions = {}): string[] {
  const ports = [...new Set(specs.map((s) => s.port))].sort((a, b) => a - b);
  const windowMs = Math.max(...specs.map((s) => s.window));
  const argv = [...(ctx.host.agentCommand ?? ['kdrift']), 'probe', '--json', '--duration', `${Math.round(windowMs)}ms`];
  for (const p of ports) argv.push('--port', String(p));
  // Load only what the specs judge (window scaling alone skips the per-packet stall programs); the agent's defaults
  // need no flag.
  const wanted = new Set(opts.observe ?? DEFAULT_OBSERVERS);
  const observe = OBSERVER_NAMES.filter((n) => wanted.has(n));
  if (observe.join(',') !== DEFAULT_OBSERVERS.join(',')) argv.push('--observe', observe.join(','));
  const drive = opts.drive ?? process.env.KDRIFT_PROBE_DRIVE !== '0';
  // Test connections go to the host's own listening ports (incoming legs); an outgoing leg's port listens elsewhere.
  const listening = [...new Set(specs.filter((s) => s.direction !== 'out').map((s) => s.port))].sort((a, b) => a - b);
  const targets = [...(drive ? listening.map((p) => `127.0.0.1:${p}`) : []), ...(opts.connectTargets ?? [])];
  for (const t of targets) argv.push('--connect', t);
  if (targets.length > 0) argv.push('--connect-count', String(opts.connectCount ?? 3));
  return argv;
}

/** One agent run on the host for all the given behaviour specs. Throws HostError when the agent fails. */
export async function collectBehaviours(
  session: HostSession,
  specs: readonly ObservedSpec[],
  ctx: Pick<CheckContext, 'host'>,
  opts: CollectOptions = {},
): Promise<ProbeObservation> {
  if (specs.length === 0) throw new Error('collectBehaviours needs at least one spec');
  const argv = agentArgv(specs, ctx, opts);
  const windowMs = Math.max(...specs.map((s) => s.window));
  const res = await session.exec(argv, { timeoutMs: windowMs + (opts.slackMs ?? 30_000) });
  const stderr = res.stderr.toString('utf8').trim();
  if (res.code !== 0) {
    const why = stderr.replace(/^kdrift probe: /, '') || (res.signal ? `killed by ${res.signal}` : `exit ${res.code}`);
    const hint = res.code === 127 ? ` (is the agent installed? agentCommand is ${JSON.stringify(argv.slice(0, argv.indexOf('probe')))})` : '';
    throw new HostError(session.host, `probe agent failed: ${why}${hint}`);
  }
  return parseObservation(res.stdout.toString('utf8'), session.host);
}

export function parseObservation(text: string, host: string): ProbeObservation {
  let raw: unknown;
  try {
    raw = JSON.parse(text.trim().split('\n').pop() ?? '');
  } catch {
    throw new HostError(host, `probe agent printed no JSON observation: ${JSON.stringify(text.slice(0, 200))}`);
  }
  const parsed = probeObservationSchema.safeParse(raw);
  if (!parsed.success) throw new HostError(host, `probe agent's observation does not match this kdrift version: ${formatZodError(parsed.error)}`);
  return parsed.data;
}

/**
 * Batching: the first collect() on a session in a tick opens a batch; the others join it (their specs, and the
 * observer their kind needs) until the next setImmediate, then one agent run serves them all.
 */
interface Batch {
  specs: ObservedSpec[];
  observe: Set<ObserverName>;
  result: Promise<ProbeObservation>;
}
const batches = new WeakMap<HostSession, Batch>();

export function collectShared(session: HostSession, specs: Iterable<ObservedSpec>, observes: ObserverName, ctx: Pick<CheckContext, 'host'>): Promise<ProbeObservation> {
  let batch = batches.get(session);
  if (!batch) {
    const batchSpecs: ObservedSpec[] = [];
    const observe = new Set<ObserverName>();
    const result = new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      batches.delete(session);
      return collectBehaviours(session, batchSpecs, ctx, { observe });
    });
    batch = { specs: batchSpecs, observe, result };
    batches.set(session, batch);
  }
  batch.specs.push(...specs);
  batch.observe.add(observes);
  return batch.result;
}
