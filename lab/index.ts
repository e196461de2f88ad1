/**
 * The embedded lab fleet: `lb`, `app1`, `app2`, `client` as network namespaces on this machine, joined by a bridge
 * in the root namespace, each sealed in its own mount namespace (own /etc, /var/lib, /var/log, /run) with its own
 * sshd; HAProxy on lb in front of an HTTP app server on app1/app2; and a WAN link (TUN + user-space delay line)
 * between client and lb so round-trip time is real.
 * lab/README.md describes it; this module is the API tests and the CLI use.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync, rmSync, chownSync, chmodSync, openSync, closeSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { KdriftError } from '../core/errors.js';
import { labPaths, distScript, netnsPath, type LabPaths } from './paths.js';
import {
  labPlan,
  labHostLayout,
  validateLabName,
  parseBandwidth,
  DEFAULT_LAB_NAME,
  DEFAULT_SUBNET,
  DEFAULT_RTT_MS,
  APP_PORT,
  HTTP_PORT,
  NON_ROOT_USER,
  WIRE_NICE,
  DATA_PATH_NICE,
  type LabPlan,
  type LabHostLayout,
  type LabHostName,
} from './plan.js';
import { run, type RunResult } from './run.js';
import { spawnDetached, readPid, isOurs, stopPid, removePidFile, findProcesses } from './procs.js';
import {
  ensureNamespaces,
  ensureLan,
  ensureWanDevices,
  removeNetwork,
  netnsPids,
  netnsExists,
  wanDeviceKind,
  assertSubnetFree,
} from './network.js';
import { buildHostRoot, ensureHostsTmpfs, releaseHostsTmpfs, writeHostsFile, writeIfChanged } from './host-root.js';
import { provisionHost } from './provision.js';
import { ensureKey, publicKey, writeSshdConfig, sshdArgv } from './sshd.js';
import { haproxyConfigText } from './haproxy.js';
import { writeClientFiles, removePulumiStack } from './client-files.js';
import { tunAddonPath } from './tun-native.js';
import { inHost, isSealed, sysMounts } from './host-mounts.js';

export { DEFAULT_LAB_NAME, LAB_HOSTS, type LabHostName } from './plan.js';

export interface LabUpOptions {
  name?: string;
  /** The lab uses 10.N.0.0/16. Default 77. */
  subnet?: number;
  /** WAN round-trip time client ⇄ lb in ms; 0 gives a plain veth link. Default 50 (or what the lab already has). */
  rttMs?: number;
  /** WAN bandwidth cap: "100mbit" (tc units) or bytes per second; 0 removes the cap. */
  bandwidth?: string | number;
}

export interface LabHostStatus {
  name: LabHostName;
  netns: string;
  roles: string[];
  address: string;
  wanAddress?: string;
  sshPort: number;
  sshdAlive: boolean;
}

export interface LabStatus {
  name: string;
  /** Some part of the lab exists (namespaces or state). */
  exists: boolean;
  /** Every namespace, sshd, service and the WAN link are up. */
  healthy: boolean;
  subnet: number;
  hosts: LabHostStatus[];
  sshConfig: string;
  knownHosts: string;
  identityFile: string;
  inventoryFile: string;
  /** Pulumi.lab.yaml, written for the default lab only. */
  pulumiStack?: string;
  nonRootUser: string;
  services: { haproxy: boolean; app1: boolean; app2: boolean };
  wan: {
    kind: 'delay-line' | 'plain' | 'missing';
    rttMs: number;
    /** Bandwidth cap in bytes per second; null when uncapped. */
    bandwidthBytesPerSec: number | null;
    clientAddress: string;
    lbAddress: string;
    /** The link carries packets: the delay line runs (or the plain veth exists). */
    alive: boolean;
    pid: number | null;
  };
}

interface LabState {
  name: string;
  subnet: number;
  rttMs: number;
  bandwidthBytesPerSec: number;
}

const REQUIRED_BINARIES: [string, string][] = [
  ['ip', 'iproute2'],
  ['sshd', 'openssh-server'],
  ['ssh-keygen', 'openssh-client'],
  ['haproxy', 'haproxy'],
  ['sysctl', 'procps'],
];

function findBinary(cmd: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin', '/usr/bin', '/bin'];
  return dirs.map((d) => `${d}/${cmd}`).find((p) => existsSync(p));
}

function preflight(): void {
  if (process.getuid?.() !== 0) throw new KdriftError('the lab needs root (network namespaces, veth, TUN, sshd on port 22): run as root');
  const missing = REQUIRED_BINARIES.filter(([cmd]) => !findBinary(cmd));
  if (missing.length > 0) {
    throw new KdriftError(
      `missing ${missing.map(([c, p]) => `${c} (Debian package ${p})`).join(', ')}; install them with \`bash scripts/setup.sh\` (lab up installs nothing itself)`,
    );
  }
}

function readState(paths: LabPaths): LabState | undefined {
  try {
    return JSON.parse(readFileSync(paths.stateFile, 'utf8')) as LabState;
  } catch {
    return undefined;
  }
}

/** One `lab up`/`lab down` per lab at a time; a lock left by a dead process is taken over. */
async function withLock<T>(paths: LabPaths, name: string, fn: () => Promise<T>): Promise<T> {
  const lock = `${paths.dir}.lock`;
  mkdirSync(`${paths.root}/.lab`, { recursive: true });
  for (let i = 0; ; i++) {
    try {
      const fd = openSync(lock, 'wx');
      writeFileSync(fd, `${process.pid}\n`);
      closeSync(fd);
      break;
    } catch {
      const holder = readPid(lock);
      if (holder === undefined || !isAlive(holder)) {
        rmSync(lock, { force: true });
        continue;
      }
      if (i > 600) throw new KdriftError(`lab ${name} is locked by process ${holder} (another lab up/down)`);
      await sleep(100);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** KDRIFT_LAB_TRACE=1 prints how long each step of lab up takes (stderr). */
function tracer(): (step: string) => void {
  if (!process.env.KDRIFT_LAB_TRACE) return () => undefined;
  let last = performance.now();
  return (step) => {
    const now = performance.now();
    process.stderr.write(`lab up: ${step} ${(now - last).toFixed(1)} ms\n`);
    last = now;
  };
}

/** Brings the lab to its declared shape; idempotent (a second call changes nothing) and mends dead processes. */
export async function labUp(opts: LabUpOptions = {}): Promise<LabStatus> {
  preflight();
  const name = validateLabName(opts.name ?? DEFAULT_LAB_NAME);
  const paths = labPaths(name);
  return withLock(paths, name, async () => {
    const previous = readState(paths);
    const subnet = opts.subnet ?? previous?.subnet ?? DEFAULT_SUBNET;
    if (previous && previous.subnet !== subnet && anyNamespace(labPlan(name, previous.subnet))) {
      throw new KdriftError(`lab ${name} is up with subnet ${previous.subnet}; run \`kdrift lab down --name ${name}\` before changing it`, '--subnet');
    }
    const rttMs = opts.rttMs ?? previous?.rttMs ?? DEFAULT_RTT_MS;
    if (!(rttMs >= 0 && rttMs <= 10_000)) throw new KdriftError(`rtt must be 0-10000 ms, got ${rttMs}`, '--rtt');
    const bandwidthBytesPerSec =
      opts.bandwidth === undefined
        ? (previous?.bandwidthBytesPerSec ?? 0)
        : typeof opts.bandwidth === 'number'
          ? opts.bandwidth
          : parseBandwidth(opts.bandwidth);
    const state: LabState = { name, subnet, rttMs, bandwidthBytesPerSec };
    const plan = labPlan(name, subnet);
    const useDelayLine = rttMs > 0 || bandwidthBytesPerSec > 0;
    // Fail before changing anything when a piece we will need is not built.
    const scripts = { app: distScript('app-server'), delay: useDelayLine ? distScript('delay-line') : '' };
    if (useDelayLine && !tunAddonPath()) {
      throw new KdriftError('the lab TUN helper is not built: run `npx cmake-js compile -d native --out native/build` (or bash scripts/setup.sh)');
    }

    await assertSubnetFree(plan);
    const trace = tracer();
    for (const d of [paths.dir, paths.runDir, paths.logDir]) {
      mkdirSync(d, { recursive: true, mode: 0o755 });
      chmodSync(d, 0o755);
    }
    await ensureHostsTmpfs(paths.hostsDir, name);
    writeIfChanged(paths.stateFile, JSON.stringify(state, null, 2) + '\n');

    // The lab's client key, authorized on every host for root and the non-root user.
    await ensureKey(paths.identityFile, `kdrift-lab-${name}`);
    writeIfChanged(paths.authorizedKeys, publicKey(paths.identityFile) + '\n');
    chmodSync(paths.authorizedKeys, 0o644);
    for (const h of plan.hosts) {
      const hp = paths.host(h.name);
      mkdirSync(hp.dir, { recursive: true, mode: 0o755 });
      chmodSync(hp.dir, 0o755);
      mkdirSync(hp.home, { recursive: true, mode: 0o700 });
      mkdirSync(hp.nonRootHome, { recursive: true, mode: 0o755 });
      chownSync(hp.nonRootHome, NON_ROOT_USER.uid, NON_ROOT_USER.gid);
    }

    trace('keys');
    // Namespaces, each host's own tree, LAN. A new namespace is a fresh host: a new tree (a copy of the machine's /etc
    // now), a new host key, provisioning again. An existing host keeps its tree: what was done inside it stays.
    const created = await ensureNamespaces(plan);
    removeLegacyEtcNetns(plan);
    await Promise.all(
      plan.hosts.map(async (h) => {
        const hp = paths.host(h.name);
        if (created.has(h.name) || !existsSync(hp.etc)) {
          // A running host without a tree (made by an older kdrift, or its state removed by hand) has processes that
          // see another tree, or none: they go, and the host starts again in its new tree.
          if (!created.has(h.name)) await Promise.all((await netnsPids(h.netns)).map((pid) => stopPid(pid, 1500)));
          rmSync(hp.provisioned, { force: true });
          await buildHostRoot(hp.root, plan, h, { home: hp.home, nonRootHome: hp.nonRootHome });
        } else {
          writeHostsFile(hp.etc, plan, h);
        }
        await ensureKey(hp.hostKey, `${name}-${h.name}`);
      }),
    );
    trace('host trees');
    // A new namespace whose predecessor was deleted while its processes ran: the root end of the old veth outlives it.
    await Promise.all(plan.hosts.filter((h) => created.has(h.name)).map((h) => run(['ip', 'link', 'del', h.vethRoot])));
    await ensureLan(plan);
    for (const h of plan.hosts) {
      const hp = paths.host(h.name);
      if (existsSync(hp.provisioned)) continue;
      await provisionHost(h, hp.root);
      writeFileSync(hp.provisioned, new Date().toISOString() + '\n');
    }

    trace('LAN, provisioning');
    // WAN: TUN devices + delay line, or a plain veth.
    const devicesChanged = await ensureWanDevices(plan, useDelayLine ? 'tun' : 'veth');
    await ensureDelayLine(plan, paths, useDelayLine ? { script: scripts.delay, rttMs, bandwidthBytesPerSec } : undefined, devicesChanged);

    trace('WAN');
    // Services: app servers, then HAProxy, then every sshd.
    const waits: Promise<void>[] = [];
    for (const h of plan.hosts.filter((x) => x.name === 'app1' || x.name === 'app2')) {
      const proc = `app-${h.name}`;
      const root = paths.host(h.name).root;
      if (!(await keepSealed(readPid(paths.pidFile(proc)), ['app-server.js', h.netns], root))) {
        // Services need no /sys mounts (only SSH sessions, where the probe runs, do).
        const argv = [...DATA_PATH_NICE, process.execPath, scripts.app, '--port', String(APP_PORT), '--name', h.netns];
        spawnDetached(inHost(h.netns, root, argv, []), { logFile: paths.logFile(proc), pidFile: paths.pidFile(proc) });
      }
      waits.push(waitForPort(h.address, APP_PORT, `app server on ${h.name}`, paths.logFile(proc)));
    }
    await Promise.all(waits);
    await ensureHaproxy(plan, paths);
    const sshWaits: Promise<void>[] = [];
    for (const h of plan.hosts) {
      const proc = `sshd-${h.name}`;
      let changed = writeSshdConfig(h, paths);
      const pid = readPid(paths.pidFile(proc));
      const alive = isOurs(pid, paths.host(h.name).sshdConfig);
      // An sshd started without the machine's /sys mounts or outside the host's tree (by an older kdrift, or before the
      // host's tree was rebuilt) is restarted like a changed config.
      if (alive && !changed && !(hasSysMounts(pid) && isSealed(pid, paths.host(h.name).root))) changed = true;
      if (alive && changed) await stopPid(pid);
      if (!alive || changed) spawnDetached(sshdArgv(h, paths), { logFile: paths.logFile(proc), pidFile: paths.pidFile(proc) });
      sshWaits.push(waitForPort(h.address, 22, `sshd on ${h.name}`, paths.logFile(proc)));
    }
    await Promise.all(sshWaits);

    trace('services');
    writeClientFiles(plan, paths, { writePulumiStack: name === DEFAULT_LAB_NAME });
    trace('client files');
    const status = await labStatus(name);
    trace('status');
    if (!status.healthy) {
      const deadSshd = status.hosts.filter((h) => !h.sshdAlive).map((h) => h.name);
      throw new KdriftError(`lab ${name} is not healthy after up: ${JSON.stringify(status.services)} wan alive=${status.wan.alive} sshd dead on: ${deadSshd.join(', ') || 'none'}`);
    }
    return status;
  });
}

/** The process's mount namespace has every /sys mount inHost() gives a host. */
function hasSysMounts(pid: number): boolean {
  try {
    const mounts = readFileSync(`/proc/${pid}/mounts`, 'utf8');
    return sysMounts().every(([type, , target]) => mounts.includes(` ${target} ${type} `));
  } catch {
    return false;
  }
}

/** True when `pid` is ours and sealed in `root`; one of ours that is not (started by an older kdrift) is stopped. */
async function keepSealed(pid: number | undefined, markers: readonly string[], root: string): Promise<boolean> {
  if (!isOurs(pid, markers)) return false;
  if (isSealed(pid, root)) return true;
  await stopPid(pid);
  return false;
}

/** kdrift before the sealed hosts gave each host /etc/netns/<netns> (ip netns exec binds it): a lab it left is cleared. */
function removeLegacyEtcNetns(plan: LabPlan): void {
  for (const h of plan.hosts) rmSync(path.join('/etc/netns', h.netns), { recursive: true, force: true });
}

function anyNamespace(plan: LabPlan): boolean {
  return plan.hosts.some((h) => netnsExists(h.netns));
}

function delayLineArgv(plan: LabPlan, paths: LabPaths, script: string, rttMs: number, bandwidthBytesPerSec: number): string[] {
  const end = (h: LabHostName) => `${netnsPath(labHostLayout(plan, h).netns)}:${plan.wan.dev}`;
  return [
    process.execPath,
    script,
    '--a',
    end('client'),
    '--b',
    end('lb'),
    '--delay-ms',
    String(rttMs / 2),
    ...(bandwidthBytesPerSec > 0 ? ['--rate', String(bandwidthBytesPerSec)] : []),
    '--gso',
    '--ready',
    paths.pidFile('delay-line.ready'),
  ];
}

/** Starts the delay line if it is dead, runs with other settings, or its devices were recreated. */
async function ensureDelayLine(
  plan: LabPlan,
  paths: LabPaths,
  want: { script: string; rttMs: number; bandwidthBytesPerSec: number } | undefined,
  devicesChanged: boolean,
): Promise<void> {
  const pidFile = paths.pidFile('delay-line');
  const pid = readPid(pidFile);
  const running = isOurs(pid, ['delay-line.js', netnsPath(labHostLayout(plan, 'client').netns)]);
  const argv = want ? delayLineArgv(plan, paths, want.script, want.rttMs, want.bandwidthBytesPerSec) : undefined;
  const same = running && argv !== undefined && sameArgv(pid, argv);
  if (running && (!same || devicesChanged)) await stopPid(pid);
  if (!argv) {
    removePidFile(pidFile);
    return;
  }
  if (same && !devicesChanged) return;
  const ready = paths.pidFile('delay-line.ready');
  rmSync(ready, { force: true });
  // Several packets in flight per direction each take a thread-pool thread only while a read is pending (one per fd);
  // a larger pool keeps DNS/fs work of nothing else from starving it.
  const started = spawnDetached([...WIRE_NICE, ...argv], { logFile: paths.logFile('delay-line'), pidFile, env: { ...process.env, UV_THREADPOOL_SIZE: '4' } });
  // Generous: on a busy machine a node process can take seconds to start.
  for (const until = Date.now() + 20_000; Date.now() < until; ) {
    if (existsSync(ready)) return;
    if (!isAlive(started)) break;
    await sleep(20);
  }
  throw new KdriftError(`the WAN delay line did not start; see ${paths.logFile('delay-line')}: ${tail(paths.logFile('delay-line'))}`);
}

function sameArgv(pid: number, argv: string[]): boolean {
  try {
    const got = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((s) => s.length > 0);
    return got.length === argv.length && got.every((a, i) => a === argv[i]);
  } catch {
    return false;
  }
}

async function ensureHaproxy(plan: LabPlan, paths: LabPaths): Promise<void> {
  const lb = labHostLayout(plan, 'lb');
  const { root, haproxyConfig: cfg } = paths.host('lb');
  const pidFile = paths.pidFile('haproxy');
  mkdirSync(path.dirname(cfg), { recursive: true, mode: 0o755 });
  const changed = writeIfChanged(cfg, haproxyConfigText(plan, pidFile));
  const pid = readPid(pidFile);
  const alive = await keepSealed(pid, ['haproxy', cfg], root);
  if (alive && changed) await stopPid(pid as number);
  if (!alive || changed) {
    const res = await run(inHost(lb.netns, root, [...DATA_PATH_NICE, '/usr/sbin/haproxy', '-q', '-D', '-f', cfg, '-p', pidFile], []));
    if (res.code !== 0) throw new KdriftError(`HAProxy on lb did not start: ${res.stderr.trim() || `exit ${res.code}`}`);
  }
  await waitForPort(lb.address, HTTP_PORT, 'HAProxy on lb', undefined);
}

/** Waits until address:port accepts a TCP connection (from the root namespace, over the bridge). */
async function waitForPort(address: string, port: number, what: string, logFile: string | undefined, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: address, port, timeout: 500 });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
      s.once('timeout', () => {
        s.destroy();
        resolve(false);
      });
    });
    if (ok) return;
    if (Date.now() > until) throw new KdriftError(`${what} is not accepting connections on ${address}:${port}${logFile ? `; see ${logFile}: ${tail(logFile)}` : ''}`);
    await sleep(25);
  }
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-3).join(' | ');
  } catch {
    return '(no log)';
  }
}

export async function labStatus(name: string = DEFAULT_LAB_NAME): Promise<LabStatus> {
  validateLabName(name);
  const paths = labPaths(name);
  const state = readState(paths);
  const plan = labPlan(name, state?.subnet ?? DEFAULT_SUBNET);
  const hosts: LabHostStatus[] = plan.hosts.map((h) => ({
    name: h.name,
    netns: h.netns,
    roles: h.roles,
    address: h.address,
    ...(h.wanAddress ? { wanAddress: h.wanAddress } : {}),
    sshPort: 22,
    sshdAlive: netnsExists(h.netns) && isOurs(readPid(paths.pidFile(`sshd-${h.name}`)), paths.host(h.name).sshdConfig),
  }));
  const services = {
    haproxy: isOurs(readPid(paths.pidFile('haproxy')), ['haproxy', paths.host('lb').haproxyConfig]),
    app1: isOurs(readPid(paths.pidFile('app-app1')), ['app-server.js', labHostLayout(plan, 'app1').netns]),
    app2: isOurs(readPid(paths.pidFile('app-app2')), ['app-server.js', labHostLayout(plan, 'app2').netns]),
  };
  const kind = await wanDeviceKind(plan);
  const dlPid = readPid(paths.pidFile('delay-line'));
  const dlAlive = isOurs(dlPid, ['delay-line.js', netnsPath(labHostLayout(plan, 'client').netns)]);
  const wan: LabStatus['wan'] = {
    kind: kind === 'tun' ? 'delay-line' : kind === 'veth' ? 'plain' : 'missing',
    rttMs: state?.rttMs ?? 0,
    bandwidthBytesPerSec: state?.bandwidthBytesPerSec ? state.bandwidthBytesPerSec : null,
    clientAddress: plan.wan.clientAddress,
    lbAddress: plan.wan.lbAddress,
    alive: kind === 'tun' ? dlAlive : kind === 'veth',
    pid: kind === 'tun' && dlAlive ? (dlPid as number) : null,
  };
  const exists = anyNamespace(plan) || state !== undefined;
  const healthy =
    plan.hosts.every((h) => netnsExists(h.netns)) && hosts.every((h) => h.sshdAlive) && services.haproxy && services.app1 && services.app2 && wan.alive;
  return {
    name,
    exists,
    healthy,
    subnet: plan.subnet,
    hosts,
    sshConfig: paths.sshConfig,
    knownHosts: paths.knownHosts,
    identityFile: paths.identityFile,
    inventoryFile: paths.inventoryFile,
    ...(name === DEFAULT_LAB_NAME ? { pulumiStack: paths.pulumiStack } : {}),
    nonRootUser: NON_ROOT_USER.name,
    services,
    wan,
  };
}

/**
 * Removes everything the lab made, found by name (works on a half-built lab): processes (every process inside the
 * lab's namespaces, and the delay line; the hosts' mount namespaces die with them), TUN/veth devices, bridge,
 * namespaces, the state dir (with the hosts' trees) and, for the default lab, Pulumi.lab.yaml.
 */
export async function labDown(name: string = DEFAULT_LAB_NAME): Promise<void> {
  preflight();
  validateLabName(name);
  const paths = labPaths(name);
  await withLock(paths, name, async () => {
    const state = readState(paths);
    const plan = labPlan(name, state?.subnet ?? DEFAULT_SUBNET);
    const dl = readPid(paths.pidFile('delay-line'));
    if (isOurs(dl, ['delay-line.js', netnsPath(labHostLayout(plan, 'client').netns)])) await stopPid(dl, 1000);
    // Processes recorded in pid files (they may have been moved out of, or outlived, a namespace) ...
    const recorded: number[] = [];
    for (const h of plan.hosts) {
      const sshd = readPid(paths.pidFile(`sshd-${h.name}`));
      if (isOurs(sshd, paths.host(h.name).sshdConfig)) recorded.push(sshd);
    }
    const hap = readPid(paths.pidFile('haproxy'));
    if (isOurs(hap, ['haproxy', paths.host('lb').haproxyConfig])) recorded.push(hap);
    for (const app of ['app1', 'app2'] as const) {
      const pid = readPid(paths.pidFile(`app-${app}`));
      if (isOurs(pid, ['app-server.js', labHostLayout(plan, app).netns])) recorded.push(pid);
    }
    // ... anything else still running inside the lab's namespaces (SSH sessions, probes a test left) ...
    const inside = (await Promise.all(plan.hosts.map((h) => netnsPids(h.netns)))).flat();
    // ... and, for a half-built or half-removed lab (state dir or a namespace gone), the lab's processes by argv.
    const clientEnd = `${netnsPath(`${name}-client`)}:`;
    const strays = findProcesses((argv) => {
      const all = argv.join(' ');
      return (
        all.includes(`${paths.dir}/`) ||
        (all.includes('delay-line.js') && all.includes(clientEnd)) ||
        (all.includes('app-server.js') && argv.some((a) => a === `${name}-app1` || a === `${name}-app2`))
      );
    });
    const all = [...new Set([...recorded, ...inside, ...strays])].filter((p) => p !== process.pid);
    await Promise.all(all.map((p) => stopPid(p, 1500)));
    await removeNetwork(plan);
    removeLegacyEtcNetns(plan);
    await releaseHostsTmpfs(paths.hostsDir);
    if (name === DEFAULT_LAB_NAME) removePulumiStack(paths);
    rmSync(paths.dir, { recursive: true, force: true });
  });
}

export interface LabExecOptions {
  input?: string;
  timeoutMs?: number;
}

/**
 * Runs argv inside a lab host: its network namespace AND a mount namespace with the host's own /etc, /var/lib, /var/log,
 * /run and the machine's cgroup mounts, as an SSH session on that host sees it. argv is never turned into a shell string.
 */
export async function labExec(name: string, host: string, argv: readonly string[], opts: LabExecOptions = {}): Promise<RunResult> {
  if (argv.length === 0) throw new KdriftError('labExec: empty command');
  return run([...labHostPrefix(name, host), ...argv], opts);
}

/**
 * What labExec puts before a command to run it inside the lab host, for a caller that spawns the process itself.
 * (`ip netns exec NS` alone gives the host's network namespace with the MACHINE's /etc: never the way into a lab host.)
 */
export function labHostPrefix(name: string, host: string): string[] {
  validateLabName(name);
  const state = readState(labPaths(name));
  const h: LabHostLayout = labHostLayout(labPlan(name, state?.subnet ?? DEFAULT_SUBNET), host);
  if (!netnsExists(h.netns)) throw new KdriftError(`lab ${name} has no host ${host} (namespace ${h.netns} does not exist): run kdrift lab up`);
  // Join the running sshd's namespaces when we can (exactly an SSH session's view, and as cheap as ip netns exec);
  // else make the same view afresh (remounting the machine's /sys mounts costs ~0.1 s).
  const paths = labPaths(name);
  const sshd = readPid(paths.pidFile(`sshd-${h.name}`));
  if (isOurs(sshd, paths.host(h.name).sshdConfig)) return ['nsenter', '-t', String(sshd), '-m', '-n', `--wd=${process.cwd()}`, '--'];
  return inHost(h.netns, paths.host(h.name).root, []);
}

/** labExec that throws unless the command exits 0; returns stdout. */
export async function labExecOk(name: string, host: string, argv: readonly string[], opts: LabExecOptions = {}): Promise<string> {
  const res = await labExec(name, host, argv, opts);
  if (res.code !== 0) throw new KdriftError(`\`${argv.join(' ')}\` on lab host ${host} failed (exit ${res.code}): ${res.stderr.trim()}`);
  return res.stdout;
}
