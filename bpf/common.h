/* Shared by every kdrift BPF program: constants vmlinux.h lacks, and the in-kernel filter.
 * Every program here only observes: sock_ops programs always return 1 (allow), tracing programs change nothing. */
#ifndef KD_COMMON_H
#define KD_COMMON_H

#define AF_INET 2
#define AF_INET6 10
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define IPPROTO_TCP 6
#define SOCK_STREAM 1
#define SOL_TCP 6
#define TCP_CONGESTION 13

/* Direction of a connection as seen from this host. */
#define KD_DIR_UNKNOWN 0
#define KD_DIR_OUT 1 /* we connected (active open): the key port is the remote (service) port */
#define KD_DIR_IN 2  /* we accepted (passive open): the key port is our local (listening) port */

/* Filter configuration, written by user space into the array map kd_*_cfg at index 0. The netns cookie and up to
 * KD_CFG_PORTS ports are compared inline: an array lookup is inlined by the verifier, a hash lookup is a call and a
 * hash, and these run on every new connection (or segment) of the host. */
#define KD_CFG_PORTS 8
#define KD_PORTS_ANY 0    /* every port */
#define KD_PORTS_INLINE 1 /* ports[0 .. nports) */
#define KD_PORTS_MAP 2    /* the <prefix>_port hash (more ports than fit inline) */
struct kd_cfg {
	__u8 ns_filter;    /* 1: only netns_cookie */
	__u8 port_filter;  /* KD_PORTS_* */
	__u8 events;       /* KD_EV_* bits: which per-connection events to emit (0: counters only) */
	__u8 sample_shift; /* emit one event per 2^shift connections per CPU */
	__u8 own_filter;   /* 1: look connections up in kd_ws_own (the agent drives test connections) */
	__u8 nports;
	__u8 pad[2];
	__u64 netns_cookie;
	__u16 ports[KD_CFG_PORTS];
};

_Static_assert(sizeof(struct kd_cfg) == 32, "kd_cfg layout is encoded by probe/codec.ts");

/* Event classes. User space turns a class off once it holds enough samples of it, so a busy host pays for a few
 * hundred events, not one per connection; the counters stay exact. */
#define KD_EV_NEGOTIATED 1
#define KD_EV_LACKING 2
/* The filter maps every observer has, named <prefix>_cfg (struct kd_cfg at index 0) and <prefix>_port (watched
 * service ports beyond KD_CFG_PORTS), written by user space before anything is attached. */
#define KD_FILTER_MAPS(prefix)                         \
	struct {                                       \
		__uint(type, BPF_MAP_TYPE_ARRAY);      \
		__uint(max_entries, 1);                \
		__type(key, __u32);                    \
		__type(value, struct kd_cfg);          \
	} prefix##_cfg SEC(".maps");                   \
	struct {                                       \
		__uint(type, BPF_MAP_TYPE_HASH);       \
		__uint(max_entries, 256);              \
		__type(key, __u16);                    \
		__type(value, __u8);                   \
	} prefix##_port SEC(".maps")

static __always_inline int kd_ns_watched(const struct kd_cfg *cfg, __u64 ns)
{
	return !cfg->ns_filter || ns == cfg->netns_cookie;
}

/* The index of `port` among the inline ports (KD_PORTS_INLINE), -1 when it is not one of them. */
static __always_inline int kd_port_index(const struct kd_cfg *cfg, __u16 port)
{
	__u8 n = cfg->nports;
#pragma unroll
	for (int i = 0; i < KD_CFG_PORTS; i++)
		if (i < n && cfg->ports[i] == port)
			return i;
	return -1;
}

/* Is `port` watched? `port_map` is the observer's <prefix>_port. */
static __always_inline int kd_port_watched(const struct kd_cfg *cfg, void *port_map, __u16 port)
{
	if (cfg->port_filter == KD_PORTS_ANY)
		return 1;
	if (cfg->port_filter == KD_PORTS_MAP)
		return bpf_map_lookup_elem(port_map, &port) != 0;
	return kd_port_index(cfg, port) >= 0;
}

/* Adds 1 to slot `idx` of a per-CPU u64 statistics array. */
static __always_inline void kd_stat_add(void *map, __u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(map, &idx);
	if (v)
		*v += 1;
}

/* Adds 1 to `key` of a per-CPU u64 counter hash, inserting it when new. Returns 0, or -1 when the map is full. */
static __always_inline int kd_count(void *map, const void *key)
{
	__u64 *v = bpf_map_lookup_elem(map, key);
	if (v) {
		*v += 1;
		return 0;
	}
	__u64 one = 1;
	if (bpf_map_update_elem(map, key, &one, BPF_NOEXIST) == 0)
		return 0;
	v = bpf_map_lookup_elem(map, key); /* another CPU inserted it meanwhile */
	if (v) {
		*v += 1;
		return 0;
	}
	return -1;
}

/* tcp_cc: emit a sample per connection (user space clears it once it holds enough). */
#define KD_EV_SAMPLE 1

/* A sock_ops connection's family and addresses into 16-byte network-order slots (v4 in the first 4 bytes). Shared by
 * the sock_ops observers' events. */
static __always_inline __u8 kd_sockops_addrs(struct bpf_sock_ops *skops, __u8 *local, __u8 *remote)
{
	__builtin_memset(local, 0, 16);
	__builtin_memset(remote, 0, 16);
	if (skops->family == AF_INET) {
		__u32 l4 = skops->local_ip4, r4 = skops->remote_ip4;
		__builtin_memcpy(local, &l4, 4);
		__builtin_memcpy(remote, &r4, 4);
		return 4;
	}
	__u32 *l6 = (__u32 *)local, *r6 = (__u32 *)remote;
	l6[0] = skops->local_ip6[0];
	l6[1] = skops->local_ip6[1];
	l6[2] = skops->local_ip6[2];
	l6[3] = skops->local_ip6[3];
	r6[0] = skops->remote_ip6[0];
	r6[1] = skops->remote_ip6[1];
	r6[2] = skops->remote_ip6[2];
	r6[3] = skops->remote_ip6[3];
	return 6;
}

/* A full socket's family and addresses into 16-byte network-order slots (v4 in the first 4 bytes), for the tracing
 * observers' events (BTF reads). */
static __always_inline __u8 kd_sock_addrs(const struct sock *sk, __u8 *local, __u8 *remote)
{
	__builtin_memset(local, 0, 16);
	__builtin_memset(remote, 0, 16);
	if (sk->__sk_common.skc_family == AF_INET) {
		__u32 l4 = sk->__sk_common.skc_rcv_saddr, r4 = sk->__sk_common.skc_daddr;
		__builtin_memcpy(local, &l4, 4);
		__builtin_memcpy(remote, &r4, 4);
		return 4;
	}
	__u32 *l6 = (__u32 *)local, *r6 = (__u32 *)remote;
	l6[0] = sk->__sk_common.skc_v6_rcv_saddr.in6_u.u6_addr32[0];
	l6[1] = sk->__sk_common.skc_v6_rcv_saddr.in6_u.u6_addr32[1];
	l6[2] = sk->__sk_common.skc_v6_rcv_saddr.in6_u.u6_addr32[2];
	l6[3] = sk->__sk_common.skc_v6_rcv_saddr.in6_u.u6_addr32[3];
	r6[0] = sk->__sk_common.skc_v6_daddr.in6_u.u6_addr32[0];
	r6[1] = sk->__sk_common.skc_v6_daddr.in6_u.u6_addr32[1];
	r6[2] = sk->__sk_common.skc_v6_daddr.in6_u.u6_addr32[2];
	r6[3] = sk->__sk_common.skc_v6_daddr.in6_u.u6_addr32[3];
	return 6;
}

#endif
