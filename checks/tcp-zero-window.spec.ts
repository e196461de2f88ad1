import { z } from 'zod';
import { behaviourBase } from './behaviour-spec.js';

/** At most `max` zero-window advertisements on connections of `port` during the window. */
export const zeroWindowSpec = z
  .object({ check: z.literal('tcp.zeroWindow'), ...behaviourBase, max: z.number().int().min(0) })
  .strict();
export type ZeroWindowSpec = z.output<typeof zeroWindowSpec>;
