import { z } from 'zod';
import { DEFAULT_OBSERVERS, OBSERVER_NAMES, observationParts } from './observers/index.js';

/**
 * The agent's JSON output (`kdrift probe --json`). The behaviour checks parse it with this schema, so what the agent
 * prints and what the report reads cannot drift apart. No BPF code is loaded by importing this module.
 */
const direction = z.enum(['out', 'in', 'unknown']);
const offer = z.enum(['yes', 'no', 'unknown']);
const outcome = z.enum(['negotiated', 'local', 'peer', 'unknown']);
const count = z.number().int().min(0);

export const connectionSampleSchema = z.object({
  netnsCookie: z.string(),
  direction,
  local: z.string(),
  remote: z.string(),
  wscaleOk: z.boolean(),
  /** The peer's shift (applied to the windows it advertises). */
  sndWscale: z.number().int(),
  /** Our shift. */
  rcvWscale: z.number().int(),
  localOffered: offer,
  peerOffered: offer,
  outcome,
  /** Milliseconds after the probe attached. */
  atMs: z.number(),
  /** One of the agent's own test connections. */
  own: z.boolean().default(false),
});
export type ConnectionSample = z.infer<typeof connectionSampleSchema>;

export const portSummarySchema = z.object({
  netnsCookie: z.string(),
  /** The service port: our listening port for accepted connections, the remote port for connections we opened. */
  port: z.number().int(),
  direction,
  connections: count,
  negotiated: count,
  /** negotiated / connections; null without connections. */
  share: z.number().nullable(),
  lackedBy: z.object({ local: count, peer: count, unknown: count }),
  zeroWindow: z.object({ sent: count, received: count }),
  zeroWindowProbes: z.object({ sent: count, received: count }),
  retransmits: count,
  dataSegmentsOut: count,
  segmentsIn: count,
  /** retransmits / dataSegmentsOut; null when nothing was sent. */
  retransmitRate: z.number().nullable(),
  /** The agent's own test connections, counted apart from `connections` (real traffic). */
  own: z
    .object({ connections: count, negotiated: count, lackedBy: z.object({ local: count, peer: count, unknown: count }) })
    .default({ connections: 0, negotiated: 0, lackedBy: { local: 0, peer: 0, unknown: 0 } }),
});
export type PortSummary = z.infer<typeof portSummarySchema>;

/**
 * Real connections per peer address, per service port and direction, counted from every connection event the agent
 * drained (`peersComplete` false once the kernel stopped emitting a class: then these are a sample).
 */
export const peerSummarySchema = z.object({
  port: z.number().int(),
  direction,
  address: z.string(),
  connections: count,
  negotiated: count,
  lackedBy: z.object({ local: count, peer: count, unknown: count }),
});
export type PeerSummary = z.infer<typeof peerSummarySchema>;

export const probeObservationSchema = z.object({
  version: z.literal(1),
  host: z.string(),
  netns: z.enum(['self', 'all']),
  /** This agent's own netns cookie. */
  netnsCookie: z.string(),
  ports: z.array(z.number().int()),
  startedAt: z.string(),
  durationMs: z.number(),
  /** The observers the agent loaded (probe/observers/index.ts); an older agent that does not say loaded the defaults. */
  observed: z.array(z.enum(OBSERVER_NAMES)).default([...DEFAULT_OBSERVERS]),
  retransmitHook: z.enum(['tp_btf', 'tracepoint', 'none']),
  connect: z
    .object({ target: z.string(), attempted: count, succeeded: count, errors: z.array(z.string()) })
    .nullable(),
  summary: z.array(portSummarySchema),
  samples: z.array(connectionSampleSchema),
  peers: z.array(peerSummarySchema).default([]),
  peersComplete: z.boolean().default(true),
  /** This host's own addresses (every interface but loopback): lets a report resolve peers to inventory hosts. */
  addresses: z.array(z.string()).default([]),
  /** Events the kernel could not queue (ring full) and counter keys it could not add (map full): counts stay exact
   * unless counterKeys > 0. */
  dropped: z.object({ events: count, counterKeys: count }),
  /** Each observer's own part (e.g. `congestion`), present when that observer ran. */
  ...observationParts,
});
export type ProbeObservation = z.infer<typeof probeObservationSchema>;
