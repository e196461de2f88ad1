// SPDX-License-Identifier: GPL-2.0
/* Empty programs on the hooks the probe's observers use, and on the ones they used before, for
 * bench/probe-paired.ts's `empty:` configurations: what attaching to a hook costs a loopback connection before any
 * program body runs (the dispatch floor). Each returns at once; nothing is observed or changed. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(kd_bench_state, const struct sock *sk, const int oldstate, const int newstate)
{
	return 0;
}

SEC("tp_btf/net_dev_queue")
int BPF_PROG(kd_bench_queue, struct sk_buff *skb)
{
	return 0;
}

SEC("tp_btf/tcp_probe")
int BPF_PROG(kd_bench_probe, struct sock *sk, const struct sk_buff *skb)
{
	return 0;
}

SEC("sockops")
int kd_bench_sockops(struct bpf_sock_ops *skops)
{
	return 1;
}

SEC("cgroup_skb/egress")
int kd_bench_egress(struct __sk_buff *skb)
{
	return 1;
}

SEC("cgroup_skb/ingress")
int kd_bench_ingress(struct __sk_buff *skb)
{
	return 1;
}
