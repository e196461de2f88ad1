// SPDX-License-Identifier: GPL-2.0
/* Test fixture for test/e2e/probe.test.ts: drops about one in eight incoming TCP data segments to one port, so the
 * sender retransmits. It changes traffic, so it is attached ONLY to the test's own child cgroup (kdbp-drop) holding
 * only the test's receiver process, never to the root. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} kd_drop_port SEC(".maps");

SEC("cgroup_skb/ingress")
int kd_drop_ingress(struct __sk_buff *skb)
{
	__u32 zero = 0;
	__u8 ip[20], th[20];
	if (skb->protocol != bpf_htons(0x0800) || bpf_skb_load_bytes(skb, 0, ip, sizeof(ip)) || ip[9] != 6)
		return 1;
	__u32 ihl = (ip[0] & 0x0f) * 4;
	if (ihl < 20 || ihl > 60 || bpf_skb_load_bytes(skb, ihl, th, sizeof(th)))
		return 1;
	__u32 *port = bpf_map_lookup_elem(&kd_drop_port, &zero);
	__u16 dport = ((__u16)th[2] << 8) | th[3];
	__u32 total = ((__u32)ip[2] << 8) | ip[3];
	__u32 hdr = ihl + (th[12] >> 4) * 4;
	if (!port || dport != *port || total <= hdr)
		return 1;
	return (bpf_get_prandom_u32() & 7) ? 1 : 0;
}
