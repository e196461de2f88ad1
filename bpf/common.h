/* Shared by every kdrift BPF program: constants vmlinux.h lacks, and the in-kernel filter.
 * Every program here only observes: sock_ops and cgroup_skb programs always return 1 (allow). */
#ifndef KD_COMMON_H
#define KD_COMMON_H

#define AF_INET 2
#define AF_INET6 10
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define IPPROTO_TCP 6
#define SOL_TCP 6
#define TCP_SAVE_SYN 27
#define TCPOPT_WINDOW 3
#define ENOENT 2
#define ENOMSG 42

/* Direction of a connection as seen from this host. */
#define KD_DIR_UNKNOWN 0
#define KD_DIR_OUT 1 /* we connected (active open): the key port is the remote (service) port */
#define KD_DIR_IN 2  /* we accepted (passive open): the key port is our local (listening) port */

/* Filter configuration, written by user space into the array map kd_*_cfg at index 0. */
struct kd_cfg {
	__u8 ns_filter;   /* 1: only netns cookies present in the watch_ns map */
	__u8 port_filter; /* 1: only ports present in the watch_port map */
	__u8 events;      /* KD_EV_* bits: which per-connection events to emit (tcp_wscale only) */
	__u8 sample_shift; /* emit one event per 2^shift connections per CPU */
	__u8 own_filter;  /* 1: look connections up in kd_ws_own (the agent drives test connections) */
	__u8 pad[3];
};

/* Event classes. User space turns a class off once it holds enough samples of it, so a busy host pays for a few
 * hundred events, not one per connection; the counters stay exact. */
#define KD_EV_NEGOTIATED 1
#define KD_EV_LACKING 2

#endif
