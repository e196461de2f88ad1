/**
 * Pure planning for the sysctl remediation: from the declared expectations and the collected state (runtime values +
 * the sysctl.d family in application order) to the exact runtime writes and file contents. No I/O here, so every
 * decision is unit-tested; remediation/sysctl.ts does the reading and writing.
 *
 * Decisions (and why):
 *  - Target per key: remediation/target.ts (prefer a value the host already has in the other layer, so runtime and boot
 *    agree; else equals / first of oneOf / clamp into min..max per field).
 *  - Persistence lives in ONE kdrift-owned file, /etc/sysctl.d/90-kdrift.conf: header, keys sorted, `key = value`;
 *    rendering is deterministic so a second run produces the same bytes (idempotent). Keys it already holds stay.
 *  - Only assignments that a boot applies AFTER kdrift's file and that set a different value are neutralised (commented
 *    out with a dated marker naming kdrift and the old line). Earlier files cannot override it and are left alone:
 *    the fewer files kdrift edits, the less it can break. Negative matches (`-key`) after it are neutralised too.
 *  - A file in /etc (including /etc/sysctl.conf and a symlink's target inside /etc) is edited in place. A vendor file
 *    (/usr/lib, /lib, /usr/local/lib, /run) is never edited: a copy with the same name in /etc/sysctl.d shadows it
 *    (systemd's own override mechanism) with the conflicting lines disabled. A symlink leading outside /etc is refused
 *    (the key is skipped with the reason); a /dev/null mask is never touched — masked files are not applied anyway.
 *  - After the edits the resolver (checks/sysctl-persisted.ts) is run on the would-be files: a key whose effective
 *    persisted value would still not be kdrift's is skipped with the reason, never half-fixed.
 */
import path from 'node:path';
import { meetsExpectation, describeExpectation, type Baseline, type SysctlExpectation, type RemediationPolicy } from '../core/baseline.js';
import type { HostEntry } from '../core/inventory.js';
import type { Finding } from '../core/finding.js';
import { KdriftError } from '../core/errors.js';
import { resolvePersisted, normaliseConfKey, SYSCTL_CONF, type SysctlConfFile, type SysctlState } from '../checks/index.js';
import { targetValue, sameSysctlValue } from './target.js';
import { unifiedDiff } from './diff.js';
import type { FileChange, RuntimeChange, SkippedKey, KindPlan } from './kind.js';

export const KDRIFT_CONF = '/etc/sysctl.d/90-kdrift.conf';
export const KDRIFT_CONF_HEADER = [
  '# Managed by kdrift: the declared sysctls it remediated on this host, applied at boot by systemd-sysctl.',
  '# `kdrift fix` rewrites this file (keys sorted); change the baseline, not this file.',
  '# Conflicting lines in files applied after this one were disabled with a "# kdrift" marker.',
];

export interface DeclaredKey {
  key: string;
  exp: SysctlExpectation;
  policy: RemediationPolicy;
  /** Roles declaring it (one or more with the same expectation). */
  roles: string[];
}

/** Union of a host's roles' sysctls; two roles declaring one key differently is an error naming both. */
export function declaredKeys(host: HostEntry, baseline: Baseline): Map<string, DeclaredKey> {
  const out = new Map<string, DeclaredKey>();
  for (const role of host.roles) {
    const rb = baseline.roles[role];
    if (!rb) throw new KdriftError(`role "${role}" has no baseline (declared roles: ${Object.keys(baseline.roles).join(', ')})`, `host ${host.name}`);
    for (const [key, exp] of rb.sysctls) {
      const prev = out.get(key);
      if (prev) {
        if (describeExpectation(prev.exp) !== describeExpectation(exp) || prev.exp.remediation !== exp.remediation) {
          throw new KdriftError(
            `${key} is declared "${describeExpectation(prev.exp)}" (${prev.exp.remediation}) by role ${prev.roles.join(',')} and "${describeExpectation(exp)}" (${exp.remediation}) by role ${role}`,
            `host ${host.name}`,
          );
        }
        prev.roles.push(role);
        continue;
      }
      out.set(key, { key, exp, policy: exp.remediation, roles: [role] });
    }
  }
  return out;
}

/** One line to comment out. `file` is the path the boot reads; `editPath` the file kdrift writes. */
export interface LineNeutralisation {
  file: string;
  editPath: string;
  /** Set when editPath is a new copy in /etc/sysctl.d shadowing `file`. */
  shadowOf?: string;
  line: number;
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
  /** The effective persisted value now, and the file:line it comes from (null: nothing persists it). */
  persistedFrom: { value: string; source: string } | null;
  persistedDrift: boolean;
  neutralise: LineNeutralisation[];
}

export interface SysctlDecisions {
  keys: KeyDecision[];
  skipped: SkippedKey[];
  /** Files whose exact bytes phase 2 needs (kdrift's file, files to edit, files to shadow). */
  read: string[];
}

export interface DecideInput {
  declared: Map<string, DeclaredKey>;
  state: SysctlState;
  includeManual?: boolean;
  onlyKeys?: readonly string[];
  findings?: readonly Finding[];
}

const VENDOR_DIRS = ['/run/sysctl.d', '/usr/local/lib/sysctl.d', '/usr/lib/sysctl.d', '/lib/sysctl.d'];

/** A conf line as systemd-sysctl reads it: key (normalised) and value (null for a negative match `-key`). */
export function parseConfLine(raw: string): { key: string; value: string | null } | null {
  const p = raw.trim();
  if (p.length === 0 || p[0] === '#' || p[0] === ';') return null;
  const eq = p.indexOf('=');
  if (eq < 0) {
    if (!p.startsWith('-')) return null;
    const key = normaliseConfKey(p.slice(1).trim());
    return key.length > 0 ? { key, value: null } : null;
  }
  let keyPart = p.slice(0, eq).trim();
  if (keyPart.startsWith('-')) keyPart = keyPart.slice(1).trim();
  const key = normaliseConfKey(keyPart);
  return key.length > 0 ? { key, value: p.slice(eq + 1).trim() } : null;
}

/** Index at which kdrift's file is (or would be) applied: files are name-sorted with /etc/sysctl.conf last. */
export function kdriftPosition(files: readonly SysctlConfFile[]): { index: number; exists: boolean } {
  const at = files.findIndex((f) => f.path === KDRIFT_CONF);
  if (at >= 0) return { index: at, exists: true };
  const name = path.basename(KDRIFT_CONF);
  const after = files.findIndex((f) => f.path === SYSCTL_CONF || path.basename(f.path) > name);
  return { index: after < 0 ? files.length : after, exists: false };
}

/** Where kdrift writes to change `file`, or why it will not. */
function editTarget(file: SysctlConfFile): { editPath: string; shadowOf?: string } | { refuse: string } {
  const real = file.target ?? file.path;
  if (real.startsWith('/etc/')) return { editPath: real };
  if (file.target !== undefined) return { refuse: `${file.path} is a symlink to ${file.target}, outside /etc; kdrift does not edit it` };
  const dir = path.dirname(file.path);
  if (VENDOR_DIRS.includes(dir)) return { editPath: `/etc/sysctl.d/${path.basename(file.path)}`, shadowOf: file.path };
  return { refuse: `${file.path} is not in a directory kdrift edits` };
}

/** Phase 1: which keys to fix, their targets, and which lines to neutralise. Pure. */
export function decideSysctl(input: DecideInput): SysctlDecisions {
  const { declared, state } = input;
  const keys: KeyDecision[] = [];
  const skipped: SkippedKey[] = [];
  const persisted = resolvePersisted(state.files, declared.keys());
  const drifted = input.findings ? driftedKeysOf(input.findings) : undefined;
  const only = input.onlyKeys ? new Set(input.onlyKeys) : undefined;
  const kdriftMasked = state.masked.some((e) => `${e.dir}/${e.name}` === KDRIFT_CONF && e.target === '/dev/null');
  const pos = kdriftPosition(state.files);
  const kdriftFile = pos.exists ? state.files[pos.index] : undefined;
  const kdriftEdit = kdriftFile ? editTarget(kdriftFile) : { editPath: KDRIFT_CONF };
  const later = state.files.slice(pos.exists ? pos.index + 1 : pos.index);
  const read = new Set<string>();

  for (const d of [...declared.values()].sort((a, b) => (a.key < b.key ? -1 : 1))) {
    if (only && !only.has(d.key)) continue;
    if (drifted && !drifted.has(d.key)) continue;
    const runtime = state.runtime.get(d.key) ?? null;
    const assignments = persisted.get(d.key);
    const effective = assignments?.[assignments.length - 1];
    const runtimeDrift = runtime === null || !meetsExpectation(d.exp, runtime);
    // As checks/sysctl.ts judges it: nothing persisted is a drift only when the runtime value drifts too.
    const persistedDrift = effective ? !meetsExpectation(d.exp, effective.value) : runtimeDrift;
    if (!runtimeDrift && !persistedDrift) continue;
    const expected = describeExpectation(d.exp);
    if (d.policy === 'never') {
      skipped.push({ key: d.key, reason: `policy "never": kdrift reports it but never changes it (expected ${expected})` });
      continue;
    }
    if (d.policy === 'manual' && !input.includeManual) {
      skipped.push({ key: d.key, reason: `policy "manual": fix by hand or pass --include-manual (expected ${expected})` });
      continue;
    }
    if (runtime === null) {
      const why = state.runtimeErrors.get(d.key);
      skipped.push({ key: d.key, reason: why ? `runtime value cannot be read: ${why}` : 'not present in /proc/sys on this host (module not loaded, or not in this kernel)' });
      continue;
    }
    const target = targetValue(d.exp, runtime, [effective && meetsExpectation(d.exp, effective.value) ? effective.value : null]);
    const decision: KeyDecision = {
      key: d.key,
      expected,
      policy: d.policy,
      target,
      runtimeFrom: runtime,
      runtimeDrift: !sameSysctlValue(runtime, target),
      persistedFrom: effective ? { value: effective.value, source: `${effective.file}:${effective.line}` } : null,
      persistedDrift: !effective || !sameSysctlValue(effective.value, target),
      neutralise: [],
    };
    if (decision.persistedDrift) {
      if (kdriftMasked) {
        skipped.push({ key: d.key, reason: `${KDRIFT_CONF} is masked (a symlink to /dev/null): kdrift will not unmask it, so it cannot persist the value`, blocked: true });
        continue;
      }
      if ('refuse' in kdriftEdit) {
        skipped.push({ key: d.key, reason: kdriftEdit.refuse, blocked: true });
        continue;
      }
      let refused: string | undefined;
      for (const f of later) {
        f.content.split('\n').forEach((text, i) => {
          const parsed = parseConfLine(text);
          if (!parsed || parsed.key !== d.key) return;
          if (parsed.value !== null && sameSysctlValue(parsed.value, target)) return;
          const where = editTarget(f);
          if ('refuse' in where) {
            refused ??= `${f.path}:${i + 1} overrides it at boot and ${where.refuse}`;
            return;
          }
          decision.neutralise.push({ file: f.path, ...where, line: i + 1, text: text.replace(/\r$/, ''), key: d.key });
        });
      }
      if (refused) {
        skipped.push({ key: d.key, reason: refused, blocked: true });
        continue;
      }
      read.add(kdriftEdit.editPath);
      for (const n of decision.neutralise) read.add(n.shadowOf ?? n.editPath);
    }
    keys.push(decision);
  }
  return { keys, skipped, read: [...read].sort() };
}

/** Keys that a report shows drifted in the runtime or persisted layer. */
function driftedKeysOf(findings: readonly Finding[]): Set<string> {
  return new Set(findings.filter((f) => f.check === 'sysctl' && f.status === 'drift' && (f.layer === 'runtime' || f.layer === 'persisted')).map((f) => f.key));
}

export function markerDate(now: Date): string {
  return now.toISOString().slice(0, 10);
}

/** The comment that replaces a neutralised line: names kdrift, the date, the declared value and the old line. */
export function neutralisedLine(line: string, key: string, target: string, now: Date): string {
  const cr = line.endsWith('\r') ? '\r' : '';
  const was = line.replace(/\r$/, '');
  return `# kdrift ${markerDate(now)}: disabled, conflicts with declared ${key} = ${target}; was: ${was}${cr}`;
}

/** Comments out the given 1-based lines of `content`; throws when a line no longer sets the key it was planned for. */
export function neutraliseLines(content: string, edits: readonly { line: number; key: string; target: string }[], now: Date): string {
  const lines = content.split('\n');
  for (const e of edits) {
    const text = lines[e.line - 1];
    const parsed = text === undefined ? null : parseConfLine(text);
    if (text === undefined || !parsed || parsed.key !== e.key) {
      throw new Error(`line ${e.line} no longer sets ${e.key} (the file changed while planning)`);
    }
    lines[e.line - 1] = neutralisedLine(text, e.key, e.target, now);
  }
  return lines.join('\n');
}

/** Renders kdrift's own file: header, then every assignment it holds (old ones kept, planned ones set), keys sorted. */
export function renderKdriftConf(existing: string | null, set: ReadonlyMap<string, string>): string {
  const values = new Map<string, string>();
  for (const line of (existing ?? '').split('\n')) {
    const parsed = parseConfLine(line);
    if (parsed && parsed.value !== null && !/[*?[]/.test(parsed.key)) values.set(parsed.key, parsed.value);
  }
  for (const [k, v] of set) values.set(k, v);
  const body = [...values.keys()].sort().map((k) => `${k} = ${values.get(k) as string}`);
  return `${[...KDRIFT_CONF_HEADER, ...body].join('\n')}\n`;
}

/** Exact current bytes (utf8) of the files phase 1 asked for; null = absent. */
export type ExactContents = ReadonlyMap<string, string | null>;

/** Phase 2: the exact runtime writes and file contents, plus a re-resolution proving kdrift's values win at boot. Pure. */
export function buildSysctlPlan(decisions: SysctlDecisions, state: SysctlState, exact: ExactContents, now: Date): KindPlan {
  const skipped = [...decisions.skipped];
  let keys = decisions.keys;
  const files: FileChange[] = [];

  // Runtime writes: every key whose runtime value is not the target.
  const runtime: RuntimeChange[] = keys.filter((k) => k.runtimeDrift).map((k) => ({ key: k.key, from: k.runtimeFrom, to: k.target }));

  // kdrift's file.
  const persist = keys.filter((k) => k.persistedDrift);
  if (persist.length > 0) {
    const pos = kdriftPosition(state.files);
    const kdriftFile = pos.exists ? state.files[pos.index] : undefined;
    const kdriftPath = kdriftFile?.target ?? KDRIFT_CONF;
    const before = exact.get(kdriftPath) ?? null;
    const after = renderKdriftConf(before, new Map(persist.map((k) => [k.key, k.target])));
    if (after !== before) {
      files.push({ path: kdriftPath, before, after, diff: unifiedDiff(kdriftPath, before, after), why: `persist ${persist.map((k) => k.key).join(', ')} (kdrift's own file)` });
    }
    // Files with lines to neutralise, grouped by the path written.
    const byEdit = new Map<string, LineNeutralisation[]>();
    for (const k of persist) for (const n of k.neutralise) byEdit.set(n.editPath, [...(byEdit.get(n.editPath) ?? []), n]);
    for (const [editPath, list] of [...byEdit].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const first = list[0] as LineNeutralisation;
      const source = first.shadowOf ?? editPath;
      const original = exact.get(source);
      if (original === null || original === undefined) throw new Error(`${source} disappeared while planning`);
      const targets = new Map(keys.map((k) => [k.key, k.target]));
      let after = neutraliseLines(original, list.map((n) => ({ line: n.line, key: n.key, target: targets.get(n.key) as string })), now);
      if (first.shadowOf) {
        after = `# kdrift ${markerDate(now)}: copy of ${first.shadowOf} that shadows it (same name in /etc/sysctl.d wins), conflicting lines disabled.\n${after}`;
      }
      const before = first.shadowOf ? null : original;
      const keysHere = [...new Set(list.map((n) => n.key))].join(', ');
      files.push({
        path: editPath,
        before,
        after,
        diff: unifiedDiff(editPath, before, after),
        why: first.shadowOf ? `shadow ${first.shadowOf}: its lines for ${keysHere} would override kdrift's at boot` : `its lines for ${keysHere} would override kdrift's at boot`,
        ...(first.shadowOf ? { shadowOf: first.shadowOf } : {}),
      });
    }
    // Safety net: resolve the would-be files; every persisted key must come out as kdrift's value.
    const wouldBe = applyToFiles(state.files, files);
    const resolved = resolvePersisted(wouldBe, persist.map((k) => k.key));
    const stillWrong = persist.filter((k) => {
      const list = resolved.get(k.key);
      const eff = list?.[list.length - 1];
      return !eff || !sameSysctlValue(eff.value, k.target);
    });
    if (stillWrong.length > 0) {
      for (const k of stillWrong) {
        const list = resolved.get(k.key);
        const eff = list?.[list.length - 1];
        skipped.push({ key: k.key, reason: `after the planned edits a boot would still apply ${eff ? `${eff.value} from ${eff.file}:${eff.line}` : 'no value'}; not fixing it half-way`, blocked: true });
      }
      // Re-plan without them (their lines and kdrift entries must not be written).
      const drop = new Set(stillWrong.map((k) => k.key));
      keys = keys.filter((k) => !drop.has(k.key));
      const again = buildSysctlPlan({ keys, skipped: [], read: decisions.read }, state, exact, now);
      return { ...again, skipped: [...skipped, ...again.skipped] };
    }
  }
  return { kind: 'sysctl', runtime, files, skipped, keys: keys.map((k) => k.key) };
}

/** The file list a boot would read after the planned writes (kdrift's file inserted at its position, shadows in place). */
export function applyToFiles(files: readonly SysctlConfFile[], changes: readonly FileChange[]): SysctlConfFile[] {
  const byPath = new Map(changes.map((c) => [c.path, c]));
  const out: SysctlConfFile[] = files.map((f) => {
    const real = f.target ?? f.path;
    const shadow = changes.find((c) => c.shadowOf === f.path);
    if (shadow) return { path: shadow.path, content: shadow.after };
    const c = byPath.get(real);
    return c ? { ...f, content: c.after } : f;
  });
  const kd = byPath.get(KDRIFT_CONF);
  if (kd && !files.some((f) => f.path === KDRIFT_CONF)) {
    out.splice(kdriftPosition(files).index, 0, { path: KDRIFT_CONF, content: kd.after });
  }
  return out;
}
