// SPDX-License-Identifier: GPL-2.0
/* TCP stalls per (netns, service port, direction), counted in the kernel: zero-window advertisements both ways,
 * zero-window probes both ways, retransmits, and data segments (the denominator of a retransmit rate).
 *
 *  - tp_btf/net_dev_queue: every segment a full TCP socket of this host sends, once, at the device of the socket's
 *    route (a stacked device, a bridge, VLAN or bond, hands the same skb to its lower device, and a tunnel its outer
 *    packet: skipped). th->window == 0 is an exact zero-window advertisement; window probes; data segments (GSO
 *    counted per segment, retransmits included).
 *  - tp_btf/tcp_probe: every segment an ESTABLISHED socket receives (tcp_rcv_established): zero windows the peer
 *    advertised, its window probes, data segments in. Segments received in other states (FIN_WAIT, CLOSE_WAIT) are
 *    not seen.
 *  - tp_btf/tcp_retransmit_skb: retransmits.
 *
 * Why tracepoints and not cgroup_skb (its first version): cgroup_skb programs on the root run on every packet of the
 * host through the cgroup dispatcher, which alone cost more than the whole 2 % budget of a loopback connection; a
 * tracepoint's dispatch is a direct call (bench/probe-overhead.md has the figures).
 *
 * The service port and direction of a segment's connection: with a port filter, the watched port (our local port →
 * we accepted: "in"; the remote port → we connected: "out"); without one, the lower port of the two (ephemeral ports
 * are the high ones). Observe only: nothing here changes a packet or a socket. No per-packet events. */
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

/* The TCP header as on the wire (no CO-RE attribute: a wire format, not a kernel struct). */
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

static __always_inline struct kd_cfg *get_cfg(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&kd_st_cfg, &zero);
}

/* The counter key of a socket's connection, when it is watched (1), from the socket alone: no packet is read for
 * the connections of other namespaces and ports. */
static __always_inline int watched_key(const struct kd_cfg *cfg, const struct sock *sk, struct kd_st_key *key)
{
	__u64 ns = sk->__sk_common.skc_net.net->net_cookie;
	if (!kd_ns_watched(cfg, ns))
		return 0;
	__u16 lport = sk->__sk_common.skc_num;
	__u16 rport = bpf_ntohs(sk->__sk_common.skc_dport);
	key->netns_cookie = ns;
	if (cfg->port_filter != KD_PORTS_ANY) {
		if (kd_port_watched(cfg, &kd_st_port, lport)) {
			key->port = lport;
			key->direction = KD_DIR_IN;
		} else if (kd_port_watched(cfg, &kd_st_port, rport)) {
			key->port = rport;
			key->direction = KD_DIR_OUT;
		} else {
			return 0;
		}
	} else if (lport < rport) {
		key->port = lport;
		key->direction = KD_DIR_IN;
	} else {
		key->port = rport;
		key->direction = KD_DIR_OUT;
	}
	return 1;
}

/* The counter slot of a key, created on first use; NULL when the map is full (counted in kd_st_stat[0]). */
static __always_inline struct kd_st_val *slot(const struct kd_st_key *key)
{
	struct kd_st_val *v = bpf_map_lookup_elem(&kd_st_count, key);
	if (v)
		return v;
	struct kd_st_val zero = {};
	if (bpf_map_update_elem(&kd_st_count, key, &zero, BPF_NOEXIST) && bpf_map_lookup_elem(&kd_st_count, key) == 0) {
		__u32 idx = 0;
		__u64 *d = bpf_map_lookup_elem(&kd_st_stat, &idx);
		if (d)
			*d += 1;
		return 0;
	}
	return bpf_map_lookup_elem(&kd_st_count, key);
}

/* Segments in an skb: GSO/GRO count per segment (skb_shinfo(skb)->gso_segs, 0 for a single segment). */
static __always_inline __u32 skb_segs(const struct sk_buff *skb)
{
	struct skb_shared_info *shinfo = (struct skb_shared_info *)(skb->head + skb->end);
	__u16 segs = 0;
	bpf_probe_read_kernel(&segs, sizeof(segs), &shinfo->gso_segs);
	return segs ? segs : 1;
}

/* Is this the device the socket's route names (its cached dst)? A stacked device (bridge, VLAN, bond) hands the
 * same skb to its lower device, and a tunnel its outer packet: counting only at the route's device counts each
 * segment once. (The skb's own dst is no help: most devices drop it before this tracepoint. A first version
 * bracketed nested transmits with net_dev_start_xmit/net_dev_xmit programs: two more runs per packet.) A socket
 * whose cached route was just dropped (a route change) is not counted until it has a new one. */
static __always_inline int at_route_device(const struct sock *sk, const struct sk_buff *skb)
{
	struct dst_entry *dst = BPF_CORE_READ(sk, sk_dst_cache);
	return dst && BPF_CORE_READ(dst, dev) == skb->dev;
}

/* Is the skb's network header IP carrying TCP? A tunnel's outer packet still belongs to the inner socket. IPv6
 * extension headers are not walked. */
static __always_inline int is_tcp(const struct sk_buff *skb)
{
	__u8 proto = 0;
	const unsigned char *nh = skb->head + skb->network_header;
	if (skb->protocol == bpf_htons(ETH_P_IP))
		bpf_probe_read_kernel(&proto, 1, nh + 9);
	else if (skb->protocol == bpf_htons(ETH_P_IPV6))
		bpf_probe_read_kernel(&proto, 1, nh + 6);
	return proto == IPPROTO_TCP;
}

/* Adds one skb's segments to its connection's counters. `egress`: we sent it. */
static __always_inline void count_segment(const struct sock *sk, const struct kd_st_key *key, const struct kd_tcp *th, int payload, int probe, const struct sk_buff *skb, int egress)
{
	int zero_win = th->window == 0;
	if (payload == 0 && !zero_win && !probe)
		return; /* nothing to count: never create a counter slot for it */
	if (egress && !(at_route_device(sk, skb) && is_tcp(skb)))
		return;
	__u32 segs = skb_segs(skb);
	struct kd_st_val *v = slot(key);
	if (!v)
		return;
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
}

/* A bare ACK (no data, no FIN): a window probe when its seq is one below what the other side has acknowledged. */
static __always_inline int is_bare(const struct kd_tcp *th, int payload)
{
	return payload == 0 && !(th->flags & KD_TH_FIN);
}

SEC("tp_btf/net_dev_queue")
int BPF_PROG(kd_st_egress, struct sk_buff *skb)
{
	struct sock *sk = skb->sk;
	if (!sk)
		return 0;
	/* A full TCP socket only: not a SYN-ACK's request sock, not a time-wait sock (the state is in the common part
	 * every kind shares; sk->sk_protocol is not). skb->sk is an RCU pointer here, which the socket-cast helpers
	 * refuse: the tcp_sock fields a probe needs are read with CO-RE reads. */
	__u8 state = sk->__sk_common.skc_state;
	if (state == TCP_TIME_WAIT || state == TCP_NEW_SYN_RECV || state == TCP_LISTEN)
		return 0;
	/* Nothing to count before the connection is up (the SYN) or once it is closed (a reset on close): no packet
	 * byte is read for those. */
	if (state == TCP_SYN_SENT || state == TCP_CLOSE)
		return 0;
	if (sk->sk_protocol != IPPROTO_TCP || sk->sk_type != SOCK_STREAM)
		return 0;
	struct kd_cfg *cfg = get_cfg();
	struct kd_st_key key = {};
	if (!cfg || !watched_key(cfg, sk, &key))
		return 0;
	unsigned char *head = skb->head;
	__u16 thoff = skb->transport_header;
	struct kd_tcp th;
	if (bpf_probe_read_kernel(&th, sizeof(th), head + thoff))
		return 0;
	/* skb->len counts from skb->data (the link-layer header here). */
	int payload = (int)skb->len - (int)(head + thoff - skb->data) - (th.doff_res >> 4) * 4;
	if (payload < 0)
		payload = 0;
	if (th.flags & (KD_TH_SYN | KD_TH_RST))
		return 0;
	/* Ours: a bare ACK with seq = snd_una - 1 (tcp_xmit_probe_skb) while the peer's window is 0. */
	int probe = 0;
	if (is_bare(&th, payload)) {
		struct tcp_sock *tp = (struct tcp_sock *)sk;
		probe = BPF_CORE_READ(tp, snd_wnd) == 0 && bpf_ntohl(th.seq) == BPF_CORE_READ(tp, snd_una) - 1;
	}
	count_segment(sk, &key, &th, payload, probe, skb, 1);
	return 0;
}

SEC("tp_btf/tcp_probe")
int BPF_PROG(kd_st_ingress, struct sock *sk, const struct sk_buff *skb)
{
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(sk);
	if (!tp)
		return 0;
	struct kd_cfg *cfg = get_cfg();
	struct kd_st_key key = {};
	if (!cfg || !watched_key(cfg, sk, &key))
		return 0;
	struct kd_tcp th;
	/* tcp_rcv_established: skb->data is the TCP header. */
	if (bpf_probe_read_kernel(&th, sizeof(th), skb->data))
		return 0;
	int payload = (int)skb->len - (th.doff_res >> 4) * 4;
	if (payload < 0)
		payload = 0;
	if (th.flags & (KD_TH_SYN | KD_TH_RST))
		return 0;
	/* The peer's: seq = rcv_nxt - 1 while our window is 0. */
	int probe = is_bare(&th, payload) && tp->rcv_wnd == 0 && bpf_ntohl(th.seq) == tp->rcv_nxt - 1;
	count_segment(sk, &key, &th, payload, probe, skb, 0);
	return 0;
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(kd_st_retrans, const struct sock *sk, const struct sk_buff *skb)
{
	struct kd_cfg *cfg = get_cfg();
	struct kd_st_key key = {};
	if (!cfg || !sk || !watched_key(cfg, sk, &key))
		return 0;
	struct kd_st_val *v = slot(&key);
	if (v)
		v->retransmits += 1;
	return 0;
}
