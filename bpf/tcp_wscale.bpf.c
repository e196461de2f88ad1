// SPDX-License-Identifier: GPL-2.0
/* Window scaling, per new TCP connection, on every netns of the host (tp_btf/inet_sock_set_state).
 *
 * When a connection becomes ESTABLISHED (from SYN_SENT: we connected; from SYN_RECV: we accepted) it reads what the
 * connection negotiated (tcp_sock.rx_opt) and our offer (the netns's net.ipv4.tcp_window_scaling). The peer's offer
 * follows from those: negotiated means both offered; not negotiated while we offered means the peer's SYN (or SYN-ACK)
 * had no WS option, as TCP allows no other way (syncookies without timestamps aside); when we did not offer, a
 * SYN-ACK could not carry it and a SYN's option is not parsed, so it is unknown for an accepted connection. It counts the
 * outcome per (netns, service port, direction) and emits sampled events into a ring buffer WITHOUT wakeups: user space
 * drains it on a timer, because a wakeup per record costs ~2 µs per connection.
 *
 * Why a tracepoint and not sock_ops (its first version): sock_ops runs on ~9 callbacks of every connection through
 * the cgroup dispatcher, and its one source of the peer's offer on accepted connections, TCP_SAVE_SYN, had to be set
 * on listeners and stayed set after the probe was gone. The tracepoint fires on state changes only, through a cheaper
 * dispatcher, and this program changes no socket at all (bench/probe-overhead.md has the figures). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_tracing.h>
#include "common.h"
#include "tcp_wscale.h"

char LICENSE[] SEC("license") = "GPL";

KD_FILTER_MAPS(kd_ws);

/* Local ports of the connections the agent opens itself (bound before connect): both ends of such a loopback
 * connection are tagged `own` (the active end by its local port, the passive end by its loopback peer's port), so
 * the share judged in a report is real traffic only. All 0 unless the agent drives test connections. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY); /* indexed by port: a lookup the verifier inlines */
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u8);
} kd_ws_own SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct kd_ws_key);
	__type(value, __u64);
} kd_ws_count SEC(".maps");

/* The same counters when the filter is inline (this netns, up to KD_CFG_PORTS ports), the checks' case: a slot per
 * (port index, direction, outcome, own), KD_WS_SLOT below, in an array the verifier inlines instead of a hash. */
#define KD_WS_SLOTS (KD_CFG_PORTS * 2 * 4 * 2)
#define KD_WS_SLOT(port_idx, passive, outcome, own) (((((port_idx) * 2 + (passive)) * 4 + (outcome)) * 2) + (own))
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KD_WS_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} kd_ws_slots SEC(".maps");

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

static __always_inline int own_port(__u16 port)
{
	__u32 k = port;
	__u8 *v = bpf_map_lookup_elem(&kd_ws_own, &k);
	return v && *v;
}

static __always_inline void count(struct kd_ws_key *key)
{
	if (kd_count(&kd_ws_count, key))
		stat_add(KD_WS_STAT_MAP_DROP);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(kd_ws_state, const struct sock *sk, const int oldstate, const int newstate)
{
	__u32 zero = 0;
	struct kd_cfg *cfg;

	if (newstate != TCP_ESTABLISHED || (oldstate != TCP_SYN_SENT && oldstate != TCP_SYN_RECV))
		return 0;
	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	cfg = bpf_map_lookup_elem(&kd_ws_cfg, &zero);
	if (!cfg)
		return 0;
	struct net *net = sk->__sk_common.skc_net.net;
	if (!net)
		return 0;
	__u64 ns = net->net_cookie;
	__u16 lport = sk->__sk_common.skc_num;
	__u16 rport = bpf_ntohs(sk->__sk_common.skc_dport);
	int passive = oldstate == TCP_SYN_RECV;
	__u16 port = passive ? lport : rport;
	if (!kd_ns_watched(cfg, ns))
		return 0;
	int port_idx = -1; /* >= 0: count in kd_ws_slots */
	if (cfg->port_filter == KD_PORTS_INLINE) {
		port_idx = kd_port_index(cfg, port);
		if (port_idx < 0)
			return 0;
		if (!cfg->ns_filter)
			port_idx = -1; /* every netns: the key needs the cookie */
	} else if (!kd_port_watched(cfg, &kd_ws_port, port)) {
		return 0;
	}

	struct tcp_sock *tp = bpf_skc_to_tcp_sock((void *)sk);
	if (!tp)
		return 0;
	/* clang 14 adds the member offset twice for BPF_CORE_READ_BITFIELD(&tp->rx_opt, ...): take the pointer first. */
	struct tcp_options_received *rx = &tp->rx_opt;
	barrier_var(rx);
	__u8 wscale_ok = BPF_CORE_READ_BITFIELD(rx, wscale_ok);
	__u8 snd_wscale = BPF_CORE_READ_BITFIELD(rx, snd_wscale);
	__u8 rcv_wscale = BPF_CORE_READ_BITFIELD(rx, rcv_wscale);

	__u8 local_offered = KD_OFFER_YES;
	__u8 peer_offered = KD_OFFER_YES;
	__u8 outcome = KD_WS_NEGOTIATED;
	if (!wscale_ok) {
		local_offered = net->ipv4.sysctl_tcp_window_scaling ? KD_OFFER_YES : KD_OFFER_NO;
		if (local_offered == KD_OFFER_YES) {
			peer_offered = KD_OFFER_NO;
			outcome = KD_WS_LACKED_PEER;
		} else {
			/* We connected without offering: a SYN-ACK may carry WS only in answer to a SYN that did. */
			peer_offered = passive ? KD_OFFER_UNKNOWN : KD_OFFER_NO;
			outcome = KD_WS_LACKED_LOCAL;
		}
	}

	__u8 family = sk->__sk_common.skc_family;
	__u8 own = 0;
	if (cfg->own_filter) {
		/* skc_daddr is in network order: its first byte is the first octet (127 = loopback). */
		if (!passive)
			own = own_port(lport);
		else if (family == AF_INET && (sk->__sk_common.skc_daddr & 0xff) == 127)
			own = own_port(rport);
	}

	__u8 direction = passive ? KD_DIR_IN : KD_DIR_OUT;
	if (port_idx >= 0 && port_idx < KD_CFG_PORTS) {
		__u32 k = KD_WS_SLOT(port_idx, passive, outcome, own);
		__u64 *v = bpf_map_lookup_elem(&kd_ws_slots, &k);
		if (v)
			*v += 1;
	} else {
		struct kd_ws_key key = {
			.netns_cookie = ns,
			.port = port,
			.direction = direction,
			.outcome = outcome,
			.own = own,
		};
		count(&key);
	}

	if (!(cfg->events & (wscale_ok ? KD_EV_NEGOTIATED : KD_EV_LACKING)))
		return 0;
	__u32 seq_idx = KD_WS_STAT_SEQ;
	__u64 *seq = bpf_map_lookup_elem(&kd_ws_stat, &seq_idx);
	if (seq) {
		__u64 n = (*seq)++;
		__u8 shift = cfg->sample_shift & 15;
		if (n & ((1ULL << shift) - 1))
			return 0;
	}
	struct kd_ws_event *e = bpf_ringbuf_reserve(&kd_ws_events, sizeof(*e), 0);
	if (!e) {
		stat_add(KD_WS_STAT_RING_DROP);
		return 0;
	}
	e->netns_cookie = ns;
	e->ts_ns = bpf_ktime_get_ns();
	e->direction = direction;
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
	e->family = kd_sock_addrs(sk, e->local_addr, e->remote_addr);
	/* No wakeup: the agent drains on a timer. */
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
	return 0;
}
