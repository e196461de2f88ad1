/**
 * Which sysctls a fix may change on a host that is a network namespace of a shared kernel (a container, a lab host).
 * Only net.* is per network namespace; kernel.*, vm.*, fs.*, … are the whole machine's, and so are some net.* keys.
 * Writing one of those "on the host" changes it for every namespace on the machine, so fix refuses them there (a
 * blocked key: listed with the reason, exit 2) and says to fix them on the machine itself.
 *
 * Rule: a key is per-netns when it is net.* and not in GLOBAL_NET_KEYS. The list was derived on Linux 6.18 (this
 * machine's kernel) from the kernel itself, without writing anything:
 *  - keys /proc/sys shows in the initial netns but not in a fresh `ip netns add` namespace (the kernel registers
 *    them for init_net only: net_core_table, ipv4_table, the route gc table, …), and
 *  - keys writable in the initial netns but read-only in a fresh one (the kernel shows init_net's value there:
 *    net.core.{r,w}mem_{default,max}, the conntrack table size, the allowed congestion controls).
 * (`find /proc/sys/net -type f` and `-perm -u=w` in both, compared with comm; per-device conf/neigh entries left out.)
 *
 * Detection: see detectNetns (init-only sysctl tables absent, PID 1's netns different, or the inventory's `netns:`).
 */
import type { HostEntry } from '../core/inventory.js';
import type { HostSession } from '../core/session.js';
import { HostError } from '../core/errors.js';

export const GLOBAL_NET_KEYS: ReadonlySet<string> = new Set([
  // registered for the initial netns only
  'net.core.bpf_jit_enable', 'net.core.bpf_jit_harden', 'net.core.bpf_jit_kallsyms', 'net.core.bpf_jit_limit',
  'net.core.busy_poll', 'net.core.busy_read', 'net.core.default_qdisc', 'net.core.dev_weight',
  'net.core.dev_weight_rx_bias', 'net.core.dev_weight_tx_bias', 'net.core.devconf_inherit_init_net',
  'net.core.fb_tunnels_only_for_init_net', 'net.core.flow_limit_cpu_bitmap', 'net.core.flow_limit_table_len',
  'net.core.gro_normal_batch', 'net.core.high_order_alloc_disable', 'net.core.max_skb_frags', 'net.core.mem_pcpu_rsv',
  'net.core.message_burst', 'net.core.message_cost', 'net.core.netdev_budget', 'net.core.netdev_budget_usecs',
  'net.core.netdev_max_backlog', 'net.core.netdev_rss_key', 'net.core.netdev_tstamp_prequeue',
  'net.core.netdev_unregister_timeout_secs', 'net.core.rps_sock_flow_entries', 'net.core.skb_defer_max',
  'net.core.warnings', 'net.ipv4.cipso_cache_bucket_size', 'net.ipv4.cipso_cache_enable', 'net.ipv4.cipso_rbm_optfmt',
  'net.ipv4.cipso_rbm_strictvalid', 'net.ipv4.fib_sync_mem', 'net.ipv4.inet_peer_maxttl', 'net.ipv4.inet_peer_minttl',
  'net.ipv4.inet_peer_threshold', 'net.ipv4.ipfrag_secret_interval', 'net.ipv4.route.error_burst',
  'net.ipv4.route.error_cost', 'net.ipv4.route.gc_elasticity', 'net.ipv4.route.gc_interval',
  'net.ipv4.route.gc_min_interval', 'net.ipv4.route.gc_min_interval_ms', 'net.ipv4.route.gc_thresh',
  'net.ipv4.route.gc_timeout', 'net.ipv4.route.max_size', 'net.ipv4.route.redirect_load',
  'net.ipv4.route.redirect_number', 'net.ipv4.route.redirect_silence', 'net.ipv4.tcp_available_ulp',
  'net.ipv4.tcp_low_latency', 'net.ipv4.tcp_max_orphans', 'net.ipv4.tcp_mem', 'net.ipv4.udp_mem',
  'net.ipv6.calipso_cache_bucket_size', 'net.ipv6.calipso_cache_enable', 'net.ipv6.ip6frag_secret_interval',
  'net.ipv6.mld_max_msf', 'net.ipv6.mld_qrv', 'net.netfilter.nf_log_all_netns', 'net.nf_conntrack_max',
  // shown read-only in other namespaces (init_net's value)
  'net.core.rmem_default', 'net.core.rmem_max', 'net.core.wmem_default', 'net.core.wmem_max',
  'net.ipv4.tcp_allowed_congestion_control', 'net.netfilter.nf_conntrack_buckets', 'net.netfilter.nf_conntrack_expect_max',
  'net.netfilter.nf_conntrack_max',
]);

/** True when each network namespace has its own copy of `key`. */
export function isPerNetnsKey(key: string): boolean {
  return key.startsWith('net.') && !GLOBAL_NET_KEYS.has(key);
}

export interface NetnsFacts {
  /** The host's network namespace inode (`net:[N]` → N). */
  id: string;
  /** Why the host is a namespace of a shared kernel, or undefined when it is not (as far as can be told). */
  sharedKernel?: string;
}

/**
 * One exec, three signs. (1) /proc/sys/net shows the reading process's own netns, and the kernel registers some
 * net.core tables for the initial netns only: somaxconn present while netdev_max_backlog is absent means "not the
 * initial netns" — needs no root and no view of other processes, so it works over SSH on a lab host and in a
 * container. (2) PID 1's netns differs from ours (when /proc/1/ns/net is readable: not here, where PID 1 belongs to
 * the sandbox). (3) The inventory says `netns: true`.
 */
const DETECT_SCRIPT = `readlink /proc/self/ns/net || exit 1
readlink /proc/1/ns/net 2>/dev/null || echo -
if [ -e /proc/sys/net/core/somaxconn ] && [ ! -e /proc/sys/net/core/netdev_max_backlog ]; then echo child; else echo initial; fi
`;

export async function detectNetns(session: HostSession, host: Pick<HostEntry, 'netns'>): Promise<NetnsFacts> {
  const res = await session.exec(['sh', '-c', DETECT_SCRIPT]);
  const [self = '', init = '', tables = ''] = res.stdout.toString('utf8').split('\n');
  const m = /^net:\[(\d+)\]$/.exec(self);
  if (res.code !== 0 || !m) throw new HostError(session.host, `cannot read its network namespace (/proc/self/ns/net): ${res.stderr.toString('utf8').trim() || 'unexpected output'}`);
  const initM = /^net:\[(\d+)\]$/.exec(init);
  let sharedKernel: string | undefined;
  if (tables === 'child') sharedKernel = `its network namespace ${self} is not the kernel's initial one: /proc/sys/net/core/netdev_max_backlog, registered only there, is absent`;
  else if (initM && initM[1] !== m[1]) sharedKernel = `its network namespace ${self} is not PID 1's ${init}`;
  else if (host.netns) sharedKernel = 'the inventory says netns: true';
  return { id: m[1] as string, ...(sharedKernel ? { sharedKernel } : {}) };
}

/** The reason a machine-wide key is refused on such a host. */
export function machineWideReason(key: string, why: string): string {
  return `${key} is machine-wide (not per network namespace) and this host is a network namespace of a shared kernel (${why}): a write here would change it for the whole machine; fix it on the machine itself`;
}
