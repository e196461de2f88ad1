/**
 * One gate run: compile the declared policy → child cgroup + guard → run the command (live or sandboxed) → collect the
 * sysctl.d family before and after → judge every recorded write and every persisted change → a GateResult.
 * The guard, the cgroup and the sandbox are released on every path; what survives a SIGKILLed gate is handled by
 * gate/cgroup.ts's reaper and by the kernel (see gate/runner.ts).
 */
import type { SysctlExpectation } from '../core/baseline.js';
import { KdriftError } from '../core/errors.js';
import { LocalSession } from '../core/session-local.js';
import { collectSysctlState } from '../checks/index.js';
import type { SysctlTree } from '../core/sysctl-rules/index.js';
import { SysctlGuard, cgroup2Root, type GuardEvent, type GuardMode } from '../probe/index.js';
import { compilePolicy } from './policy.js';
import { GateCgroup } from './cgroup.js';
import { judgePersisted, judgeWrite, monotonicToWall, type JudgedWrite, type PersistedChange } from './judge.js';
import { runLive, runSandboxed, type CommandStatus, type RunningCommand } from './runner.js';

export interface GateOptions {
  roles: string[];
  specs: ReadonlyMap<string, SysctlExpectation>;
  mode: GuardMode;
  sandbox: boolean;
  command: string[];
}

export interface GateResult {
  version: 1;
  roles: string[];
  mode: GuardMode;
  sandbox: boolean;
  command: string[];
  /** The command's own exit status (reported apart from the gate's verdict). */
  commandStatus: CommandStatus;
  writes: JudgedWrite[];
  persisted: PersistedChange[];
  /** Declared keys the kernel does not enforce (recorded and judged here only), with why. */
  notEnforced: { key: string; why: string }[];
  conflicts: number;
  /** Writes refused by the guard (EPERM). */
  refused: number;
  /** Records the kernel could not queue (the ring was full): their writes are unjudged. */
  droppedRecords: number;
}

async function sysctlFiles(root: string): Promise<SysctlTree> {
  const session = new LocalSession('localhost');
  try {
    return (await collectSysctlState(session, [], { root })).tree;
  } finally {
    await session.close();
  }
}

/** The gate creates a cgroup and loads a BPF program: say so first, before any input is read. */
export function assertRoot(): void {
  const uid = process.geteuid?.() ?? 0;
  if (uid !== 0) throw new KdriftError(`kdrift gate must run as root (it creates a cgroup and loads a BPF program); running as uid ${uid}`);
}

export async function runGate(opts: GateOptions): Promise<GateResult> {
  assertRoot();
  const policy = compilePolicy(opts.specs);
  const cgroupRoot = await cgroup2Root();
  const before = await sysctlFiles('');
  const events: GuardEvent[] = [];
  const cg = await GateCgroup.create(cgroupRoot);
  let guard: SysctlGuard | undefined;
  let running: RunningCommand | undefined;
  const stopOnSignal = () => void cg.remove().catch(() => undefined);
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);
  try {
    guard = await SysctlGuard.start({
      cgroupPath: cg.path,
      mode: opts.mode,
      sandbox: opts.sandbox,
      rules: policy.rules,
      onEvents: (es) => events.push(...es),
    });
    cg.startReaper([guard.linkFd()]);
    const g = guard;
    running = opts.sandbox ? await runSandboxed(cg.path, opts.command, (ns) => g.allowNetns(ns)) : runLive(cg.path, opts.command);
    const commandStatus = await running.status;
    // The sandbox's files are read while it still exists; the live host's after the command is done.
    const after = await sysctlFiles(opts.sandbox ? (running.root as string) : '');
    await running.release();
    const stats = guard.stats();
    guard.close();
    const nowMono = process.hrtime.bigint();
    const nowWall = Date.now();
    const writes = events.map((e) => judgeWrite(e, opts.specs, monotonicToWall(e.tsNs, nowMono, nowWall)));
    const persisted = judgePersisted(before, after, opts.specs);
    return {
      version: 1,
      roles: opts.roles,
      mode: opts.mode,
      sandbox: opts.sandbox,
      command: opts.command,
      commandStatus,
      writes,
      persisted,
      notEnforced: policy.notEnforced,
      conflicts: writes.filter((w) => w.conflict).length + persisted.filter((p) => p.conflict).length,
      refused: writes.filter((w) => w.refused).length,
      droppedRecords: stats.droppedRecords,
    };
  } finally {
    process.off('SIGINT', stopOnSignal);
    process.off('SIGTERM', stopOnSignal);
    await running?.release().catch(() => undefined);
    guard?.close();
    await cg.remove();
  }
}
