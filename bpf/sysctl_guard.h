/* Event, rule and config layouts of sysctl_guard.bpf.c, shared with user space (probe/guard-codec.ts encodes and
 * decodes them; the _Static_asserts pin the sizes it relies on). Little-endian host order. */
#ifndef KD_SYSCTL_GUARD_H
#define KD_SYSCTL_GUARD_H

#define KD_SG_NAME_LEN 128  /* "net/ipv4/tcp_window_scaling": the key relative to /proc/sys, NUL-padded */
#define KD_SG_VAL_LEN 128   /* old / new value text as the kernel hands it over (NUL-terminated, maybe truncated) */
#define KD_SG_MAX_FIELDS 4  /* tuple sysctls: tcp_rmem has 3, ip_local_port_range 2 */
#define KD_SG_MAX_ALTS 4    /* equals = one alternative, oneOf up to four */
#define KD_SG_TEXT_LEN 64

/* Mode of one attachment (kd_sg_cfg). */
#define KD_SG_MODE_AUDIT 0 /* record, always allow */
#define KD_SG_MODE_DENY 1  /* record, refuse writes that contradict a rule */

/* Rule kinds (kd_sg_rules values). */
#define KD_SG_RULE_RANGE 1 /* every given field within [min, max] */
#define KD_SG_RULE_SET 2   /* the resulting tuple equals one of the alternatives */
#define KD_SG_RULE_TEXT 3  /* the new value is byte-equal to one of the texts (user space stores "v" and "v\n") */

/* Why a write was refused, or would have been (audit mode). */
#define KD_SG_OK 0
#define KD_SG_POLICY 1      /* contradicts the rule of a protected key */
#define KD_SG_NOT_NETNS 2   /* sandbox: the write would land outside the sandbox's own network namespace */
#define KD_SG_UNPARSED 3    /* protected key, but the new value could not be read or parsed: refused to be safe */

/* Event flags. */
#define KD_SG_F_NAME_TRUNC 1
#define KD_SG_F_OLD_UNREADABLE 2
#define KD_SG_F_NEW_TRUNC 4
#define KD_SG_F_PROTECTED 8  /* the key has a rule */
#define KD_SG_F_DENIED 16    /* the writer got EPERM */
#define KD_SG_F_PARTIAL 32   /* write at a non-zero file position */

struct kd_sg_cfg {
	__u8 mode;       /* KD_SG_MODE_* */
	__u8 sandbox;    /* 1: refuse writes outside the netns in kd_sg_netns, and to keys outside net/ */
	__u8 pad[6];
};

struct kd_sg_rule {
	__u8 kind;       /* KD_SG_RULE_* */
	__u8 nfields;    /* 1..KD_SG_MAX_FIELDS (RANGE, SET) */
	__u8 nalts;      /* 1..KD_SG_MAX_ALTS (SET, TEXT) */
	__u8 pad[5];
	__s64 min[KD_SG_MAX_FIELDS];
	__s64 max[KD_SG_MAX_FIELDS];
	__s64 alts[KD_SG_MAX_ALTS][KD_SG_MAX_FIELDS];
	char text[KD_SG_MAX_ALTS][KD_SG_TEXT_LEN];
};

struct kd_sg_event {
	__u64 ts_ns;          /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u64 cgroup_id;
	__u32 pid;            /* thread id */
	__u32 tgid;           /* process id */
	__u32 ppid;           /* tgid of real_parent */
	__u32 netns;          /* inode number of the writer's network namespace (as in /proc/PID/ns/net) */
	__u32 uid;
	__u8 verdict;         /* KD_SG_OK or why it conflicts (refused when KD_SG_F_DENIED) */
	__u8 flags;           /* KD_SG_F_* */
	__u16 pad;
	__s32 old_len;        /* helper return: length, or -errno */
	__s32 new_len;
	char comm[16];
	char pcomm[16];
	char name[KD_SG_NAME_LEN];
	char old_value[KD_SG_VAL_LEN];
	char new_value[KD_SG_VAL_LEN];
};

_Static_assert(sizeof(struct kd_sg_cfg) == 8, "kd_sg_cfg is encoded by probe/guard-codec.ts");
_Static_assert(sizeof(struct kd_sg_rule) == 8 + 64 + 128 + 256, "kd_sg_rule is encoded by probe/guard-codec.ts");
_Static_assert(sizeof(struct kd_sg_event) == 48 + 32 + 128 * 3, "kd_sg_event is decoded by probe/guard-codec.ts");

#endif
