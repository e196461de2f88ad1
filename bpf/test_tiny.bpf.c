// SPDX-License-Identifier: GPL-2.0
/* Test fixture for the native binding (test/e2e/native.test.ts): a sock_ops program that reports connections to one
 * port (set by the test in kd_tiny_port[0]) through a ring buffer and counts them in a hash map. Observe only. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

struct tiny_event {
	__u32 op;
	__u16 local_port;
	__u16 remote_port;
	__u64 netns_cookie;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} kd_tiny_port SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} kd_tiny_count SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 16);
} kd_tiny_events SEC(".maps");

SEC("sockops")
int kd_tiny_sockops(struct bpf_sock_ops *skops)
{
	__u32 zero = 0, op = skops->op;
	if (op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB && op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB)
		return 1;
	__u32 *want = bpf_map_lookup_elem(&kd_tiny_port, &zero);
	__u16 lport = (__u16)skops->local_port, rport = (__u16)bpf_ntohl(skops->remote_port);
	if (!want || (*want != lport && *want != rport))
		return 1;
	__u64 one = 1, *n = bpf_map_lookup_elem(&kd_tiny_count, &op);
	if (n)
		__sync_fetch_and_add(n, 1);
	else
		bpf_map_update_elem(&kd_tiny_count, &op, &one, BPF_ANY);
	struct tiny_event *e = bpf_ringbuf_reserve(&kd_tiny_events, sizeof(*e), 0);
	if (!e)
		return 1;
	e->op = op;
	e->local_port = lport;
	e->remote_port = rport;
	e->netns_cookie = bpf_get_netns_cookie(skops);
	bpf_ringbuf_submit(e, 0);
	return 1;
}
