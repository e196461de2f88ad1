// SPDX-License-Identifier: GPL-2.0
/* Window scaling, per new TCP connection, on every netns of the host (sock_ops on the cgroup v2 root).
 *
 * At ACTIVE/PASSIVE_ESTABLISHED it reads what the connection negotiated (tcp_sock.rx_opt) and what each side offered:
 * ours from the netns's net.ipv4.tcp_window_scaling, the peer's from the SYN-ACK (active) or the listener's saved SYN
 * (passive; the listener saves SYNs only if it started listening while this program was attached). It counts the
 * outcome per (netns, service port, direction) and emits sampled events into a ring buffer WITHOUT wakeups: user space
 * drains it on a timer, because a wakeup per record costs ~2 µs per connection.
 *
 * Observe only: every path returns 1 and nothing here changes a segment. The one socket option it sets, TCP_SAVE_SYN on
 * listeners of explicitly watched ports, keeps a copy of each SYN's headers on the socket; it changes nothing on the
 * wire, but stays set on those listeners after the probe is gone. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "common.h"
#include "tcp_wscale.h"

char LICENSE[] SEC("license") = "GPL";

KD_FILTER_MAPS(kd_ws);

/* Local ports of the connections the agent opens itself (bound before connect): both ends of such a loopback
 * connection are tagged `own` (the active end by its local port, the passive end by its loopback peer's port), so
 * the share judged in a report is real traffic only. Empty unless the agent drives test connections. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u16);
	__type(value, __u8);
} kd_ws_own SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct kd_ws_key);
	__type(value, __u64);
} kd_ws_count SEC(".maps");

/* 1 MiB: a 20 ms drain interval covers >100k connections/s of 64-byte records. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} kd_ws_events SEC(".maps");

/* Per-CPU statistics: [0] events dropped (ring full), [1] counter keys dropped (map full), [2] sampling sequence. */
#define KD_WS_STAT_RING_DROP 0
#define KD_WS_STAT_MAP_DROP 1
#define KD_WS_STAT_SEQ 2
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} kd_ws_stat SEC(".maps");

static __always_inline void stat_add(__u32 idx)
{
	kd_stat_add(&kd_ws_stat, idx);
}

static __always_inline int watched(struct kd_cfg *cfg, __u64 ns, __u16 port)
{
	if (cfg->ns_filter && !bpf_map_lookup_elem(&kd_ws_ns, &ns))
		return 0;
	if (cfg->port_filter && !bpf_map_lookup_elem(&kd_ws_port, &port))
		return 0;
	return 1;
}

static __always_inline void count(struct kd_ws_key *key)
{
	if (kd_count(&kd_ws_count, key))
		stat_add(KD_WS_STAT_MAP_DROP);
}

/* Was the window-scale option in the SYN-ACK (active) or the saved SYN (passive)? */
static __always_inline __u8 peer_offer(struct bpf_sock_ops *skops, int passive)
{
	__u8 opt[4] = { TCPOPT_WINDOW, 0, 0, 0 };
	long ret;
	if (passive)
		ret = bpf_load_hdr_opt(skops, opt, sizeof(opt), BPF_LOAD_HDR_OPT_TCP_SYN);
	else
		ret = bpf_load_hdr_opt(skops, opt, sizeof(opt), 0);
	if (ret > 0)
		return KD_OFFER_YES;
	if (ret == -ENOMSG)
		return KD_OFFER_NO;
	return KD_OFFER_UNKNOWN; /* -ENOENT: the listener saved no SYN (it predates the probe) */
}

SEC("sockops")
int kd_ws_sockops(struct bpf_sock_ops *skops)
{
	__u32 op = skops->op;
	__u32 zero = 0;
	struct kd_cfg *cfg;

	if (op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB && op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB &&
	    op != BPF_SOCK_OPS_TCP_LISTEN_CB)
		return 1;
	cfg = bpf_map_lookup_elem(&kd_ws_cfg, &zero);
	if (!cfg)
		return 1;
	__u64 ns = bpf_get_netns_cookie(skops);
	__u16 lport = (__u16)skops->local_port;
	__u16 rport = (__u16)bpf_ntohl(skops->remote_port);

	if (op == BPF_SOCK_OPS_TCP_LISTEN_CB) {
		/* Keep the SYN headers of watched listeners so PASSIVE_ESTABLISHED can see whether the peer offered. Only for
		 * explicitly watched ports: the option stays on the listener after the probe detaches (each later connection
		 * keeps ~100 bytes of SYN headers until it closes), so it is never set host-wide. */
		if (cfg->port_filter && watched(cfg, ns, lport)) {
			int one = 1;
			bpf_setsockopt(skops, SOL_TCP, TCP_SAVE_SYN, &one, sizeof(one));
		}
		return 1;
	}

	int passive = op == BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB;
	__u16 port = passive ? lport : rport;
	if (!watched(cfg, ns, port))
		return 1;

	/* Load sk once into a local before the NULL check (clang would reload the ctx field otherwise). */
	struct bpf_sock *sk = skops->sk;
	if (!sk)
		return 1;
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(sk);
	if (!tp)
		return 1;

	/* clang 14 adds the member offset twice for BPF_CORE_READ_BITFIELD(&tp->rx_opt, ...): take the pointer first. */
	struct tcp_options_received *rx = &tp->rx_opt;
	barrier_var(rx);
	__u8 wscale_ok = BPF_CORE_READ_BITFIELD(rx, wscale_ok);
	__u8 snd_wscale = BPF_CORE_READ_BITFIELD(rx, snd_wscale);
	__u8 rcv_wscale = BPF_CORE_READ_BITFIELD(rx, rcv_wscale);

	/* Negotiated means both sides offered: the option search and the sysctl read are only needed to attribute a
	 * connection that did not negotiate (the common case stays cheap). */
	__u8 local_offered = KD_OFFER_YES;
	__u8 peer_offered = KD_OFFER_YES;
	if (!wscale_ok) {
		struct net *net = tp->inet_conn.icsk_inet.sk.__sk_common.skc_net.net;
		local_offered = KD_OFFER_UNKNOWN;
		if (net)
			local_offered = BPF_CORE_READ(net, ipv4.sysctl_tcp_window_scaling) ? KD_OFFER_YES : KD_OFFER_NO;
		peer_offered = peer_offer(skops, passive);
	}

	/* Attribution. Not negotiated while we offered means the peer's SYN (passive) or SYN-ACK (active) had no WS
	 * option: TCP allows no other way (syncookies without timestamps aside). */
	__u8 outcome;
	if (wscale_ok)
		outcome = KD_WS_NEGOTIATED;
	else if (local_offered == KD_OFFER_NO)
		outcome = KD_WS_LACKED_LOCAL;
	else if (peer_offered == KD_OFFER_NO || local_offered == KD_OFFER_YES)
		outcome = KD_WS_LACKED_PEER;
	else
		outcome = KD_WS_LACKED_UNKNOWN;

	__u8 own = 0;
	if (cfg->own_filter) {
		/* remote_ip4 is in network order: its first byte is the first octet (127 = loopback). */
		if (!passive)
			own = bpf_map_lookup_elem(&kd_ws_own, &lport) != 0;
		else if (skops->family == AF_INET && (skops->remote_ip4 & 0xff) == 127)
			own = bpf_map_lookup_elem(&kd_ws_own, &rport) != 0;
	}

	struct kd_ws_key key = {
		.netns_cookie = ns,
		.port = port,
		.direction = passive ? KD_DIR_IN : KD_DIR_OUT,
		.outcome = outcome,
		.own = own,
	};
	count(&key);

	if (!(cfg->events & (wscale_ok ? KD_EV_NEGOTIATED : KD_EV_LACKING)))
		return 1;
	__u32 seq_idx = KD_WS_STAT_SEQ;
	__u64 *seq = bpf_map_lookup_elem(&kd_ws_stat, &seq_idx);
	if (seq) {
		__u64 n = (*seq)++;
		__u8 shift = cfg->sample_shift & 15;
		if (n & ((1ULL << shift) - 1))
			return 1;
	}
	struct kd_ws_event *e = bpf_ringbuf_reserve(&kd_ws_events, sizeof(*e), 0);
	if (!e) {
		stat_add(KD_WS_STAT_RING_DROP);
		return 1;
	}
	e->netns_cookie = ns;
	e->ts_ns = bpf_ktime_get_ns();
	e->direction = key.direction;
	e->wscale_ok = wscale_ok;
	e->snd_wscale = snd_wscale;
	e->rcv_wscale = rcv_wscale;
	e->local_offered = local_offered;
	e->peer_offered = peer_offered;
	e->outcome = outcome;
	e->local_port = lport;
	e->remote_port = rport;
	e->own = own;
	e->pad[0] = e->pad[1] = e->pad[2] = 0;
	e->family = kd_sockops_addrs(skops, e->local_addr, e->remote_addr);
	/* No wakeup: the agent drains on a timer. */
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
	return 1;
}
