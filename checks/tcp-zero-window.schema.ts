import { z } from 'zod';
import { behaviourSpec } from './behaviour.schema.js';

/** At most `max` zero-window advertisements on connections of `port` during the window. */
export const zeroWindowSpec = behaviourSpec('tcp.zeroWindow', { max: z.number().int().min(0) });
export type ZeroWindowSpec = z.output<typeof zeroWindowSpec>;
