import { z } from 'zod';
import { behaviourBase } from './behaviour-spec.js';

/** Share of new TCP connections on `port` that must negotiate window scaling (RFC 7323) during the window. */
export const windowScalingSpec = z
  .object({ check: z.literal('tcp.windowScaling'), ...behaviourBase, minShare: z.number().min(0).max(1) })
  .strict();
export type WindowScalingSpec = z.output<typeof windowScalingSpec>;
