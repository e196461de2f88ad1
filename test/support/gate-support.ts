/**
 * Helpers for the gate / watch e2e tests: our own network namespaces (prefix slotName('kdgt')-), a test baseline, the
 * CLI run from the sources, and the kernel's own view of what is left behind (cgroups, programs, mounts).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { lstatSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { slotName } from './slot.js';
import { REPO, ensureDist } from './dist.js';
import { findCgroup2Mount } from '../../probe/cgroup.js';

export const NS_PREFIX = `${slotName('kdgt')}-`;

export function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

const namespaces = new Set<string>();

export function makeNetns(suffix: string): string {
  const ns = `${NS_PREFIX}${suffix}`;
  if (sh('ip', ['netns', 'list']).split('\n').some((l) => l.split(' ')[0] === ns)) sh('ip', ['netns', 'del', ns]);
  sh('ip', ['netns', 'add', ns]);
  namespaces.add(ns);
  return ns;
}

export function deleteNetns(): void {
  for (const ns of namespaces) {
    try {
      sh('ip', ['netns', 'del', ns]);
    } catch {
      // already gone
    }
  }
  namespaces.clear();
}

export function netnsInode(ns: string): number {
  return statSync(`/run/netns/${ns}`).ino;
}

/** A sysctl value as this process (or the named netns) sees it. */
export function sysctlValue(key: string, ns?: string): string {
  const p = `/proc/sys/${key.replaceAll('.', '/')}`;
  if (!ns) return readFileSync(p, 'utf8').trim().split(/\s+/).join(' ');
  return sh('ip', ['netns', 'exec', ns, 'cat', p]).trim().split(/\s+/).join(' ');
}

/** A baseline with one role, `gated`, written to a temp dir; returns the file and a cleanup. */
export async function writeBaseline(sysctls: Record<string, unknown>): Promise<{ dir: string; file: string; done: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `${slotName('kdgt')}-`));
  const file = path.join(dir, 'baseline.json');
  await writeFile(file, JSON.stringify({ roles: { gated: { sysctls } } }));
  return { dir, file, done: () => rm(dir, { recursive: true, force: true }) };
}

export async function writeScript(dir: string, name: string, body: string): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, `#!/bin/sh\n${body}`, { mode: 0o755 });
  return file;
}

export interface CliRun {
  child: ChildProcess;
  done: Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>;
}

/** `kdrift ARGS`, optionally inside a netns and/or behind a wrapper (setpriv ...); in its own process group. */
export function startCli(args: string[], ns?: string, wrapper: string[] = []): CliRun {
  // The compiled CLI, as a user runs it (test/support/dist.ts rebuilds dist/ when a source is newer).
  ensureDist();
  const argv = [process.execPath, path.join(REPO, 'bin', 'kdrift.js'), ...args];
  const full = [...(ns ? ['ip', 'netns', 'exec', ns] : []), ...wrapper, ...argv];
  const child = spawn(full[0] as string, full.slice(1), { cwd: REPO, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  const done = new Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { child, done };
}

/** SIGKILLs the process group of every run (a test that failed midway leaves none behind). */
export function killRuns(runs: readonly CliRun[]): void {
  for (const r of runs) {
    try {
      process.kill(-(r.child.pid as number), 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** Our own lab (`kdrift lab up --rtt 0`) for the enclosing mocha suite: up before its tests, down after. */
export function useLab(name: string, subnet: number): void {
  before(async function () {
    this.timeout(120_000);
    const up = await startCli(['lab', 'up', '--name', name, '--subnet', String(subnet), '--rtt', '0']).done;
    if (up.code !== 0) throw new Error(`lab up ${name} failed: ${up.stderr}`);
  });
  after(async function () {
    this.timeout(60_000);
    await startCli(['lab', 'down', '--name', name]).done;
  });
}

export function cgroupRoot(): string {
  return findCgroup2Mount(readFileSync('/proc/self/mounts', 'utf8')) as string;
}

/** Gate cgroups of one gate process (kdrift-gate-<pid>-*). */
export function gateCgroups(gatePid: number): string[] {
  return readdirSync(cgroupRoot()).filter((n) => n.startsWith(`kdrift-gate-${gatePid}-`));
}

/** Loaded BPF programs named like the guard's (the kernel's view, through bpftool; it mounts nothing for `show`). */
export function guardPrograms(): { id: number; name: string }[] {
  const list = JSON.parse(sh('bpftool', ['prog', 'show', '--json'])) as { id: number; name?: string }[];
  return list.filter((p) => p.name === 'kd_sg_sysctl').map((p) => ({ id: p.id, name: p.name as string }));
}

/** Program ids attached to a cgroup (any type). */
export function cgroupAttachments(cgroup: string): number[] {
  const out = sh('bpftool', ['cgroup', 'show', cgroup, '--json']).trim();
  return out ? (JSON.parse(out) as { id: number }[]).map((a) => a.id) : [];
}

/** The reaper of a gate cgroup, when it holds a BPF link fd (its argv names the cgroup; fd 3 is the link). */
export async function findReaper(cgroupDir: string): Promise<number | undefined> {
  const { readlink } = await import('node:fs/promises');
  for (const d of await readdir('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const argv = (await readFile(`/proc/${d}/cmdline`, 'utf8').catch(() => '')).split('\0');
    if (!argv.includes('kdrift-gate-reaper') || !argv.includes(cgroupDir)) continue;
    if ((await readlink(`/proc/${d}/fd/3`).catch(() => '')) === 'anon_inode:bpf_link') return Number(d);
  }
  return undefined;
}

/** Every process whose mount namespace holds a mount named kdrift-gate-* (the sandbox's overlays and scratch). */
export async function processesWithGateMounts(): Promise<number[]> {
  const pids: number[] = [];
  for (const d of await readdir('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const text = await readFile(`/proc/${d}/mountinfo`, 'utf8').catch(() => '');
    if (/ kdrift-gate-(etc|usr|run|scratch) /.test(text)) pids.push(Number(d));
  }
  return pids;
}

/**
 * A digest of every regular file, symlink (its target text) and directory under `dir` (names, modes, contents), but
 * `skip`: /etc/netns belongs to the labs, which parallel test runs bring up and down while we look.
 */
export function treeDigest(dir: string, skip: readonly string[] = ['/etc/netns']): string {
  const h = createHash('sha256');
  const walk = (d: string) => {
    let entries: string[];
    try {
      entries = readdirSync(d).sort();
    } catch {
      return;
    }
    for (const name of entries) {
      const p = path.join(d, name);
      if (skip.includes(p)) continue;
      let st;
      try {
        st = lstatSync(p, { throwIfNoEntry: false });
      } catch {
        continue;
      }
      if (!st) continue;
      h.update(`${p}\0${st.mode}\0${st.size}\0`);
      if (st.isSymbolicLink()) h.update(readlinkSync(p));
      else if (st.isDirectory()) walk(p);
      else if (st.isFile()) {
        try {
          h.update(readFileSync(p));
        } catch {
          // unreadable (e.g. a socket): name and mode count
        }
      }
    }
  };
  walk(dir);
  return h.digest('hex');
}

export async function waitFor<T>(fn: () => T | Promise<T>, ok: (v: T) => boolean, timeoutMs: number, what: string): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
