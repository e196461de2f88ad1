/**
 * Parallel test runs on one machine (helpers, CI shards) each take a slot, KDRIFT_TEST_SLOT=1..8: every lab name,
 * subnet and namespace prefix a test makes is derived from it, so two runs never touch each other's lab. Slot 0 (unset)
 * keeps the plain names.
 */
const raw = process.env['KDRIFT_TEST_SLOT'] ?? '0';
if (!/^[0-8]$/.test(raw)) throw new Error(`KDRIFT_TEST_SLOT must be 0..8, got ${JSON.stringify(raw)}`);
export const TEST_SLOT = Number(raw);

/** `kdfx` → `kdfx3` in slot 3 (lab names stay short: interface names are derived from them). */
export function slotName(base: string): string {
  return TEST_SLOT === 0 ? base : `${base}${TEST_SLOT}`;
}

/** A lab's second octet (10.N.0.0/16), moved by 20 per slot so slots never overlap (bases 71..77 → at most 237). */
export function slotSubnet(base: number): number {
  return base + 20 * TEST_SLOT;
}
