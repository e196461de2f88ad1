// SPDX-License-Identifier: GPL-2.0
/* Test fixture: a program the verifier must reject (returns a value it cannot prove is 0 or 1), so the binding's
 * error path can be tested for a readable message. Never attached. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} kd_rej_map SEC(".maps");

SEC("sockops")
int kd_rej_sockops(struct bpf_sock_ops *skops)
{
	__u32 zero = 0;
	__u64 *v = bpf_map_lookup_elem(&kd_rej_map, &zero);
	return (int)*v; /* an unknown value: sock_ops must return 0 or 1, the verifier refuses it */
}
