/* Counter layouts of tcp_stalls.bpf.c, shared with user space (probe/codec.ts decodes them). */
#ifndef KD_TCP_STALLS_H
#define KD_TCP_STALLS_H

/* Key: (netns, service port, direction). The service port is the watched port of the segment's connection (local:
 * direction "in", remote: "out"), or without a port filter the lower of the two ports. */
struct kd_st_key {
	__u64 netns_cookie;
	__u16 port;
	__u8 direction;
	__u8 pad1;
	__u32 pad2;
};

/* Per-CPU values, summed in user space. */
struct kd_st_val {
	__u64 zero_win_sent;   /* segments we sent advertising a zero window (we could not take more) */
	__u64 zero_win_recv;   /* segments from the peer advertising a zero window (it could not take more) */
	__u64 zw_probes_sent;  /* window probes we sent while the peer's window was zero */
	__u64 zw_probes_recv;  /* window probes the peer sent while our window was zero */
	__u64 retransmits;     /* tcp_retransmit_skb calls */
	__u64 data_segs_out;   /* data segments sent (GSO counted per segment), retransmits included */
	__u64 segs_in;         /* data segments received */
	__u64 pad;
};

_Static_assert(sizeof(struct kd_st_key) == 16, "kd_st_key layout is encoded by probe/codec.ts");
_Static_assert(sizeof(struct kd_st_val) == 64, "kd_st_val layout is decoded by probe/codec.ts");

#endif
