import { z } from 'zod';

/**
 * The congestion observer's part of the observation: connections per (netns, service port, direction, algorithm),
 * and a few sampled connections. No BPF code is loaded by importing this module.
 */
const count = z.number().int().min(0);
const direction = z.enum(['out', 'in', 'unknown']);

export const congestionRowSchema = z.object({
  netnsCookie: z.string(),
  /** The service port: our listening port for accepted connections, the remote port for connections we opened. */
  port: z.number().int(),
  direction,
  /** The kernel's name of the algorithm (icsk_ca_ops->name), 'unknown' when it would not say. */
  algorithm: z.string(),
  connections: count,
});
export type CongestionRow = z.infer<typeof congestionRowSchema>;

export const congestionSampleSchema = z.object({
  netnsCookie: z.string(),
  direction,
  local: z.string(),
  remote: z.string(),
  algorithm: z.string(),
  /** Milliseconds after the probe attached. */
  atMs: z.number(),
});
export type CongestionSample = z.infer<typeof congestionSampleSchema>;

export const congestionPartSchema = z.object({ rows: z.array(congestionRowSchema), samples: z.array(congestionSampleSchema) });
export type CongestionPart = z.infer<typeof congestionPartSchema>;
