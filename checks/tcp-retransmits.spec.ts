import { z } from 'zod';
import { behaviourBase } from './behaviour-spec.js';

/**
 * Retransmitted segments per sent segment on connections of `port` must stay at or below `maxRate`. A rate over a
 * handful of segments is noise (1 retransmission in 5 segments is 20 %), so below `minSegments` the finding is unknown.
 */
export const retransmitsSpec = z
  .object({
    check: z.literal('tcp.retransmits'),
    ...behaviourBase,
    maxRate: z.number().min(0).max(1),
    minSegments: z.number().int().min(1).default(200),
  })
  .strict();
export type RetransmitsSpec = z.output<typeof retransmitsSpec>;
