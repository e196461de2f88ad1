/* Event and counter layouts of tcp_cc.bpf.c, shared with user space (probe/observers/congestion-codec.ts decodes them). */
#ifndef KD_TCP_CC_H
#define KD_TCP_CC_H

#define KD_CC_NAME_MAX 16 /* TCP_CA_NAME_MAX */

/* Counter key: (netns, service port, direction, algorithm) → per-CPU u64 connections. */
struct kd_cc_key {
	__u64 netns_cookie;
	__u16 port;
	__u8 direction; /* KD_DIR_* */
	__u8 pad1;
	__u32 pad2;
	char algo[KD_CC_NAME_MAX]; /* NUL-padded; empty when the kernel would not say */
};

/* One sampled connection: 72 bytes, little-endian host order except addresses (network order, v4 in the first 4). */
struct kd_cc_event {
	__u64 netns_cookie;
	__u64 ts_ns; /* bpf_ktime_get_ns() */
	__u8 family; /* 4 or 6 */
	__u8 direction;
	__u16 local_port;
	__u16 remote_port;
	__u16 pad;
	char algo[KD_CC_NAME_MAX];
	__u8 local_addr[16];
	__u8 remote_addr[16];
};

_Static_assert(sizeof(struct kd_cc_key) == 32, "kd_cc_key layout is decoded by probe/observers/congestion-codec.ts");
_Static_assert(sizeof(struct kd_cc_event) == 72, "kd_cc_event layout is decoded by probe/observers/congestion-codec.ts");

#endif
