/**
 * Shared by test/e2e/fix*.test.ts: the `kdfx` lab (subnet 76), byte-exact snapshots of a lab host's sysctl state taken
 * from outside the host (so the code under test is not also the witness), drift injection, and the kdrift CLI run as a
 * child process.
 */
import { spawn } from 'node:child_process';
import { lstatSync, readdirSync, readFileSync, readlinkSync, rmSync, existsSync, writeFileSync, chmodSync, chownSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { labUp, labExec, LAB_HOSTS, type LabStatus, type LabHostName } from '../../lab/index.js';
import { labPaths } from '../../lab/paths.js';
import { loadInventory, type HostEntry } from '../../core/inventory.js';
import type { HostSession } from '../../core/session.js';
import { slotName, slotSubnet } from './slot.js';
import { buildDist, ensureDist, REPO } from './dist.js';

export const LAB = slotName('kdfx');
export const SUBNET = slotSubnet(76);
export const WS = 'net.ipv4.tcp_window_scaling';
export { REPO };
/** kdrift's journal directory on a host, relative to its root: on a lab host, in the host's own /var/lib. */
const JOURNAL_DIR = 'var/lib/kdrift/journal';

/** Brings up the kdfx lab, or another lab (name, subnet) a test file owns. */
export async function upLab(lab = LAB, subnet = SUBNET): Promise<LabStatus> {
  // The probe agent runs on the hosts from dist/ while the checks that call it run from the sources here: they must agree.
  ensureDist();
  // lab up is idempotent; retry once on a transient failure of a helper process. The lab's helpers (and the probe agent
  // on the hosts) run from dist/: when it is older than the sources, rebuild it first (tsc emits even when some other
  // file of the tree has a type error).
  try {
    return await labUp({ name: lab, subnet });
  } catch (err) {
    if (/older than|is missing: build/.test((err as Error).message)) buildDist();
    return labUp({ name: lab, subnet });
  }
}

export function netnsName(host: string, lab = LAB): string {
  return `${lab}-${host}`;
}

/** The host's own tree (bound at /etc, /var/lib, /run inside it) as seen from the machine. */
function hostRoot(host: string, lab = LAB): string {
  return labPaths(lab).host(host as LabHostName).root;
}

/** The host's /etc as seen from the machine (the lab binds this directory at /etc inside the host). */
export function etcDir(host: string, lab = LAB): string {
  return path.join(hostRoot(host, lab), 'etc');
}

export type FileShot = { link: string } | { b64: string; mode: number; uid: number; gid: number };
export interface HostShot {
  runtime: Record<string, string>;
  files: Record<string, FileShot>;
}

function shotFile(p: string): FileShot {
  const st = lstatSync(p);
  if (st.isSymbolicLink()) return { link: readlinkSync(p) };
  return { b64: readFileSync(p).toString('base64'), mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
}

/** Every file of the host's sysctl.d + sysctl.conf (bytes, mode, owner, symlink targets) and the runtime values of `keys`. */
export async function hostShot(host: string, keys: readonly string[], lab = LAB): Promise<HostShot> {
  const dir = etcDir(host, lab);
  const files: Record<string, FileShot> = {};
  for (const name of readdirSync(path.join(dir, 'sysctl.d')).sort()) files[`sysctl.d/${name}`] = shotFile(path.join(dir, 'sysctl.d', name));
  files['sysctl.conf'] = shotFile(path.join(dir, 'sysctl.conf'));
  const procPaths = keys.map((k) => `/proc/sys/${k.replace(/\./g, '/')}`);
  const res = await labExec(lab, host, ['sh', '-c', 'for p; do printf "%s=" "$p"; cat "$p"; done', 'sh', ...procPaths]);
  if (res.code !== 0) throw new Error(`reading runtime values on ${host}: ${res.stderr}`);
  const runtime: Record<string, string> = {};
  for (const line of res.stdout.split('\n').filter(Boolean)) {
    const eq = line.indexOf('=');
    runtime[line.slice('/proc/sys/'.length, eq).replace(/\//g, '.')] = line.slice(eq + 1).replace(/\s+/g, ' ').trim();
  }
  return { runtime, files };
}

/** Puts a host back to a snapshot: files rewritten / removed, runtime values written back. */
export async function restoreShot(host: string, shot: HostShot, lab = LAB): Promise<void> {
  const dir = etcDir(host, lab);
  for (const name of readdirSync(path.join(dir, 'sysctl.d'))) {
    if (!(`sysctl.d/${name}` in shot.files)) rmSync(path.join(dir, 'sysctl.d', name), { force: true });
  }
  for (const [rel, f] of Object.entries(shot.files)) {
    const p = path.join(dir, rel);
    if ('link' in f) {
      if (!existsSync(p) || !lstatSync(p).isSymbolicLink() || readlinkSync(p) !== f.link) {
        rmSync(p, { force: true });
        symlinkSync(f.link, p);
      }
      continue;
    }
    // In place (same inode), as kdrift's own rollback does.
    writeFileSync(p, Buffer.from(f.b64, 'base64'));
    chmodSync(p, f.mode);
    chownSync(p, f.uid, f.gid);
  }
  const args = Object.entries(shot.runtime).map(([k, v]) => `${k}=${v}`);
  if (args.length) {
    const res = await labExec(lab, host, ['sysctl', '-q', '-w', ...args]);
    if (res.code !== 0) throw new Error(`restoring runtime values on ${host}: ${res.stderr}`);
  }
}

/** The outage: tcp_window_scaling=0 at runtime and in a hardening file applied after everything else. */
export const HARDENING_FILE = '99-hardening.conf';
export const HARDENING_TEXT = `# written by harden.sh (CIS 3.3.x)\nnet.ipv4.tcp_syncookies = 1\n${WS}=0\n`;

export async function injectOutage(host = 'lb', lab = LAB): Promise<void> {
  writeFileSync(path.join(etcDir(host, lab), 'sysctl.d', HARDENING_FILE), HARDENING_TEXT, { mode: 0o644 });
  const res = await labExec(lab, host, ['sysctl', '-q', '-w', `${WS}=0`]);
  if (res.code !== 0) throw new Error(`injecting drift: ${res.stderr}`);
}

/** Entries of `rel` in every lab host's tree whose name passes `keep`, as `host/name`. */
function acrossHosts(rel: string, keep: (name: string) => boolean): string[] {
  return LAB_HOSTS.flatMap((h) => {
    try {
      return readdirSync(path.join(hostRoot(h), rel)).filter(keep).map((f) => `${h}/${f}`);
    } catch {
      return [];
    }
  }).sort();
}

/** Journals on the lab's hosts, as `host/file`. */
export function journals(): string[] {
  return acrossHosts(JOURNAL_DIR, (f) => f.endsWith('.json'));
}

function journalPath(name: string): string {
  const [host, file] = name.split('/') as [string, string];
  return path.join(hostRoot(host), JOURNAL_DIR, file);
}

export function readJournalFile(name: string): { status: string; host: string; events: { status: string; message: string }[] } {
  return JSON.parse(readFileSync(journalPath(name), 'utf8'));
}

export function removeJournals(keep: readonly string[]): void {
  for (const f of journals()) if (!keep.includes(f)) rmSync(journalPath(f), { force: true });
}

/** Locks kdrift fix left in the hosts' /run/lock (there must be none after a run), as `host/name`. */
export function leftLocks(): string[] {
  return acrossHosts('run/lock', (f) => f.startsWith('kdrift-fix-'));
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs `kdrift <args>` from the TypeScript sources (what the tests check is the current code, not a stale dist/). */
export function runKdrift(args: readonly string[], opts: { timeoutMs?: number } = {}): Promise<CliResult> {
  const code = 'const { main } = await import("./cli/main.ts"); process.exitCode = await main(process.argv.slice(1));';
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code, ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => {
      try {
        process.kill(-(child.pid as number), 'SIGKILL');
      } catch {
        // already gone
      }
    }, opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (c) => {
      clearTimeout(timer);
      resolve({ code: c, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), ms: Date.now() - t0 });
    });
  });
}

export async function labHost(status: LabStatus, name: string): Promise<HostEntry> {
  const inv = await loadInventory({ inventory: status.inventoryFile });
  const h = inv.hosts.find((x) => x.name === name);
  if (!h) throw new Error(`no host ${name} in ${status.inventoryFile}`);
  return h;
}

export async function labInventory(status: LabStatus) {
  return loadInventory({ inventory: status.inventoryFile });
}

/** The nearest sshd ancestor of the command: the per-connection sshd process. */
const SSHD_OF_THIS_CONNECTION = `p=$PPID
while [ "$p" -gt 1 ]; do
  case "$(cat /proc/$p/comm)" in sshd*) echo "$p"; exit 0;; esac
  p=$(cut -d' ' -f4 /proc/$p/stat)
done
exit 1`;

/** Kills the sshd process serving this session's connection: the connection drops mid-run. */
export async function killConnection(session: HostSession): Promise<void> {
  const res = await session.exec(['sh', '-c', SSHD_OF_THIS_CONNECTION]);
  const pid = Number(res.stdout.toString('utf8').trim());
  if (!(pid > 1)) throw new Error(`no sshd process found for this session: ${res.stdout.toString('utf8')}${res.stderr.toString('utf8')}`);
  process.kill(pid, 'SIGKILL');
}
