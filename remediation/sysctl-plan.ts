/**
 * Pure planning for the sysctl remediation: from the declared expectations and the collected state (runtime values +
 * the sysctl.d family as bytes) to the exact runtime writes and file contents. No I/O here; remediation/sysctl.ts does
 * the reading and writing. Every rule (grammar, precedence of both boot appliers, drift) is core/sysctl-rules': this
 * file judges each key with the same judgeKey the report uses, and acts only on what it calls drift.
 *
 * Decisions (and why):
 *  - Which keys: a layer the report calls `drift`. A key the report leaves `unknown` is never changed: it is listed with
 *    the reason. A runtime drift whose persisted layer is unknown cannot be verified, so it is not fixed (listed as
 *    could-not-fix).
 *  - Target per key: remediation/target.ts (prefer the value a boot already applies, so runtime and boot agree).
 *  - Persistence in ONE kdrift-owned regular file, /etc/sysctl.d/90-kdrift.conf: header, keys sorted, `key = value`.
 *  - Lines that either applier reads AFTER kdrift's file and that leave another value (or, for systemd, a negative
 *    match) are neutralised: the one line systemd reads (between `\n`, `\r`, `\0`) becomes a dated kdrift comment, so
 *    nothing else on a `\r`-joined physical line changes for either applier. Earlier files cannot override.
 *  - A file in /etc (a link's target inside /etc too) is edited in place; a vendor file (/run, /usr/local/lib,
 *    /usr/lib, /lib) is shadowed by a same-named copy in /etc/sysctl.d (which wins for both appliers); a link leading
 *    outside /etc, a name or content that is not UTF-8 (kdrift's writes go through UTF-8 paths) are refused.
 *  - After the edits both appliers are resolved again on the would-be tree: a key that would not come out as the
 *    target under BOTH is skipped with the reason, never half-fixed.
 */
import path from 'node:path';
import type { RemediationPolicy, Baseline } from '../core/baseline.js';
import type { HostEntry } from '../core/inventory.js';
import type { Finding } from '../core/finding.js';
import {
  APPLIERS,
  assignmentSource,
  bufferOf,
  bytesFromText,
  confLines,
  describeExpectation,
  displayBytes,
  entryPath,
  judgeKey,
  kernelWrite,
  keyVerdict,
  mergeRoleSysctls,
  readAll,
  shapeOf,
  sourcesOf,
  systemdLines,
  textOf,
  type Bytes,
  type DeclaredSysctl,
  type SysctlEntry,
  type SysctlTree,
  withFileContents,
} from '../core/sysctl-rules/index.js';
import { observeSysctl, type SysctlState } from '../checks/index.js';
import { targetValue, sameSysctlValue } from './target.js';
import { unifiedDiff } from './diff.js';
import type { FileChange, RuntimeChange, SkippedKey, KindPlan } from './kind.js';

export const KDRIFT_CONF = '/etc/sysctl.d/90-kdrift.conf';
const KDRIFT_DIR = path.dirname(KDRIFT_CONF);
const KDRIFT_NAME = path.basename(KDRIFT_CONF);
export const KDRIFT_CONF_HEADER = [
  '# Managed by kdrift: the declared sysctls it remediated on this host, applied at boot by systemd-sysctl.',
  '# `kdrift fix` rewrites this file (keys sorted); change the baseline, not this file.',
  '# Conflicting lines in files applied after this one were disabled with a "# kdrift" marker.',
];

export interface DeclaredKey extends DeclaredSysctl {
  policy: RemediationPolicy;
}

/** The host's declared keys: the sysctl rules' role merge, with each key's remediation policy. */
export function declaredKeys(host: HostEntry, baseline: Baseline): Map<string, DeclaredKey> {
  const merged = mergeRoleSysctls(host.roles, baseline, `host ${host.name}`);
  return new Map([...merged].map(([k, d]) => [k, { ...d, policy: d.exp.remediation }]));
}

/** One systemd line to comment out. `file` is the path a boot reads; `editPath` the file kdrift writes. */
export interface LineNeutralisation {
  file: string;
  editPath: string;
  /** Set when editPath is a new copy in /etc/sysctl.d shadowing `file`. */
  shadowOf?: string;
  line: number;
  /** Byte range of the line in the file. */
  start: number;
  end: number;
  text: string;
  key: string;
}

export interface KeyDecision {
  key: string;
  expected: string;
  policy: RemediationPolicy;
  target: string;
  runtimeFrom: string | null;
  runtimeDrift: boolean;
  /** What systemd-sysctl applies now, and the file:line (null: nothing). */
  persistedFrom: { value: string; source: string } | null;
  persistedDrift: boolean;
  neutralise: LineNeutralisation[];
}

export interface DecideInput {
  declared: Map<string, DeclaredKey>;
  state: SysctlState;
  includeManual?: boolean;
  onlyKeys?: readonly string[];
  /** A report's findings: only keys they show drifted are planned. */
  findings?: readonly Finding[];
  host?: string;
}

const VENDOR_DIRS = ['/run/sysctl.d', '/usr/local/lib/sysctl.d', '/usr/lib/sysctl.d', '/lib/sysctl.d'];

/** Where kdrift writes to change `entry`, or why it will not. */
function editTarget(entry: SysctlEntry): { editPath: string; shadowOf?: string } | { refuse: string } {
  const where = displayBytes(entryPath(entry));
  const real = entry.target ?? entryPath(entry);
  if (textOf(real) === null || textOf(entryPath(entry)) === null) return { refuse: `${where}: its name is not valid UTF-8; kdrift does not edit it` };
  if (entry.content === undefined || textOf(entry.content) === null) return { refuse: `${where} is not valid UTF-8 text; kdrift does not edit it` };
  const realText = textOf(real) as string;
  if (realText.startsWith('/etc/')) return { editPath: realText };
  if (entry.target !== undefined) return { refuse: `${where} is a symlink to ${displayBytes(entry.target)}, outside /etc; kdrift does not edit it` };
  if (VENDOR_DIRS.includes(entry.dir)) return { editPath: `${KDRIFT_DIR}/${textOf(entry.name) as string}`, shadowOf: realText };
  return { refuse: `${where} is not in a directory kdrift edits` };
}

function kdriftEntry(tree: SysctlTree): SysctlEntry | undefined {
  return tree.entries.find((e) => e.dir === KDRIFT_DIR && e.name === KDRIFT_NAME);
}

/** Why kdrift cannot persist into its own file, if it cannot: it writes only a regular file it can read. */
function kdriftFileRefusal(tree: SysctlTree): string | undefined {
  const e = kdriftEntry(tree);
  if (!e) return undefined;
  if (e.kind === 'masked') return `${KDRIFT_CONF} is masked (a symlink to /dev/null): kdrift will not unmask it, so it cannot persist the value`;
  if (e.target !== undefined) return `${KDRIFT_CONF} is a symlink to ${displayBytes(e.target)}: kdrift writes only its own regular file`;
  if (e.kind !== 'file') return `${KDRIFT_CONF} is not a regular file kdrift can read (${e.kind})`;
  return undefined;
}

/** Renders kdrift's own file: header, then every assignment it holds (old ones kept, planned ones set), keys sorted. */
export function renderKdriftConf(existing: string | null, set: ReadonlyMap<string, string>): string {
  const values = new Map<string, string>();
  for (const l of confLines(bytesFromText(existing ?? ''), 'systemd-sysctl').lines) {
    if (l.value !== null && !l.glob) values.set(l.key, textOf(l.value) ?? displayBytes(l.value));
  }
  for (const [k, v] of set) values.set(k, v);
  const body = [...values.keys()].sort().map((k) => `${k} = ${values.get(k) as string}`);
  return `${[...KDRIFT_CONF_HEADER, ...body].join('\n')}\n`;
}

export function markerDate(now: Date): string {
  return now.toISOString().slice(0, 10);
}

/** The comment that replaces a neutralised line: names kdrift, the date, the declared value and the old line (escaped). */
export function neutralisedLine(text: string, key: string, target: string, now: Date): string {
  return `# kdrift ${markerDate(now)}: disabled, conflicts with declared ${key} = ${target}; was: ${displayBytes(bytesFromText(text.trim()))}`;
}

/** The would-be tree: kdrift's file with `values`, and the given line ranges replaced. */
function withEdits(tree: SysctlTree, kdrift: Bytes, edits: readonly LineNeutralisation[], targets: ReadonlyMap<string, string>, now: Date): { tree: SysctlTree; contents: Map<string, Bytes> } {
  const contents = new Map<string, Bytes>();
  const byFile = new Map<string, LineNeutralisation[]>();
  for (const e of edits) byFile.set(bytesFromText(e.editPath), [...(byFile.get(bytesFromText(e.editPath)) ?? []), e]);
  for (const [editPath, list] of byFile) {
    const source = list[0]?.shadowOf !== undefined ? bytesFromText(list[0].shadowOf) : editPath;
    const entry = [...tree.entries, ...(tree.sysctlConf ? [tree.sysctlConf] : [])].find((e) => (e.target ?? entryPath(e)) === source);
    let content = entry?.content ?? '';
    const unique = [...new Map(list.map((e) => [`${e.start}:${e.end}`, e])).values()].sort((a, b) => b.start - a.start);
    for (const e of unique) {
      content = content.slice(0, e.start) + bytesFromText(neutralisedLine(e.text, e.key, targets.get(e.key) as string, now)) + content.slice(e.end);
    }
    if (list[0]?.shadowOf) content = bytesFromText(`# kdrift ${markerDate(now)}: copy of ${list[0].shadowOf} that shadows it (same name in /etc/sysctl.d wins), conflicting lines disabled.\n`) + content;
    contents.set(editPath, content);
  }
  contents.set(KDRIFT_CONF, kdrift);
  return { tree: withFileContents(tree, contents), contents };
}

/** Lines either applier reads after kdrift's file that leave something other than `target` for `key`. */
function overridingLines(tree: SysctlTree, key: string, target: string, shape: ReturnType<typeof shapeOf>): { entry: SysctlEntry; at: number }[] {
  const out: { entry: SysctlEntry; at: number }[] = [];
  const wanted = kernelWrite(target, shape).join(' ');
  // Positions as they will be once kdrift's file exists.
  const placed = kdriftEntry(tree) ? tree : { ...tree, entries: [...tree.entries, { dir: KDRIFT_DIR, name: KDRIFT_NAME, kind: 'file' as const, content: '' }] };
  for (const applier of APPLIERS) {
    const order = sourcesOf(placed, applier);
    const kd = order.findIndex((e) => e.dir === KDRIFT_DIR && e.name === KDRIFT_NAME);
    for (const l of readAll(placed, applier).lines) {
      if (l.order <= kd || l.glob || l.key !== key) continue;
      if (l.value === null ? applier === 'systemd-sysctl' : kernelWrite(l.value, shape).length > 0 && kernelWrite(l.value, shape).join(' ') !== wanted) {
        // The systemd line that holds the first byte the applier parses: replacing it leaves every other line as it was.
        const first = l.start + (/^[ \t\n\v\f\r]*/.exec(l.text)?.[0].length ?? 0);
        out.push({ entry: l.entry, at: first });
      }
    }
  }
  return out;
}

/** Does every applier leave exactly `target` for the key in this tree? */
function bootGives(tree: SysctlTree, key: string, runtime: string, target: string): string | null {
  const obs = observeSysctl({ runtime: new Map([[key, runtime]]), runtimeErrors: new Map(), tree }, [key]);
  const values = obs.boot.get(key);
  for (const a of APPLIERS) {
    const b = values?.[a];
    if (!b || b.status !== 'set' || !sameSysctlValue(b.value, target)) {
      return `after the planned edits ${a} would still apply ${b?.value ?? 'no value'}${b?.source ? ` from ${assignmentSource(b.source)}` : ''}; not fixing it half-way`;
    }
  }
  return null;
}

/** The plan for the sysctl kind. Pure: the same state and declarations give the same plan. */
export function planSysctlFix(input: DecideInput, now: Date): { plan: KindPlan; decisions: KeyDecision[] } {
  const { declared, state } = input;
  const host = input.host ?? 'host';
  const obs = observeSysctl(state, declared.keys());
  const drifted = input.findings ? driftedKeysOf(input.findings) : undefined;
  const only = input.onlyKeys ? new Set(input.onlyKeys) : undefined;
  const refusal = kdriftFileRefusal(state.tree);
  const kdriftNow = kdriftEntry(state.tree);
  const kdriftBefore = kdriftNow?.kind === 'file' ? (textOf(kdriftNow.content ?? '') ?? null) : null;
  const skipped: SkippedKey[] = [];
  let keys: KeyDecision[] = [];

  for (const d of [...declared.values()].sort((a, b) => (a.key < b.key ? -1 : 1))) {
    if (only && !only.has(d.key)) continue;
    if (drifted && !drifted.has(d.key)) continue;
    const runtime = state.runtime.get(d.key) ?? null;
    const runtimeError = state.runtimeErrors.get(d.key);
    const boot = obs.boot.get(d.key);
    if (!boot) continue;
    const verdict = keyVerdict(judgeKey(host, d.key, d.exp, { runtime, ...(runtimeError ? { runtimeError } : {}), boot }));
    const expected = describeExpectation(d.exp);
    if (verdict.runtime !== 'drift' && verdict.persisted !== 'drift') {
      if (verdict.reasons.length > 0 && runtime !== null) skipped.push({ key: d.key, reason: `left unknown, not changed: ${verdict.reasons.join('; ')}`, unknown: true });
      else if (runtime === null) skipped.push({ key: d.key, reason: runtimeError ? `runtime value cannot be read: ${runtimeError}` : 'not present in /proc/sys on this host (module not loaded, or not in this kernel)' });
      continue;
    }
    if (d.policy === 'never') {
      skipped.push({ key: d.key, reason: `policy "never": kdrift reports it but never changes it (expected ${expected})` });
      continue;
    }
    if (d.policy === 'manual' && !input.includeManual) {
      skipped.push({ key: d.key, reason: `policy "manual": fix by hand or pass --include-manual (expected ${expected})` });
      continue;
    }
    if (runtime === null) continue;
    if (verdict.persisted === 'unknown') {
      skipped.push({ key: d.key, reason: `the value a boot applies is unknown (${verdict.reasons.join('; ')}): kdrift fixes only what it can verify`, blocked: true });
      continue;
    }
    const systemd = boot['systemd-sysctl'];
    const bootOk = verdict.persisted === 'ok' && systemd.status === 'set' ? systemd.value : null;
    const target = targetValue(d.exp, runtime, [bootOk]);
    const decision: KeyDecision = {
      key: d.key,
      expected,
      policy: d.policy,
      target,
      runtimeFrom: runtime,
      runtimeDrift: verdict.runtime === 'drift' && !sameSysctlValue(runtime, target),
      persistedFrom: systemd.source && systemd.value !== null ? { value: systemd.value, source: assignmentSource(systemd.source) } : null,
      persistedDrift: verdict.persisted === 'drift',
      neutralise: [],
    };
    if (decision.persistedDrift) {
      if (refusal) {
        skipped.push({ key: d.key, reason: refusal, blocked: true });
        continue;
      }
      let refused: string | undefined;
      for (const { entry, at } of overridingLines(state.tree, d.key, target, shapeOf(runtime))) {
        const where = editTarget(entry);
        const line = systemdLines(entry.content ?? '').lines.find((l) => l.start <= at && at <= l.end);
        if ('refuse' in where || !line) {
          refused ??= `${displayBytes(entryPath(entry))} overrides it at boot and ${'refuse' in where ? where.refuse : 'kdrift cannot find the line'}`;
          continue;
        }
        const text = textOf(line.text) ?? displayBytes(line.text);
        decision.neutralise.push({ file: displayBytes(entryPath(entry)), ...where, line: line.line, start: line.start, end: line.end, text, key: d.key });
      }
      if (refused) {
        skipped.push({ key: d.key, reason: refused, blocked: true });
        continue;
      }
    }
    keys.push(decision);
  }

  // Safety net: both appliers must give every persisted key its target on the would-be tree.
  for (;;) {
    const persist = keys.filter((k) => k.persistedDrift);
    const targets = new Map(keys.map((k) => [k.key, k.target]));
    const kdriftAfter = renderKdriftConf(kdriftBefore, new Map(persist.map((k) => [k.key, k.target])));
    const would = withEdits(state.tree, bytesFromText(kdriftAfter), persist.flatMap((k) => k.neutralise), targets, now);
    const wrong = persist
      .map((k) => ({ k, why: bootGives(would.tree, k.key, state.runtime.get(k.key) as string, k.target) }))
      .filter((x): x is { k: KeyDecision; why: string } => x.why !== null);
    if (wrong.length === 0) return { plan: buildPlan(keys, skipped, persist.length > 0 ? would.contents : new Map(), state.tree, kdriftBefore), decisions: keys };
    for (const { k, why } of wrong) skipped.push({ key: k.key, reason: why, blocked: true });
    const drop = new Set(wrong.map((x) => x.k.key));
    keys = keys.filter((k) => !drop.has(k.key));
  }
}

function buildPlan(keys: KeyDecision[], skipped: SkippedKey[], contents: Map<string, Bytes>, tree: SysctlTree, kdriftBefore: string | null): KindPlan {
  const runtime: RuntimeChange[] = keys.filter((k) => k.runtimeDrift).map((k) => ({ key: k.key, from: k.runtimeFrom, to: k.target }));
  const files: FileChange[] = [];
  const persist = keys.filter((k) => k.persistedDrift);
  for (const [p, bytes] of [...contents].sort(([a], [b]) => (a === KDRIFT_CONF ? -1 : b === KDRIFT_CONF ? 1 : a < b ? -1 : 1))) {
    const after = bufferOf(bytes).toString('utf8');
    const pText = bufferOf(p).toString('utf8');
    const neutralised = persist.flatMap((k) => k.neutralise).filter((n) => n.editPath === pText);
    const shadowOf = neutralised[0]?.shadowOf;
    const current = [...tree.entries, ...(tree.sysctlConf ? [tree.sysctlConf] : [])].find((e) => (e.target ?? entryPath(e)) === p);
    const before = p === KDRIFT_CONF ? kdriftBefore : shadowOf ? null : current?.content !== undefined ? bufferOf(current.content).toString('utf8') : null;
    if (after === before) continue;
    const keysHere = [...new Set(neutralised.map((n) => n.key))].join(', ');
    const why =
      p === KDRIFT_CONF
        ? `persist ${persist.map((k) => k.key).join(', ')} (kdrift's own file)`
        : shadowOf
          ? `shadow ${shadowOf}: its lines for ${keysHere} would override kdrift's at boot`
          : `its lines for ${keysHere} would override kdrift's at boot`;
    files.push({ path: pText, before, after, diff: unifiedDiff(pText, before, after), why, ...(shadowOf ? { shadowOf } : {}) });
  }
  return { kind: 'sysctl', runtime, files, skipped, keys: keys.map((k) => k.key) };
}

/** Keys that a report shows drifted in the runtime or persisted layer. */
function driftedKeysOf(findings: readonly Finding[]): Set<string> {
  return new Set(findings.filter((f) => f.check === 'sysctl' && f.status === 'drift' && (f.layer === 'runtime' || f.layer === 'persisted')).map((f) => f.key));
}
