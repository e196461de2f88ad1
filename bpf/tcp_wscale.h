/* Event and counter layouts of tcp_wscale.bpf.c, shared with user space (probe/codec.ts decodes them). */
#ifndef KD_TCP_WSCALE_H
#define KD_TCP_WSCALE_H

/* Did a side offer window scaling in its SYN / SYN-ACK? */
#define KD_OFFER_NO 0
#define KD_OFFER_YES 1
#define KD_OFFER_UNKNOWN 2

/* Outcome of one connection's negotiation. */
#define KD_WS_NEGOTIATED 0
#define KD_WS_LACKED_LOCAL 1   /* this host's netns has tcp_window_scaling=0 */
#define KD_WS_LACKED_PEER 2    /* the peer (or a middlebox on the path) did not offer it */
#define KD_WS_LACKED_UNKNOWN 3

/* 64 bytes, little-endian host order except addresses (network order, v4 in the first 4 bytes). */
struct kd_ws_event {
	__u64 netns_cookie;
	__u64 ts_ns;          /* bpf_ktime_get_ns() */
	__u8 family;          /* 4 or 6 */
	__u8 direction;       /* KD_DIR_* */
	__u8 wscale_ok;
	__u8 snd_wscale;      /* the peer's shift (applied to windows we receive) */
	__u8 rcv_wscale;      /* our shift */
	__u8 local_offered;   /* KD_OFFER_* */
	__u8 peer_offered;    /* KD_OFFER_* */
	__u8 outcome;         /* KD_WS_* */
	__u16 local_port;
	__u16 remote_port;
	__u8 own;             /* 1: one of the agent's own test connections (kd_ws_own) */
	__u8 pad[3];
	__u8 local_addr[16];
	__u8 remote_addr[16];
};

/* Counter key: (netns, service port, direction, outcome) → per-CPU u64. */
struct kd_ws_key {
	__u64 netns_cookie;
	__u16 port;
	__u8 direction;
	__u8 outcome;
	__u8 own;             /* 1: the agent's own test connection: counted apart from real traffic */
	__u8 pad[3];
};

_Static_assert(sizeof(struct kd_ws_event) == 64, "kd_ws_event layout is decoded by probe/codec.ts");
_Static_assert(sizeof(struct kd_ws_key) == 16, "kd_ws_key layout is encoded by probe/codec.ts");

#endif
