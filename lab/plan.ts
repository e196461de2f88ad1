import { KdriftError } from '../core/errors.js';

/**
 * The lab's layout, computed from its options alone (pure): namespace names, interface names, addresses.
 * Everything the lab creates is named from the lab name, so `down` can find it again even on a half-built lab.
 *
 *   root ns:  bridge <name>-br (10.N.0.1/24) ── veth <name>-lb | -a1 | -a2 | -cl ── lan0 in each host netns
 *   WAN:      TUN wan0 in <name>-client (10.N.1.1/30)  ⇄ delay line (user space) ⇄  TUN wan0 in <name>-lb (10.N.1.2/30)
 */
export const LAB_HOSTS = ['lb', 'app1', 'app2', 'client'] as const;
export type LabHostName = (typeof LAB_HOSTS)[number];

export const DEFAULT_LAB_NAME = 'kdlab';
export const DEFAULT_SUBNET = 77;
export const DEFAULT_RTT_MS = 50;
export const APP_PORT = 8080;
export const HTTP_PORT = 80;
export const LAN_DEV = 'lan0';
export const WAN_DEV = 'wan0';
/**
 * Scheduling priority of the lab's data path. The lab emulates dedicated hosts and a wire on a shared machine: the
 * delay line is the wire (its timing is the RTT), so it runs well ahead of background work; the HTTP path (HAProxy,
 * app servers, load generator) a little ahead. Without this a busy machine inflates latencies the lab reports.
 */
export const WIRE_NICE = ['nice', '-n', '-15'] as const;
export const DATA_PATH_NICE = ['nice', '-n', '-5'] as const;

/** A non-root account on every host, with the lab key: for "a user without the rights" scenarios. */
export const NON_ROOT_USER = { name: 'kdnobody', uid: 60001, gid: 65534 } as const;

const ROLES: Record<LabHostName, string[]> = {
  lb: ['load-balancer'],
  app1: ['app-node'],
  app2: ['app-node'],
  client: ['client'],
};
const HOST_OCTET: Record<LabHostName, number> = { lb: 10, app1: 11, app2: 12, client: 13 };
const VETH_SUFFIX: Record<LabHostName, string> = { lb: 'lb', app1: 'a1', app2: 'a2', client: 'cl' };

export interface LabHostLayout {
  name: LabHostName;
  netns: string;
  roles: string[];
  /** LAN address (no prefix length); sshd listens here. */
  address: string;
  /** Root-namespace end of the host's veth (enslaved to the bridge). */
  vethRoot: string;
  /** The host's WAN address, on lb and client only. */
  wanAddress?: string;
}

export interface LabPlan {
  name: string;
  subnet: number;
  bridge: string;
  bridgeAddress: string;
  lanPrefix: number;
  hosts: LabHostLayout[];
  wan: { prefix: number; clientAddress: string; lbAddress: string; dev: string };
}

/** Lab names end up in interface names (15 characters at most): short, lower-case. */
export function validateLabName(name: string): string {
  if (!/^[a-z][a-z0-9]{0,9}$/.test(name)) {
    throw new KdriftError(`lab name "${name}" must be 1-10 lower-case letters or digits, starting with a letter`, '--name');
  }
  return name;
}

export function validateSubnet(subnet: number): number {
  if (!Number.isInteger(subnet) || subnet < 1 || subnet > 254) throw new KdriftError(`subnet must be an integer 1-254 (the lab uses 10.N.0.0/16), got ${subnet}`, '--subnet');
  return subnet;
}

export function labPlan(name: string, subnet: number): LabPlan {
  validateLabName(name);
  validateSubnet(subnet);
  const net = `10.${subnet}`;
  const wan = { prefix: 30, clientAddress: `${net}.1.1`, lbAddress: `${net}.1.2`, dev: WAN_DEV };
  return {
    name,
    subnet,
    bridge: `${name}-br`,
    bridgeAddress: `${net}.0.1`,
    lanPrefix: 24,
    wan,
    hosts: LAB_HOSTS.map((h) => ({
      name: h,
      netns: `${name}-${h}`,
      roles: ROLES[h],
      address: `${net}.0.${HOST_OCTET[h]}`,
      vethRoot: `${name}-${VETH_SUFFIX[h]}`,
      ...(h === 'lb' ? { wanAddress: wan.lbAddress } : h === 'client' ? { wanAddress: wan.clientAddress } : {}),
    })),
  };
}

export function labHostLayout(plan: LabPlan, host: string): LabHostLayout {
  const h = plan.hosts.find((x) => x.name === host);
  if (!h) throw new KdriftError(`no lab host "${host}" (hosts: ${LAB_HOSTS.join(', ')})`);
  return h;
}

/** "50ms", "0.1s", "0", "50" (ms) → milliseconds. */
export function parseRtt(raw: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s)?\s*$/.exec(raw);
  if (!m) throw new KdriftError(`"${raw}" is not a round-trip time (e.g. 50ms, 0.1s, 0)`, '--rtt');
  const ms = Number(m[1]) * (m[2] === 's' ? 1000 : 1);
  if (ms > 10_000) throw new KdriftError(`${raw} is more than 10 s`, '--rtt');
  return ms;
}

/** "100mbit", "1gbit", "512kbit", "800000bit" → bytes per second (tc's units: bit = bits per second). */
export function parseBandwidth(raw: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(bit|kbit|mbit|gbit)\s*$/i.exec(raw);
  if (!m) throw new KdriftError(`"${raw}" is not a bandwidth (e.g. 100mbit, 512kbit, 1gbit)`, '--bandwidth');
  const unit = (m[2] as string).toLowerCase();
  const bits = Number(m[1]) * (unit === 'kbit' ? 1e3 : unit === 'mbit' ? 1e6 : unit === 'gbit' ? 1e9 : 1);
  const bytes = Math.floor(bits / 8);
  if (bytes < 1000) throw new KdriftError(`${raw} is below 8 kbit`, '--bandwidth');
  return bytes;
}
