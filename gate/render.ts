/** The gate's report: text for people, JSON for CI (the GateResult as is, bigint-free). */
import type { GateResult } from './run.js';
import type { JudgedWrite } from './judge.js';

export function writer(w: Pick<JudgedWrite, 'process' | 'netns' | 'host'>): string {
  const p = w.process;
  return `${p.comm}[${p.pid}] (parent ${p.parentComm}[${p.ppid}]) in netns ${w.netns}${w.host ? ` (host ${w.host})` : ''}`;
}

function describeWrite(w: JudgedWrite): string {
  const change = `${w.key} ${w.oldValue ?? '?'} -> ${w.result}`;
  const expected = w.expected ? ` (expected ${w.expected})` : '';
  const fate = w.refused ? (w.kernelVerdict === 'not-netns' ? ' — refused: not in the sandbox\'s namespace' : ' — refused (EPERM)') : '';
  return `${change}${expected} by ${writer(w)}${fate}`;
}

export function renderGateText(r: GateResult, verbose: boolean): string {
  const lines: string[] = [];
  const st = r.commandStatus;
  lines.push(
    `kdrift gate: role ${r.roles.join(', ')}, mode ${r.mode}${r.sandbox ? ', sandbox' : ', live host'}; ` +
      `command ${st.signal ? `killed by ${st.signal}` : `exited ${st.code}`}: ${r.command.join(' ')}`,
  );
  for (const w of r.writes.filter((x) => x.conflict)) lines.push(`CONFLICT  ${describeWrite(w)}`);
  for (const p of r.persisted.filter((x) => x.conflict)) {
    lines.push(`CONFLICT  ${p.key} = ${p.value} persisted at ${p.source}${p.expected ? ` (expected ${p.expected})` : ''}${p.before ? `; before: ${p.before.value} at ${p.before.source}` : ''}`);
  }
  const blocked = r.writes.filter((w) => !w.conflict && w.refused);
  for (const w of blocked) lines.push(`blocked   ${describeWrite(w)}`);
  if (verbose) {
    for (const w of r.writes.filter((x) => !x.conflict && !x.refused)) lines.push(`allowed   ${describeWrite(w)}`);
    for (const p of r.persisted.filter((x) => !x.conflict)) lines.push(`persisted ${p.key} = ${p.value} at ${p.source}`);
    for (const n of r.notEnforced) lines.push(`note      ${n.key} is judged here but not enforced in the kernel: ${n.why}`);
  }
  if (r.droppedRecords > 0) lines.push(`warning   ${r.droppedRecords} writes were not recorded (the guard's ring buffer was full)`);
  const allowed = r.writes.length - blocked.length - r.writes.filter((w) => w.conflict).length;
  lines.push(
    `${r.conflicts === 0 ? 'ok' : 'FAIL'}: ${r.conflicts} conflict${r.conflicts === 1 ? '' : 's'}; ${r.writes.length} runtime writes ` +
      `(${r.refused} refused, ${allowed} other allowed), ${r.persisted.length} persisted changes`,
  );
  return lines.join('\n') + '\n';
}

export function renderGateJson(r: GateResult): string {
  return JSON.stringify(r) + '\n';
}
