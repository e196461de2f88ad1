/**
 * Root cause across hosts: a pure pass over every host's judged findings (after judge, before tell).
 *
 * A behaviour finding on host A whose connections lacked the behaviour on the PEER's side, where the peer resolves
 * (by any of its addresses: the inventory's, or those its agent reported) to host B, and B drifts on a key A's
 * declaration `dependsOn`, is a consequence: "explained by B: key = value (file:line)". When the lack was on A's own
 * side and A drifts on such a key, A explains its own finding. Everything that counts as drift and is not explained is
 * a root cause: a host's config drift on one key (runtime and persisted layers together), or a behaviour drift nothing
 * declared accounts for. Root causes come most important first, each with the next step.
 */
import type { Explanation, Finding, Layer, Severity } from '../finding.js';
import { SEVERITIES } from '../finding.js';
import type { HostEntry } from '../inventory.js';
import type { CheckPlan } from './run.js';
import { behaviourKey } from './run.js';
import { countsAsDrift, isConfigLayer, type HostReport, type Leg, type NextStep, type RootCause } from '../report.js';
import { describeExpectation } from '../sysctl-rules/index.js';

export interface RootCauseInput {
  hosts: readonly HostReport[];
  /** Inventory entries (addresses) by host name. */
  entries: readonly HostEntry[];
  /** Plans by host name: the behaviours' dependsOn and direction, the sysctls' remediation policy. */
  plans: ReadonlyMap<string, Pick<CheckPlan, 'sysctls' | 'behaviours'>>;
  /** How the next-step command names the inventory: ['--stack', 'lab'] or ['--inventory', 'hosts.yaml']. */
  selector?: readonly string[];
}

export interface RootCauseResult {
  hosts: HostReport[];
  rootCauses: RootCause[];
  legs: Leg[];
}

/** Peer rows a window-scaling finding carries in its evidence (checks/tcp-window-scaling.ts). */
interface PeerEvidence {
  address: string;
  connections: number;
  negotiated: number;
  lackedBy: { local: number; peer: number; unknown: number };
}

export function findRootCauses(input: RootCauseInput): RootCauseResult {
  const addresses = hostAddresses(input);
  const ownerOf = new Map<string, string>();
  for (const [host, addrs] of addresses) for (const a of addrs) if (!ownerOf.has(a)) ownerOf.set(a, host);
  const byName = new Map(input.hosts.map((h) => [h.name, h]));

  // 1. Consequences: mark behaviour drift findings explained by a config drift (another host's or their own).
  const hosts: HostReport[] = input.hosts.map((h) => {
    const withAddrs = { ...h, ...(addresses.get(h.name)?.length ? { addresses: addresses.get(h.name) } : {}) };
    if (h.status === 'error') return withAddrs;
    return { ...withAddrs, findings: h.findings.map((f) => explain(f, h, input, byName, ownerOf)) };
  });

  // 2. Root causes: config drift per (host, key), and behaviour drift that nothing explains.
  const causes = new Map<string, RootCause>();
  for (const h of hosts) {
    for (const f of h.findings) {
      if (!countsAsDrift(f)) continue;
      if (isConfigLayer(f.layer)) addConfigCause(causes, h, f, input);
      else if (!f.explainedBy) causes.set(`${h.name}\u0000${f.check}\u0000${f.key}`, behaviourCause(h, f, ownerOf));
    }
  }
  for (const h of hosts) {
    for (const f of h.findings) {
      if (!countsAsDrift(f) || !f.explainedBy) continue;
      const c = causes.get(`${f.explainedBy.host}\u0000sysctl\u0000${f.explainedBy.key}`);
      if (!c) continue;
      c.explains.connections += f.explainedBy.connections;
      if (f.host === c.host) c.explains.ownBehaviour.push(`${f.check} ${f.key}`);
      else {
        c.explains.findings += 1;
        if (!c.explains.hosts.includes(f.host)) c.explains.hosts.push(f.host);
      }
      c.severity = worse(c.severity, f.severity);
    }
  }
  const rank = (s: Severity) => SEVERITIES.indexOf(s);
  const rootCauses = [...causes.values()].sort(
    (a, b) =>
      rank(a.severity) - rank(b.severity) ||
      b.explains.hosts.length - a.explains.hosts.length ||
      b.explains.connections - a.explains.connections ||
      a.host.localeCompare(b.host) ||
      a.key.localeCompare(b.key),
  );
  return { hosts, rootCauses, legs: legsOf(hosts, ownerOf) };
}

/** The inventory's addresses of each host (address, addresses) plus those its agent reported (evidence.hostAddresses). */
function hostAddresses(input: RootCauseInput): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const add = (host: string, a: string) => {
    const list = out.get(host) ?? [];
    if (!list.includes(a)) list.push(a);
    out.set(host, list);
  };
  for (const e of input.entries) {
    if (!e.local) add(e.name, e.address);
    for (const a of e.addresses ?? []) add(e.name, a);
  }
  for (const h of input.hosts) {
    for (const a of h.addresses ?? []) add(h.name, a);
    for (const f of h.findings) {
      const reported = f.evidence?.hostAddresses;
      if (Array.isArray(reported)) for (const a of reported) if (typeof a === 'string') add(h.name, a);
    }
  }
  return out;
}

function peersOf(f: Finding): PeerEvidence[] {
  const p = f.evidence?.peers;
  return Array.isArray(p) ? (p as PeerEvidence[]) : [];
}

/** The runtime drift of `key` on a host (what its connections run with), with the persisted file:line if that drifts too. */
function driftOn(h: HostReport | undefined, keys: readonly string[]): { key: string; value: string | null; source?: string } | undefined {
  if (!h || h.status === 'error') return undefined;
  for (const key of keys) {
    const runtime = h.findings.find((f) => f.layer === 'runtime' && f.key === key && countsAsDrift(f));
    if (!runtime) continue;
    const persisted = h.findings.find((f) => f.layer === 'persisted' && f.key === key && countsAsDrift(f));
    return { key, value: runtime.actual, ...(persisted?.source ? { source: persisted.source } : {}) };
  }
  return undefined;
}

function explain(
  f: Finding,
  h: HostReport,
  input: RootCauseInput,
  byName: ReadonlyMap<string, HostReport>,
  ownerOf: ReadonlyMap<string, string>,
): Finding {
  if (f.layer !== 'behaviour' || !countsAsDrift(f)) return f;
  const spec = input.plans.get(h.name)?.behaviours.find((b) => b.spec.check === f.check && behaviourKey(b.spec) === f.key)?.spec;
  if (!spec || spec.dependsOn.length === 0) return f;
  const candidates: Explanation[] = [];
  // Lacked on the peer's side: group the peers by the host they resolve to.
  const perHost = new Map<string, number>();
  for (const p of peersOf(f)) {
    const owner = ownerOf.get(p.address);
    if (owner === undefined || owner === h.name || p.lackedBy.peer === 0) continue;
    perHost.set(owner, (perHost.get(owner) ?? 0) + p.lackedBy.peer);
  }
  for (const [owner, connections] of perHost) {
    const d = driftOn(byName.get(owner), spec.dependsOn);
    if (d) candidates.push({ host: owner, ...d, connections });
  }
  // Lacked on this host's own side.
  const lackedBy = f.evidence?.lackedBy as { local?: number } | undefined;
  const local = lackedBy?.local ?? 0;
  if (local > 0) {
    const d = driftOn(h, spec.dependsOn);
    if (d) candidates.push({ host: h.name, ...d, connections: local });
  }
  const best = candidates.sort((a, b) => b.connections - a.connections)[0];
  return best ? { ...f, explainedBy: best } : f;
}

function worse(a: Severity, b: Severity): Severity {
  return SEVERITIES.indexOf(a) <= SEVERITIES.indexOf(b) ? a : b;
}

function addConfigCause(causes: Map<string, RootCause>, h: HostReport, f: Finding, input: RootCauseInput): void {
  const id = `${h.name}\u0000sysctl\u0000${f.key}`;
  const existing = causes.get(id);
  if (existing) {
    if (!existing.layers.includes(f.layer)) existing.layers.push(f.layer);
    existing.severity = worse(existing.severity, f.severity);
    if (f.layer === 'runtime') existing.actual = f.actual;
    if (f.source && !existing.source) existing.source = f.source;
    existing.nextStep = configNextStep(h.name, f.key, existing, input);
    return;
  }
  const cause: RootCause = {
    host: h.name,
    check: f.check,
    key: f.key,
    severity: f.severity,
    layers: [f.layer as Layer],
    expected: f.expected,
    actual: f.actual,
    ...(f.source ? { source: f.source } : {}),
    ...(f.reason ? { reason: f.reason } : {}),
    explains: { hosts: [], findings: 0, connections: 0, ownBehaviour: [] },
    nextStep: { kind: 'manual', text: '' },
  };
  cause.nextStep = configNextStep(h.name, f.key, cause, input);
  causes.set(id, cause);
}

/** The exact command for a key kdrift may fix; for a manual (or never) key, what to change and where. */
export function configNextStep(host: string, key: string, cause: Pick<RootCause, 'layers' | 'source' | 'actual' | 'expected'>, input: Pick<RootCauseInput, 'plans' | 'selector'>): NextStep {
  const exp = input.plans.get(host)?.sysctls.get(key);
  const policy = exp?.remediation ?? 'manual';
  const fix = ['kdrift', 'fix', '--host', host, ...(input.selector ?? [])];
  if (policy === 'auto') {
    const argv = [...fix, '--dry-run'];
    return { kind: 'command', argv, text: argv.join(' ') };
  }
  const want = exp ? describeExpectation(exp) : cause.expected;
  const where: string[] = [];
  if (cause.layers.includes('runtime')) where.push(`at runtime (now ${cause.actual ?? 'unreadable'})`);
  if (cause.layers.includes('persisted')) where.push(cause.source ? `in ${cause.source}` : 'in a file of /etc/sysctl.d (no file sets it)');
  const text = `set ${key} ${want} on ${host} ${where.join(' and ')}`;
  if (policy === 'manual') {
    const argv = [...fix, '--include-manual', '--dry-run'];
    return { kind: 'manual', argv, text: `${text} — a manual key: change it yourself, or ${argv.join(' ')}` };
  }
  return { kind: 'manual', text: `${text} — kdrift never changes this key` };
}

function behaviourCause(h: HostReport, f: Finding, ownerOf: ReadonlyMap<string, string>): RootCause {
  const peers = peersOf(f).filter((p) => p.lackedBy.peer > 0);
  const lackedBy = (f.evidence?.lackedBy ?? {}) as { local?: number; peer?: number };
  const named = peers.map((p) => {
    const owner = ownerOf.get(p.address);
    return owner ? `${p.address} (${owner}, which does not drift on a declared key)` : `${p.address} (not in the inventory)`;
  });
  let text: string;
  if ((lackedBy.peer ?? 0) > 0) {
    text = `look at the peers of ${h.name} ${f.key}${named.length ? `: ${named.join(', ')}` : ''} — they, or a middlebox on the path, sent no window-scale option`;
  } else if ((lackedBy.local ?? 0) > 0) {
    text = `${h.name} did not offer the option itself while its declared keys are in place: check undeclared settings on ${h.name}`;
  } else {
    text = `look at ${h.name} ${f.check} ${f.key}: ${f.reason ?? 'no declared key explains it'}`;
  }
  const connections = (lackedBy.peer ?? 0) + (lackedBy.local ?? 0);
  return {
    host: h.name,
    check: f.check,
    key: f.key,
    severity: f.severity,
    layers: [f.layer],
    expected: f.expected,
    actual: f.actual,
    ...(f.reason ? { reason: f.reason } : {}),
    explains: { hosts: [], findings: 0, connections, ownBehaviour: [] },
    nextStep: { kind: 'investigate', text },
  };
}

/** Connection legs seen by the probes, between hosts (or outside peers); one per (from, to, port), the best-observed. */
function legsOf(hosts: readonly HostReport[], ownerOf: ReadonlyMap<string, string>): Leg[] {
  const legs = new Map<string, Leg>();
  for (const h of hosts) {
    for (const f of h.findings) {
      if (f.check !== 'tcp.windowScaling' || f.layer !== 'behaviour') continue;
      const direction = f.evidence?.direction === 'out' ? 'out' : 'in';
      const port = Number(/port (\d+)/.exec(f.key)?.[1]);
      for (const p of peersOf(f)) {
        if (p.connections === 0) continue;
        const other = ownerOf.get(p.address) ?? p.address;
        const leg: Leg = {
          from: direction === 'in' ? other : h.name,
          to: direction === 'in' ? h.name : other,
          port,
          connections: p.connections,
          negotiated: p.negotiated,
          observedBy: h.name,
        };
        const id = `${leg.from}\u0000${leg.to}\u0000${leg.port}`;
        const prev = legs.get(id);
        if (!prev || prev.connections < leg.connections) legs.set(id, leg);
      }
    }
  }
  return [...legs.values()].sort((a, b) => a.from.localeCompare(b.from) || a.to.localeCompare(b.to) || a.port - b.port);
}
