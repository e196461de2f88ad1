/** The judged result of one check on one host: the unit every report format renders. */
export type Layer = 'runtime' | 'persisted' | 'behaviour';
export type FindingStatus = 'ok' | 'drift' | 'unknown';
export type Severity = 'critical' | 'high' | 'medium' | 'low';
export const SEVERITIES: readonly Severity[] = ['critical', 'high', 'medium', 'low'];

export interface Suppression {
  reason: string;
  /** ISO date; after it the finding counts again. */
  expires?: string;
  /** Where the suppression was declared (file:line). */
  source: string;
}

export interface Finding {
  host: string;
  /** Check kind: `sysctl`, `tcp.windowScaling`, ... */
  check: string;
  /** What was checked: a sysctl key, or for behaviours the port (`port 80`). */
  key: string;
  layer: Layer;
  status: FindingStatus;
  /** Human-readable expectation, e.g. `= 1`, `>= 4096`, `share >= 0.99`. */
  expected: string;
  /** What was found; null when it could not be read (status unknown). */
  actual: string | null;
  severity: Severity;
  /** For persisted findings: the file:line that sets the value a boot would apply. */
  source?: string;
  /** Why the status is unknown, or what the drift means. */
  reason?: string;
  /** Behaviour evidence: counts, sample connections. Small, JSON-serialisable. */
  evidence?: Record<string, unknown>;
  /** Set when a .kdriftignore entry matches: counted and listed, never dropped. */
  suppressed?: Suppression;
  /** Stable across runs: a hash of host + check + key + layer (core/report-diff.ts). */
  id?: string;
  /** Against the previous report (--previous / --state-dir), on counting drift only. */
  change?: 'new' | 'still drifting';
}
