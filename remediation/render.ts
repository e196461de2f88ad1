/**
 * Text for `kdrift fix`: the plan (per key what changes, then the exact diffs) and the outcome per host. Pure.
 * Everything here may carry host-originated text (file names, lines, values, error messages): each rendering goes
 * through terminalSafe, so a host cannot put escape sequences on the terminal of the user approving its plan.
 */
import type { HostOutcome, RemediationPlan, UndoOutcome } from './host.js';
import type { SysctlPlan } from './sysctl.js';
import type { KindPlan } from './kind.js';
import type { RevertOutcome, RevertPlan } from './revert.js';
import { terminalSafe } from '../core/terminal-text.js';

function isSysctlPlan(p: KindPlan): p is SysctlPlan {
  return p.kind === 'sysctl' && 'details' in p;
}

export function renderPlan(plan: RemediationPlan): string {
  const out: string[] = [];
  const runtime = plan.plans.reduce((n, p) => n + p.runtime.length, 0);
  const files = plan.plans.reduce((n, p) => n + p.files.length, 0);
  out.push(`${plan.host}: ${runtime === 0 && files === 0 ? 'nothing to change' : `${runtime} runtime change${runtime === 1 ? '' : 's'}, ${files} file change${files === 1 ? '' : 's'}`}`);
  if (plan.unfinished) {
    out.push(`  ! an earlier fix left journal ${plan.unfinished.journal} (${plan.unfinished.status}, ${plan.unfinished.createdAt}): kdrift fix rolls it back first; kdrift fix --undo restores it now`);
  }
  for (const p of plan.plans) {
    if (isSysctlPlan(p)) {
      for (const d of p.details) {
        const parts: string[] = [];
        const show = (v: string | null | undefined) => (v === null || v === undefined ? '?' : v.replace(/\s+/g, ' '));
        parts.push(d.runtimeChanges ? `runtime ${show(d.runtime)} → ${d.target}` : `runtime ${show(d.runtime)} (ok)`);
        if (d.persistedChanges) parts.push(`persisted ${d.persisted ? `${show(d.persisted.value)} (${d.persisted.source})` : 'nothing'} → ${d.target} (/etc/sysctl.d/90-kdrift.conf)`);
        else parts.push(`persisted ${show(d.persisted?.value)} (ok)`);
        out.push(`  ${d.key}  ${parts.join('; ')}   [expected ${d.expected}]`);
        for (const n of d.neutralised) out.push(`      disables ${n.file}:${n.line}: ${n.text.trim()}`);
      }
    } else {
      for (const c of p.runtime) out.push(`  ${p.kind} ${c.key}: ${c.from ?? '?'} → ${c.to}`);
    }
    for (const s of p.skipped) out.push(`  skipped ${s.key}: ${s.reason}`);
  }
  for (const p of plan.plans) {
    for (const f of p.files) {
      out.push(`  # ${f.path}: ${f.why}`);
      out.push(...f.diff.replace(/\n$/, '').split('\n').map((l) => `  ${l}`));
    }
  }
  return terminalSafe(`${out.join('\n')}\n`);
}

const STATUS_TEXT: Record<HostOutcome['status'], string> = {
  'nothing-to-do': 'nothing to do',
  planned: 'planned (dry run: nothing changed)',
  verified: 'applied and VERIFIED',
  'rolled-back': 'NOT fixed: ROLLED BACK (as it was)',
  unchanged: 'NOT fixed: nothing was changed',
  unfinished: 'UNFINISHED: changes applied but not verified',
  'rollback-failed': 'ROLLBACK FAILED: needs a person',
  error: 'ERROR',
};

export function renderOutcome(o: HostOutcome): string {
  const secs = (ms: number | undefined) => (ms === undefined ? '' : `${(ms / 1000).toFixed(1)} s`);
  const lines = [`${o.host}: ${STATUS_TEXT[o.status]}${o.status === 'verified' || o.status === 'rolled-back' ? ` in ${secs(o.timings.totalMs)}` : ''}`];
  if (o.recovered) lines.push(`  first rolled back an earlier unfinished fix (journal ${o.recovered.journal}, was ${o.recovered.status})`);
  if (o.status === 'verified') {
    const keys = o.plan?.plans.flatMap((p) => p.keys) ?? [];
    lines.push(`  ${keys.join(', ')}: ok in runtime and persisted`);
    if (o.behaviours?.length) lines.push(`  behaviour ok: ${o.behaviours.join(', ')}`);
    if (o.reconnected) lines.push('  (the SSH session dropped and was re-opened)');
  }
  for (const r of o.reasons) lines.push(`  ${r}`);
  if (o.status !== 'planned') {
    for (const b of o.plan?.plans.flatMap((p) => p.skipped.filter((s) => s.blocked)) ?? []) lines.push(`  could NOT fix ${b.key}: ${b.reason}`);
  }
  for (const u of o.plan?.plans.flatMap((p) => p.skipped.filter((s) => s.unknown)) ?? []) lines.push(`  left unknown ${u.key}: ${u.reason}`);
  if (o.journal) lines.push(`  journal: ${o.journal}`);
  return terminalSafe(`${lines.join('\n')}\n`);
}

export function renderUndo(o: UndoOutcome): string {
  const head: Record<UndoOutcome['status'], string> = {
    'nothing-to-undo': 'nothing to undo',
    'rolled-back': 'restored (rolled back)',
    'rollback-failed': 'RESTORE INCOMPLETE',
    unchanged: 'not undone',
    error: 'ERROR',
  };
  const lines = [`${o.host}: ${head[o.status]}`, ...o.reasons.map((r) => `  ${r}`)];
  for (const c of o.changedSince ?? []) lines.push(`  note: ${c} — overwritten by the restore`);
  if (o.journal) lines.push(`  journal: ${o.journal}`);
  return terminalSafe(`${lines.join('\n')}\n`);
}

/** `kdrift fix --revert`: what will be put back, from which journal, and what is kept because it changed since. */
export function renderRevertPlan(p: RevertPlan): string {
  const lines = [`${p.host}: revert the fix of ${p.fixedAt} (journal ${p.journal}): ${p.runtime.length} runtime value${p.runtime.length === 1 ? '' : 's'}, ${p.files.length} file${p.files.length === 1 ? '' : 's'}`];
  for (const r of p.runtime) lines.push(`  ${r.key}  runtime ${r.now ?? '?'} → ${r.to}${r.changedSince ? '   (changed since the fix)' : ''}`);
  for (const f of p.files) {
    lines.push(`  # ${f.path}: ${f.action === 'remove' ? 'remove (kdrift created it)' : 'restore the bytes from before the fix'}${f.saveAs ? `; changed since the fix, the current file is kept as ${f.saveAs}` : ''}`);
    lines.push(...f.diff.replace(/\n$/, '').split('\n').map((l) => `  ${l}`));
  }
  return terminalSafe(`${lines.join('\n')}\n`);
}

export function renderRevertOutcome(o: RevertOutcome): string {
  const head: Record<RevertOutcome['status'], string> = {
    'nothing-to-revert': 'nothing to revert',
    planned: 'revert planned (dry run: nothing changed)',
    reverted: 'REVERTED (as before the fix)',
    unchanged: 'NOT reverted: nothing was changed',
    'revert-failed': 'REVERT INCOMPLETE: needs a person',
    error: 'ERROR',
  };
  const lines = [`${o.host}: ${head[o.status]}`, ...o.reasons.map((r) => `  ${r}`)];
  if (o.journal) lines.push(`  journal: ${o.journal}`);
  return terminalSafe(`${lines.join('\n')}\n`);
}
