// SPDX-License-Identifier: GPL-2.0
/* The sysctl guard: a cgroup/sysctl program. For every write to /proc/sys by a task of the attached cgroup (and its
 * descendants, in any netns) it records who wrote what — thread/process id, comm, parent, cgroup, the writer's network
 * namespace, the key, the value before and the value written — into a ring buffer, and decides:
 *   - deny mode: a write that contradicts the rule of a protected key (kd_sg_rules, compiled by user space from the
 *     declared baseline) is refused: return 0, the writer gets EPERM;
 *   - sandbox: a write that would not land in the sandbox's own network namespace (a key outside net/, or a writer in
 *     another netns) is refused in any mode, so nothing reaches the machine;
 *   - audit mode (and everything else): allowed, recorded.
 * Values are parsed as the kernel's proc_dointvec parses them (base 0: "0", "0\n", "  0", "0x0" are all 0); a write
 * that gives fewer fields than a tuple sysctl has leaves the rest unchanged, so the rule is checked on the tuple the
 * write results in (new fields, then the current value's). Records are submitted without wakeups: user space drains
 * the ring on a short timer. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "sysctl_guard.h"

char LICENSE[] SEC("license") = "GPL";

#define E2BIG 7

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kd_sg_cfg);
} kd_sg_cfg SEC(".maps");

/* Protected keys: name (NUL-padded) → rule. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, char[KD_SG_NAME_LEN]);
	__type(value, struct kd_sg_rule);
} kd_sg_rules SEC(".maps");

/* Sandbox: network namespaces (inode numbers) whose net/ keys may be written. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u8);
} kd_sg_netns SEC(".maps");

/* The event is built here (too big for the stack), then copied into the ring. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kd_sg_event);
} kd_sg_scratch SEC(".maps");

/* 1 MiB: ~2200 records; `sysctl --system` writes a few hundred keys at once. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} kd_sg_events SEC(".maps");

/* Per-CPU statistics: [0] records dropped (ring full), [1] writes seen, [2] writes refused. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} kd_sg_stat SEC(".maps");

static __always_inline void stat_add(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&kd_sg_stat, &idx);
	if (v)
		*v += 1;
}

/* The helpers below are global functions: the verifier checks each once, on its own, instead of along every path of
 * the caller (inlined, the parse loops times the rule kinds exceed its 1M-instruction budget). */

struct kd_sg_fields {
	__s64 v[KD_SG_MAX_FIELDS];
};

/* Up to KD_SG_MAX_FIELDS integers from the new (which = 0) or the old (which = 1) value; returns how many parsed. */
__noinline int kd_sg_parse(struct kd_sg_event *e, int which, struct kd_sg_fields *out)
{
	if (!e || !out)
		return 0;
	char *buf = which ? e->old_value : e->new_value;
	int off = 0, n = 0;
#pragma unroll
	for (int i = 0; i < KD_SG_MAX_FIELDS; i++) {
		if (n == i && off >= 0 && off < KD_SG_VAL_LEN / 2) {
			long v = 0;
			long r = bpf_strtol(buf + off, KD_SG_VAL_LEN / 2, 0, &v);
			if (r > 0) {
				out->v[i] = v;
				off += r;
				n = i + 1;
			}
		}
	}
	return n;
}

/* TEXT rule: the new value, NUL-padded, is byte-equal to one of the texts (user space stores the forms writers use:
 * "v" and "v\n"). No data-dependent branch in the loop: the verifier walks it once per alternative. */
__noinline int kd_sg_text_matches(struct kd_sg_rule *rule, struct kd_sg_event *e)
{
	if (!rule || !e)
		return 0;
	if (e->new_len < 0 || e->new_len >= KD_SG_TEXT_LEN)
		return 0;
	for (int a = 0; a < KD_SG_MAX_ALTS; a++) {
		if (a >= rule->nalts)
			break;
		char diff = 0;
		for (int i = 0; i < KD_SG_TEXT_LEN; i++)
			diff |= rule->text[a][i] ^ e->new_value[i];
		if (!diff)
			return 1;
	}
	return 0;
}

/* KD_SG_OK, KD_SG_POLICY or KD_SG_UNPARSED for a write to a protected key. */
__noinline int kd_sg_judge(struct kd_sg_rule *rule, struct kd_sg_event *e)
{
	if (!rule || !e)
		return KD_SG_UNPARSED;
	if (e->flags & KD_SG_F_PARTIAL)
		return KD_SG_UNPARSED;
	if (e->new_len < 0 && e->new_len != -E2BIG)
		return KD_SG_UNPARSED;
	if (rule->kind == KD_SG_RULE_TEXT)
		return kd_sg_text_matches(rule, e) ? KD_SG_OK : KD_SG_POLICY;

	struct kd_sg_fields nv = {}, ov = {}, res = {};
	int nn = kd_sg_parse(e, 0, &nv);
	if (nn == 0)
		return KD_SG_UNPARSED;
	int no = (e->flags & KD_SG_F_OLD_UNREADABLE) ? 0 : kd_sg_parse(e, 1, &ov);
	int nf = rule->nfields;
	int unknown = 0, out_of_range = 0;
#pragma unroll
	for (int f = 0; f < KD_SG_MAX_FIELDS; f++) {
		if (f < nf) {
			if (f < nn)
				res.v[f] = nv.v[f];
			else if (f < no)
				res.v[f] = ov.v[f];
			else
				unknown = 1; /* the resulting tuple cannot be known */
			if (res.v[f] < rule->min[f] || res.v[f] > rule->max[f])
				out_of_range = 1;
		}
	}
	if (unknown)
		return KD_SG_UNPARSED;
	if (rule->kind == KD_SG_RULE_RANGE)
		return out_of_range ? KD_SG_POLICY : KD_SG_OK;
	for (int a = 0; a < KD_SG_MAX_ALTS; a++) {
		if (a >= rule->nalts)
			break;
		int same = 1;
		if (nf > 0 && res.v[0] != rule->alts[a][0])
			same = 0;
		if (nf > 1 && res.v[1] != rule->alts[a][1])
			same = 0;
		if (nf > 2 && res.v[2] != rule->alts[a][2])
			same = 0;
		if (nf > 3 && res.v[3] != rule->alts[a][3])
			same = 0;
		if (same)
			return KD_SG_OK;
	}
	return KD_SG_POLICY;
}

SEC("cgroup/sysctl")
int kd_sg_sysctl(struct bpf_sysctl *ctx)
{
	__u32 zero = 0;
	if (!ctx->write)
		return 1;
	struct kd_sg_cfg *cfg = bpf_map_lookup_elem(&kd_sg_cfg, &zero);
	struct kd_sg_event *e = bpf_map_lookup_elem(&kd_sg_scratch, &zero);
	if (!cfg || !e)
		return 1;
	stat_add(1);

	__builtin_memset(e->name, 0, sizeof(e->name)); /* the hash key: NUL-padded */
	e->flags = ctx->file_pos != 0 ? KD_SG_F_PARTIAL : 0;
	if (bpf_sysctl_get_name(ctx, e->name, sizeof(e->name), 0) == -E2BIG)
		e->flags |= KD_SG_F_NAME_TRUNC;
	e->old_len = bpf_sysctl_get_current_value(ctx, e->old_value, sizeof(e->old_value));
	if (e->old_len < 0 && e->old_len != -E2BIG) {
		e->flags |= KD_SG_F_OLD_UNREADABLE;
		e->old_value[0] = 0;
	}
	__builtin_memset(e->new_value, 0, sizeof(e->new_value)); /* compared NUL-padded by TEXT rules */
	e->new_len = bpf_sysctl_get_new_value(ctx, e->new_value, sizeof(e->new_value));
	if (e->new_len == -E2BIG)
		e->flags |= KD_SG_F_NEW_TRUNC;
	else if (e->new_len < 0)
		e->new_value[0] = 0;

	struct task_struct *task = bpf_get_current_task_btf();
	e->pid = BPF_CORE_READ(task, pid);
	e->tgid = BPF_CORE_READ(task, tgid);
	struct task_struct *parent = BPF_CORE_READ(task, real_parent);
	e->ppid = BPF_CORE_READ(parent, tgid);
	bpf_probe_read_kernel_str(e->pcomm, sizeof(e->pcomm), &parent->comm);
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	e->netns = BPF_CORE_READ(task, nsproxy, net_ns, ns.inum);
	e->cgroup_id = bpf_get_current_cgroup_id();
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->ts_ns = bpf_ktime_get_ns();

	__u8 verdict = KD_SG_OK;
	struct kd_sg_rule *rule = bpf_map_lookup_elem(&kd_sg_rules, e->name);
	if (rule) {
		e->flags |= KD_SG_F_PROTECTED;
		verdict = (__u8)kd_sg_judge(rule, e);
	}
	int deny = cfg->mode == KD_SG_MODE_DENY && verdict != KD_SG_OK;
	if (cfg->sandbox) {
		int contained = e->name[0] == 'n' && e->name[1] == 'e' && e->name[2] == 't' && e->name[3] == '/' &&
				bpf_map_lookup_elem(&kd_sg_netns, &e->netns) != 0;
		if (!contained) {
			verdict = KD_SG_NOT_NETNS;
			deny = 1;
		}
	}
	e->verdict = verdict;
	if (deny) {
		e->flags |= KD_SG_F_DENIED;
		stat_add(2);
	}
	e->pad = 0;
	if (bpf_ringbuf_output(&kd_sg_events, e, sizeof(*e), BPF_RB_NO_WAKEUP) != 0)
		stat_add(0);
	return deny ? 0 : 1;
}

/* An empty program on the same hook, loaded only by bench/sysctl-guard.ts: what the hook itself costs (the kernel reads
 * the current value for any attached program) apart from what the guard does. */
SEC("cgroup/sysctl")
int kd_sg_noop(struct bpf_sysctl *ctx)
{
	return 1;
}
