import type { RoleDeclaration } from './types.js';

/** The lab's WAN client: a peer, not part of the fleet. Declares nothing; it is in the inventory so tests can reach it. */
export const client = {
  description: 'lab-only WAN client (drives traffic; not part of the fleet)',
  sysctls: {},
  behaviours: [],
} as const satisfies RoleDeclaration;
