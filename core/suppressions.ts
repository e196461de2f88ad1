/**
 * `.kdriftignore`: known, accepted deviations. A YAML list of entries
 *   - key: net.ipv4.tcp_fin_timeout      # glob over the finding key (required)
 *     host: lb*                          # glob over the host name (optional)
 *     role: load-balancer                # glob over the host's roles (optional)
 *     check: sysctl                      # glob over the check kind (optional)
 *     layer: persisted                   # runtime | persisted | behaviour (optional)
 *     reason: "vendor kernel default"    # required: why this is accepted
 *     expires: 2026-12-31                # optional: holds through that day (UTC), counts again from the next
 * A matching non-ok finding is marked `suppressed` (listed, not counted); after the expiry it counts again and says so.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { yaml } from './yaml.js';
import { z } from 'zod';
import { readInputFile } from './input-file.js';
import { wildcardMatch } from './glob.js';
import { KdriftError } from './errors.js';
import type { Finding } from './finding.js';
import type { ExpiredSuppression } from './report.js';

const globSchema = z.string().min(1).max(256);
const dateSchema = z
  .union([z.string(), z.date()])
  .transform((v, ctx) => {
    // YAML 1.1 timestamps may already be parsed to a Date; accept both, keep the day.
    const text = v instanceof Date ? v.toISOString().slice(0, 10) : v;
    const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
    const d = m ? new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) : undefined;
    if (!m || !d || d.toISOString().slice(0, 10) !== text) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `"${text}" is not a date YYYY-MM-DD` });
      return z.NEVER;
    }
    return text;
  });

const entrySchema = z
  .object({
    key: globSchema,
    host: globSchema.optional(),
    role: globSchema.optional(),
    check: globSchema.optional(),
    layer: z.enum(['runtime', 'persisted', 'behaviour']).optional(),
    reason: z.string().trim().min(1, 'a suppression needs a reason'),
    expires: dateSchema.optional(),
  })
  .strict();

export interface SuppressionRule {
  key: string;
  host?: string;
  role?: string;
  check?: string;
  layer?: 'runtime' | 'persisted' | 'behaviour';
  reason: string;
  expires?: string;
  /** file:line of the entry. */
  source: string;
}

export interface SuppressionSet {
  file: string;
  rules: SuppressionRule[];
}

/** Whole-string glob: `*` any run, `?` one character; everything else literal. */
export function globMatches(pattern: string, value: string): boolean {
  return wildcardMatch(pattern, value);
}

export function parseSuppressions(text: string, file: string): SuppressionSet {
  const { LineCounter, isMap, isSeq, parseDocument } = yaml();
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) throw new KdriftError(`not valid YAML: ${(doc.errors[0] as Error).message.split('\n')[0]}`, file);
  const root = doc.contents;
  if (root === null || (isMap(root) && root.items.length === 0)) return { file, rules: [] };
  if (!isSeq(root)) throw new KdriftError('expected a list of suppressions (- key: ..., reason: ...)', file);
  const raw = doc.toJS() as unknown[];
  const rules: SuppressionRule[] = [];
  raw.forEach((item, i) => {
    const node = root.items[i] as { range?: [number, number, number] } | undefined;
    const line = node?.range ? lineCounter.linePos(node.range[0]).line : undefined;
    const where = `${file}: entry ${i + 1}${line !== undefined ? ` (line ${line})` : ''}`;
    const res = entrySchema.safeParse(item);
    if (!res.success) {
      const msg = res.error.issues.map((iss) => `${iss.path.length ? `${iss.path.join('.')}: ` : ''}${iss.message}`).join('; ');
      throw new KdriftError(msg, where);
    }
    rules.push({ ...res.data, source: `${file}:${line ?? i + 1}` });
  });
  return { file, rules };
}

/**
 * Reads the ignore file. `explicit` is the --ignore-file value (missing file = error); without it ./.kdriftignore is
 * read when it exists and otherwise there are no suppressions.
 */
export async function loadSuppressions(explicit: string | undefined, cwd = process.cwd()): Promise<SuppressionSet | undefined> {
  const file = path.resolve(cwd, explicit ?? '.kdriftignore');
  if (explicit === undefined && !existsSync(file)) return undefined;
  const text = await readInputFile(file);
  return parseSuppressions(text, path.relative(cwd, file) || file);
}

/** Has the day `expires` (UTC) ended at `now`? */
export function isExpired(expires: string, now: Date): boolean {
  return now.getTime() >= Date.parse(`${expires}T00:00:00Z`) + 86_400_000;
}

function ruleMatches(rule: SuppressionRule, f: Finding, roles: readonly string[]): boolean {
  if (!globMatches(rule.key, f.key)) return false;
  if (rule.host !== undefined && !globMatches(rule.host, f.host)) return false;
  if (rule.role !== undefined && !roles.some((r) => globMatches(rule.role as string, r))) return false;
  if (rule.check !== undefined && !globMatches(rule.check, f.check)) return false;
  if (rule.layer !== undefined && rule.layer !== f.layer) return false;
  return true;
}

/**
 * Marks the host's non-ok findings an active rule matches (first matching rule wins). A finding matched only by
 * expired rules keeps counting and its reason says which suppression expired. Returns the findings (new objects) and
 * per expired rule how many findings it matched.
 */
export function applySuppressions(
  findings: readonly Finding[],
  roles: readonly string[],
  set: SuppressionSet | undefined,
  now: Date,
): { findings: Finding[]; expired: Map<SuppressionRule, number> } {
  const expired = new Map<SuppressionRule, number>();
  if (!set || set.rules.length === 0) return { findings: [...findings], expired };
  const out = findings.map((f) => {
    if (f.status === 'ok') return f;
    const matching = set.rules.filter((r) => ruleMatches(r, f, roles));
    const active = matching.find((r) => r.expires === undefined || !isExpired(r.expires, now));
    if (active) {
      return { ...f, suppressed: { reason: active.reason, source: active.source, ...(active.expires ? { expires: active.expires } : {}) } };
    }
    const lapsed = matching[0];
    if (!lapsed) return f;
    expired.set(lapsed, (expired.get(lapsed) ?? 0) + 1);
    const note = `suppression expired on ${lapsed.expires} (${lapsed.source}: ${lapsed.reason})`;
    return { ...f, reason: f.reason ? `${f.reason}; ${note}` : note };
  });
  return { findings: out, expired };
}

export function expiredList(expired: Map<SuppressionRule, number>): ExpiredSuppression[] {
  return [...expired].map(([r, matched]) => ({ source: r.source, reason: r.reason, expires: r.expires as string, matched }));
}
