import { existsSync } from 'node:fs';
import { KdriftError } from '../core/errors.js';
import { run, runOk } from './run.js';
import { netnsPath } from './paths.js';
import { LAN_DEV, type LabPlan, type LabHostLayout } from './plan.js';

/**
 * The lab's L2/L3 plumbing, made idempotent: read the current state with one `ip -j` per namespace, then issue only
 * the commands that are missing, as one `ip -batch` per namespace. A warm `lab up` therefore changes nothing.
 * Never touches ip_forward, NAT or default routes: hosts reach each other on the bridge's /24 and nothing else.
 */
interface IpLink {
  ifname: string;
  flags?: string[];
  master?: string;
  linkinfo?: { info_kind?: string };
  addr_info?: { family: string; local: string; prefixlen: number }[];
}

async function ipJson(netns: string | undefined, args: string[]): Promise<IpLink[]> {
  const argv = ['ip', ...(netns ? ['-n', netns] : []), '-j', '-d', ...args];
  const out = await runOk(argv);
  return out.trim() ? (JSON.parse(out) as IpLink[]) : [];
}

async function batch(netns: string | undefined, lines: string[]): Promise<void> {
  if (lines.length === 0) return;
  await runOk(['ip', ...(netns ? ['-n', netns] : []), '-batch', '-'], { input: lines.join('\n') + '\n' });
}

const isUp = (l: IpLink | undefined) => !!l?.flags?.includes('UP');
const hasAddr = (l: IpLink | undefined, addr: string) => !!l?.addr_info?.some((a) => a.family === 'inet' && a.local === addr);

export function netnsExists(netns: string): boolean {
  return existsSync(netnsPath(netns));
}

/** Creates missing namespaces; returns the hosts whose namespace is new (they need provisioning). */
export async function ensureNamespaces(plan: LabPlan): Promise<Set<string>> {
  const created = new Set<string>();
  for (const h of plan.hosts) {
    if (netnsExists(h.netns)) continue;
    await runOk(['ip', 'netns', 'add', h.netns]);
    created.add(h.name);
  }
  return created;
}

/** Another lab (or anything else) already on this /16 would make routes ambiguous: refuse before creating anything. */
export async function assertSubnetFree(plan: LabPlan): Promise<void> {
  const prefix = `10.${plan.subnet}.`;
  for (const l of await ipJson(undefined, ['addr', 'show'])) {
    if (l.ifname === plan.bridge) continue;
    const clash = l.addr_info?.find((a) => a.family === 'inet' && a.local.startsWith(prefix));
    if (clash) throw new KdriftError(`10.${plan.subnet}.0.0/16 is already in use on this machine (${clash.local} on ${l.ifname}): pick another --subnet`, '--subnet');
  }
}

/** Bridge in the root namespace with the lab's management address, and one veth per host enslaved to it. */
export async function ensureLan(plan: LabPlan): Promise<void> {
  const links = new Map((await ipJson(undefined, ['addr', 'show'])).map((l) => [l.ifname, l]));
  const root: string[] = [];
  const br = links.get(plan.bridge);
  if (!br) root.push(`link add ${plan.bridge} type bridge`);
  if (!hasAddr(br, plan.bridgeAddress)) root.push(`addr add ${plan.bridgeAddress}/${plan.lanPrefix} dev ${plan.bridge}`);
  if (!isUp(br)) root.push(`link set ${plan.bridge} up`);
  for (const h of plan.hosts) {
    const v = links.get(h.vethRoot);
    if (!v) root.push(`link add ${h.vethRoot} type veth peer name ${LAN_DEV} netns ${h.netns}`);
    if (v?.master !== plan.bridge) root.push(`link set ${h.vethRoot} master ${plan.bridge}`);
    if (!isUp(v)) root.push(`link set ${h.vethRoot} up`);
  }
  await batch(undefined, root);
  await Promise.all(plan.hosts.map((h) => ensureHostLan(plan, h)));
}

async function ensureHostLan(plan: LabPlan, h: LabHostLayout): Promise<void> {
  const links = new Map((await ipJson(h.netns, ['addr', 'show'])).map((l) => [l.ifname, l]));
  const cmds: string[] = [];
  if (!isUp(links.get('lo'))) cmds.push('link set lo up');
  const lan = links.get(LAN_DEV);
  if (!hasAddr(lan, h.address)) cmds.push(`addr add ${h.address}/${plan.lanPrefix} dev ${LAN_DEV}`);
  if (!isUp(lan)) cmds.push(`link set ${LAN_DEV} up`);
  await batch(h.netns, cmds);
}

export type WanKind = 'tun' | 'veth';

/**
 * The WAN devices: a persistent TUN `wan0` in client and in lb (the delay line carries packets between them), or for
 * rtt 0 a plain veth pair. Devices of the wrong kind (the lab was brought up with another --rtt) are replaced.
 * Returns true when devices were (re)created, so a running delay line must be restarted.
 */
export async function ensureWanDevices(plan: LabPlan, kind: WanKind): Promise<boolean> {
  const client = plan.hosts.find((h) => h.name === 'client') as LabHostLayout;
  const lb = plan.hosts.find((h) => h.name === 'lb') as LabHostLayout;
  const dev = plan.wan.dev;
  const state = async (h: LabHostLayout) => (await ipJson(h.netns, ['addr', 'show'])).find((l) => l.ifname === dev);
  let [c, l] = await Promise.all([state(client), state(lb)]);
  let changed = false;
  const wrong = (x: IpLink | undefined) => x !== undefined && x.linkinfo?.info_kind !== kind;
  if (wrong(c) || wrong(l) || (kind === 'veth' && (!c || !l))) {
    await removeWanDevices(plan);
    c = l = undefined;
  }
  if (kind === 'veth' && !c) {
    await runOk(['ip', 'link', 'add', 'name', dev, 'netns', client.netns, 'type', 'veth', 'peer', 'name', dev, 'netns', lb.netns]);
    changed = true;
  }
  for (const [h, link] of [
    [client, c],
    [lb, l],
  ] as const) {
    const cmds: string[] = [];
    if (kind === 'tun' && !link) {
      cmds.push(`tuntap add dev ${dev} mode tun`);
      changed = true;
    }
    if (!hasAddr(link, h.wanAddress as string)) cmds.push(`addr add ${h.wanAddress}/${plan.wan.prefix} dev ${dev}`);
    if (!isUp(link)) cmds.push(`link set ${dev} up`);
    await batch(h.netns, cmds);
  }
  return changed;
}

export async function removeWanDevices(plan: LabPlan): Promise<void> {
  for (const h of plan.hosts) {
    if (!h.wanAddress || !netnsExists(h.netns)) continue;
    await run(['ip', '-n', h.netns, 'link', 'del', plan.wan.dev]);
  }
}

export async function wanDeviceKind(plan: LabPlan): Promise<WanKind | undefined> {
  const lb = plan.hosts.find((h) => h.name === 'lb') as LabHostLayout;
  if (!netnsExists(lb.netns)) return undefined;
  const link = (await ipJson(lb.netns, ['link', 'show'])).find((l) => l.ifname === plan.wan.dev);
  const kind = link?.linkinfo?.info_kind;
  return kind === 'tun' || kind === 'veth' ? kind : undefined;
}

/** Everything network the lab made, found by name: works on a half-built lab. */
export async function removeNetwork(plan: LabPlan): Promise<void> {
  await removeWanDevices(plan);
  for (const h of plan.hosts) {
    await run(['ip', 'link', 'del', h.vethRoot]);
    if (netnsExists(h.netns)) await runOk(['ip', 'netns', 'del', h.netns]);
  }
  await run(['ip', 'link', 'del', plan.bridge]);
}

/** Pids of every process inside a namespace (sshd and its sessions, HAProxy, app servers, anything a test left). */
export async function netnsPids(netns: string): Promise<number[]> {
  if (!netnsExists(netns)) return [];
  const res = await run(['ip', 'netns', 'pids', netns]);
  return res.stdout
    .split(/\s+/)
    .filter((s) => /^\d+$/.test(s))
    .map(Number);
}
