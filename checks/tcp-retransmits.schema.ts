import { z } from 'zod';
import { behaviourSpec } from './behaviour.schema.js';

/**
 * Retransmitted segments per sent segment on connections of `port` must stay at or below `maxRate`. A rate over a
 * handful of segments is noise (1 retransmission in 5 segments is 20 %), so below `minSegments` the finding is unknown.
 */
export const retransmitsSpec = behaviourSpec('tcp.retransmits', {
  maxRate: z.number().min(0).max(1),
  minSegments: z.number().int().min(1).default(200),
});
export type RetransmitsSpec = z.output<typeof retransmitsSpec>;
