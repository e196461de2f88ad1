import { spawn } from 'node:child_process';
import { openSync, closeSync, readFileSync, writeFileSync, rmSync, readlinkSync, statSync, readdirSync } from 'node:fs';

/**
 * The lab's long-running processes (sshd, HAProxy, app servers, delay line) are detached: they outlive the `kdrift lab up`
 * that started them. Each has a pid file; a pid only counts as "ours" if the process is still alive AND its command line
 * still contains what we started (pids get reused).
 */
export function spawnDetached(argv: readonly string[], opts: { logFile: string; pidFile: string; env?: NodeJS.ProcessEnv }): number {
  const [cmd, ...args] = argv;
  if (cmd === undefined) throw new Error('spawnDetached: empty argv');
  const log = openSync(opts.logFile, 'a');
  try {
    const child = spawn(cmd, args, { detached: true, stdio: ['ignore', log, log], env: opts.env ?? process.env });
    if (child.pid === undefined) throw new Error(`cannot start ${cmd}`);
    child.unref();
    writeFileSync(opts.pidFile, `${child.pid}\n`);
    return child.pid;
  } finally {
    closeSync(log);
  }
}

export function readPid(pidFile: string): number | undefined {
  try {
    const n = Number(readFileSync(pidFile, 'utf8').trim());
    return Number.isInteger(n) && n > 1 ? n : undefined;
  } catch {
    return undefined;
  }
}

export function cmdline(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((s) => s.length > 0);
  } catch {
    return undefined;
  }
}

/** Alive, not a zombie, and its argv contains every marker (e.g. the config file path it was started with). */
export function isOurs(pid: number | undefined, marker: string | readonly string[]): pid is number {
  if (pid === undefined) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return false;
  } catch {
    return false;
  }
  const argv = cmdline(pid) ?? [];
  const markers = typeof marker === 'string' ? [marker] : marker;
  return markers.every((m) => argv.some((a) => a.includes(m)));
}

/** The process's network namespace inode, to tell which lab host it runs in. */
export function netnsInode(pid: number | 'self'): number | undefined {
  try {
    const link = readlinkSync(`/proc/${pid}/ns/net`);
    return Number(/\[(\d+)\]/.exec(link)?.[1]);
  } catch {
    return undefined;
  }
}

export function fileInode(path: string): number | undefined {
  try {
    return statSync(path).ino;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** SIGTERM, wait up to `graceMs`, then SIGKILL. Resolves when the process is gone. */
export async function stopPid(pid: number, graceMs = 2000): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const until = Date.now() + graceMs;
  while (Date.now() < until) {
    if (!alive(pid)) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return;
  }
  for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 20));
}

export function removePidFile(pidFile: string): void {
  rmSync(pidFile, { force: true });
}

/** Every process (but this one) whose argv matches: for sweeping up after a lab whose pid files are gone. */
export function findProcesses(match: (argv: string[]) => boolean): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    const argv = cmdline(pid);
    if (argv && argv.length > 0 && match(argv)) out.push(pid);
  }
  return out;
}
