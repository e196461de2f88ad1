import { z } from 'zod';
import { behaviourSpec } from './behaviour.schema.js';

/** Share of new TCP connections on `port` that must negotiate window scaling (RFC 7323) during the window. */
export const windowScalingSpec = behaviourSpec('tcp.windowScaling', { minShare: z.number().min(0).max(1) });
export type WindowScalingSpec = z.output<typeof windowScalingSpec>;
