// SPDX-License-Identifier: GPL-2.0
/* TCP stalls per (netns, service port, direction), counted in the kernel: zero-window advertisements both ways,
 * zero-window probes both ways, retransmits, and data segments (the denominator of a retransmit rate).
 *
 *  - cgroup_skb egress/ingress (root): reads the TCP header of every segment of a watched connection; th->window == 0
 *    is an exact zero-window advertisement in any TCP state.
 *  - tp_btf/tcp_retransmit_skb (tracepoint/tcp/tcp_retransmit_skb where BTF tracing is refused): retransmits.
 *
 * The service port and direction of a segment's connection: with a port filter, the watched port (our local port →
 * we accepted: "in"; the remote port → we connected: "out"); without one, the lower port of the two (ephemeral ports
 * are the high ones). A first version kept the direction in sk_storage from a sock_ops program; allocating that
 * storage per connection cost ~10 % of a loopback connect/accept/close, for no better answer on service ports.
 *
 * Observe only: both cgroup_skb programs return 1 on every path. No per-packet events. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "common.h"
#include "tcp_stalls.h"

char LICENSE[] SEC("license") = "GPL";

KD_FILTER_MAPS(kd_st);

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct kd_st_key);
	__type(value, struct kd_st_val);
} kd_st_count SEC(".maps");

/* Per-CPU statistics: [0] counter keys dropped (map full). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} kd_st_stat SEC(".maps");

/* Raw header layouts without vmlinux.h's CO-RE attribute: these are wire formats, not kernel structs. */
struct kd_ip4 {
	__u8 vihl;
	__u8 tos;
	__u16 tot_len;
	__u16 id;
	__u16 frag_off;
	__u8 ttl;
	__u8 protocol;
	__u16 check;
	__u32 saddr;
	__u32 daddr;
};
struct kd_ip6 {
	__u32 vtcfl;
	__u16 payload_len;
	__u8 nexthdr;
	__u8 hop_limit;
	__u8 saddr[16];
	__u8 daddr[16];
};
struct kd_tcp {
	__u16 source;
	__u16 dest;
	__u32 seq;
	__u32 ack_seq;
	__u8 doff_res;
	__u8 flags;
	__u16 window;
	__u16 check;
	__u16 urg_ptr;
};
#define KD_TH_FIN 0x01
#define KD_TH_SYN 0x02
#define KD_TH_RST 0x04

static __always_inline int port_watched(struct kd_cfg *cfg, __u16 port)
{
	return !cfg->port_filter || bpf_map_lookup_elem(&kd_st_port, &port);
}

static __always_inline int ns_watched(struct kd_cfg *cfg, __u64 ns)
{
	return !cfg->ns_filter || bpf_map_lookup_elem(&kd_st_ns, &ns);
}

static __always_inline struct kd_cfg *get_cfg(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&kd_st_cfg, &zero);
}

static __always_inline __u64 sk_netns(const struct sock *sk)
{
	struct net *net = BPF_CORE_READ(sk, __sk_common.skc_net.net);
	return net ? BPF_CORE_READ(net, net_cookie) : 0;
}

/* The counter slot of a segment's connection; NULL when the connection is not watched. */
static __always_inline struct kd_st_val *slot(struct kd_cfg *cfg, __u64 ns, __u16 lport, __u16 rport)
{
	struct kd_st_key key = { .netns_cookie = ns };
	if (cfg->port_filter) {
		if (port_watched(cfg, lport)) {
			key.port = lport;
			key.direction = KD_DIR_IN;
		} else if (port_watched(cfg, rport)) {
			key.port = rport;
			key.direction = KD_DIR_OUT;
		} else {
			return 0;
		}
	} else if (lport < rport) {
		key.port = lport;
		key.direction = KD_DIR_IN;
	} else {
		key.port = rport;
		key.direction = KD_DIR_OUT;
	}
	struct kd_st_val *v = bpf_map_lookup_elem(&kd_st_count, &key);
	if (v)
		return v;
	struct kd_st_val zero = {};
	if (bpf_map_update_elem(&kd_st_count, &key, &zero, BPF_NOEXIST) && bpf_map_lookup_elem(&kd_st_count, &key) == 0) {
		__u32 idx = 0;
		__u64 *d = bpf_map_lookup_elem(&kd_st_stat, &idx);
		if (d)
			*d += 1;
		return 0;
	}
	return bpf_map_lookup_elem(&kd_st_count, &key);
}

/* Parses IP + TCP headers at the network header; returns TCP payload length, or -1 when not TCP. Reads the headers
 * in place when they are in the linear area (always, for TCP built or received by this host), else copies them. */
static __always_inline int parse(struct __sk_buff *skb, struct kd_tcp *th)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	__u32 off, total;
	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct kd_ip4 *ip = data;
		if ((void *)(ip + 1) > end)
			return -1;
		if (ip->protocol != IPPROTO_TCP)
			return -1;
		off = (ip->vihl & 0x0f) * 4;
		total = bpf_ntohs(ip->tot_len);
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct kd_ip6 *ip6 = data;
		if ((void *)(ip6 + 1) > end)
			return -1;
		if (ip6->nexthdr != IPPROTO_TCP)
			return -1;
		off = sizeof(*ip6);
		total = sizeof(*ip6) + bpf_ntohs(ip6->payload_len);
	} else {
		return -1;
	}
	if (off < 20 || off > 60)
		return -1;
	struct kd_tcp *t = data + off;
	if ((void *)(t + 1) <= end)
		*th = *t;
	else if (bpf_skb_load_bytes(skb, off, th, sizeof(*th)))
		return -1;
	__u32 hdr = off + (th->doff_res >> 4) * 4;
	/* GSO/GRO: an skb holds several segments and tot_len may be 0 (big TCP); use skb->len then. */
	if (total < hdr)
		total = skb->len;
	return total > hdr ? (int)(total - hdr) : 0;
}

static __always_inline int observe(struct __sk_buff *skb, int egress)
{
	struct kd_tcp th;
	int payload = parse(skb, &th);
	if (payload < 0 || (th.flags & (KD_TH_SYN | KD_TH_RST)))
		return 1;
	struct kd_cfg *cfg = get_cfg();
	if (!cfg)
		return 1;
	struct bpf_sock *bsk = skb->sk;
	if (!bsk)
		return 1;
	bsk = bpf_sk_fullsock(bsk);
	if (!bsk)
		return 1;
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(bsk);
	if (!tp)
		return 1;
	__u64 ns = tp->inet_conn.icsk_inet.sk.__sk_common.skc_net.net->net_cookie;
	if (!ns_watched(cfg, ns))
		return 1;
	__u32 segs = skb->gso_segs ? skb->gso_segs : 1;
	__u32 seq = bpf_ntohl(th.seq);
	int bare = payload == 0 && !(th.flags & KD_TH_FIN);
	int zero_win = th.window == 0;
	/* A window probe is a bare ACK with seq = snd_una - 1 (tcp_xmit_probe_skb) sent while the peer's window is 0;
	 * the peer's probes have seq = rcv_nxt - 1 while our window is 0. */
	int probe = bare && (egress ? (seq == tp->snd_una - 1 && tp->snd_wnd == 0) : (seq == tp->rcv_nxt - 1 && tp->rcv_wnd == 0));
	if (payload == 0 && !zero_win && !probe)
		return 1; /* nothing to count: never create a counter slot for it */
	__u16 lport = bpf_ntohs(egress ? th.source : th.dest);
	__u16 rport = bpf_ntohs(egress ? th.dest : th.source);
	struct kd_st_val *v = slot(cfg, ns, lport, rport);
	if (!v)
		return 1;
	if (egress) {
		if (payload > 0)
			v->data_segs_out += segs;
		if (zero_win)
			v->zero_win_sent += 1;
		if (probe)
			v->zw_probes_sent += 1;
	} else {
		if (payload > 0)
			v->segs_in += segs;
		if (zero_win)
			v->zero_win_recv += 1;
		if (probe)
			v->zw_probes_recv += 1;
	}
	return 1;
}

SEC("cgroup_skb/egress")
int kd_st_egress(struct __sk_buff *skb)
{
	return observe(skb, 1);
}

SEC("cgroup_skb/ingress")
int kd_st_ingress(struct __sk_buff *skb)
{
	return observe(skb, 0);
}

static __always_inline void count_retransmit(const struct sock *sk)
{
	struct kd_cfg *cfg = get_cfg();
	if (!cfg || !sk)
		return;
	__u64 ns = sk_netns(sk);
	if (!ns_watched(cfg, ns))
		return;
	__u16 lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	__u16 rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	struct kd_st_val *v = slot(cfg, ns, lport, rport);
	if (v)
		v->retransmits += 1;
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(kd_st_retrans, const struct sock *sk, const struct sk_buff *skb)
{
	count_retransmit(sk);
	return 0;
}

/* Fallback when BTF tracing programs are refused (the socket pointer is read with probe reads instead). */
SEC("tracepoint/tcp/tcp_retransmit_skb")
int kd_st_retrans_tp(struct trace_event_raw_tcp_retransmit_skb *ctx)
{
	count_retransmit((const struct sock *)ctx->skaddr);
	return 0;
}
