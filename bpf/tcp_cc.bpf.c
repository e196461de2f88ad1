// SPDX-License-Identifier: GPL-2.0
/* The congestion control algorithm each new TCP connection actually uses, on every netns of the host (sock_ops on
 * the cgroup v2 root).
 *
 * At ACTIVE/PASSIVE_ESTABLISHED it asks the kernel for the connection's algorithm (bpf_getsockopt TCP_CONGESTION: the
 * name of icsk_ca_ops, which the socket got from its netns's net.ipv4.tcp_congestion_control, a route's `congctl`, an
 * application's setsockopt, or another BPF program) and counts it per (netns, service port, direction, algorithm).
 * Sampled connections go to a ring buffer WITHOUT wakeups (user space drains it on a timer and switches sampling off
 * once it holds enough); the counters stay exact.
 *
 * Its own object, not a branch of tcp_wscale's program: a run that observes only window scaling loads nothing of it,
 * and a run that observes only congestion control skips the wscale program's attribution work. Observe only: every
 * path returns 1, no socket option is set. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "common.h"
#include "tcp_cc.h"

char LICENSE[] SEC("license") = "GPL";

KD_FILTER_MAPS(kd_cc);

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct kd_cc_key);
	__type(value, __u64);
} kd_cc_count SEC(".maps");

/* 256 KiB: sampling stops after a few hundred events, drained every 20 ms. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 18);
} kd_cc_events SEC(".maps");

/* Per-CPU statistics: [0] events dropped (ring full), [1] counter keys dropped (map full). */
#define KD_CC_STAT_RING_DROP 0
#define KD_CC_STAT_MAP_DROP 1
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} kd_cc_stat SEC(".maps");

static __always_inline void stat_add(__u32 idx)
{
	kd_stat_add(&kd_cc_stat, idx);
}

static __always_inline void count(struct kd_cc_key *key)
{
	if (kd_count(&kd_cc_count, key))
		stat_add(KD_CC_STAT_MAP_DROP);
}

SEC("sockops")
int kd_cc_sockops(struct bpf_sock_ops *skops)
{
	__u32 op = skops->op;
	__u32 zero = 0;

	if (op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB && op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB)
		return 1;
	struct kd_cfg *cfg = bpf_map_lookup_elem(&kd_cc_cfg, &zero);
	if (!cfg)
		return 1;
	/* Filter in the kernel first: other namespaces' and ports' connections cost a few compares, nothing more. */
	__u64 ns = bpf_get_netns_cookie(skops);
	if (!kd_ns_watched(cfg, ns))
		return 1;
	int passive = op == BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB;
	__u16 lport = (__u16)skops->local_port;
	__u16 rport = (__u16)bpf_ntohl(skops->remote_port);
	__u16 port = passive ? lport : rport;
	if (!kd_port_watched(cfg, &kd_cc_port, port))
		return 1;

	struct kd_cc_key key = {};
	key.netns_cookie = ns;
	key.port = port;
	key.direction = passive ? KD_DIR_IN : KD_DIR_OUT;
	/* On failure the name stays empty: counted as "unknown" in user space rather than dropped. */
	if (bpf_getsockopt(skops, SOL_TCP, TCP_CONGESTION, key.algo, sizeof(key.algo)) != 0)
		__builtin_memset(key.algo, 0, sizeof(key.algo));
	count(&key);

	if (!(cfg->events & KD_EV_SAMPLE))
		return 1;
	struct kd_cc_event *e = bpf_ringbuf_reserve(&kd_cc_events, sizeof(*e), 0);
	if (!e) {
		stat_add(KD_CC_STAT_RING_DROP);
		return 1;
	}
	e->netns_cookie = ns;
	e->ts_ns = bpf_ktime_get_ns();
	e->direction = key.direction;
	e->local_port = lport;
	e->remote_port = rport;
	e->pad = 0;
	__builtin_memcpy(e->algo, key.algo, sizeof(e->algo));
	e->family = kd_sockops_addrs(skops, e->local_addr, e->remote_addr);
	/* No wakeup: the agent drains on a timer. */
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
	return 1;
}
