import { z } from 'zod';
import { behaviourBase } from './behaviour-spec.js';

/** Retransmitted segments per sent segment on connections of `port` must stay at or below `maxRate`. */
export const retransmitsSpec = z
  .object({ check: z.literal('tcp.retransmits'), ...behaviourBase, maxRate: z.number().min(0).max(1) })
  .strict();
export type RetransmitsSpec = z.output<typeof retransmitsSpec>;
