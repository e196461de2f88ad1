import { z } from 'zod';
import { behaviourSpec } from './behaviour.schema.js';

/**
 * Every new TCP connection on `port` must use the congestion control algorithm `algorithm` (a kernel name as in
 * /proc/sys/net/ipv4/tcp_available_congestion_control: cubic, reno, bbr, ...). Pair it with a dependsOn on
 * net.ipv4.tcp_congestion_control, the per-netns default the connections normally take it from.
 */
export const congestionControlSpec = behaviourSpec('tcp.congestionControl', {
  algorithm: z.string().regex(/^[a-z][a-z0-9_-]{0,14}$/, 'a congestion control name as the kernel spells it (e.g. cubic, reno, bbr; at most 15 characters)'),
});
export type CongestionControlSpec = z.output<typeof congestionControlSpec>;
