import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { KdriftError } from '../core/errors.js';
import { repoRoot } from './paths.js';

/** The native/tun addon: opens a TUN device by name inside a network namespace (TUNSETIFF + setns, which Node lacks). */
export interface TunAddon {
  openTun(ifname: string, netnsPath?: string, opts?: { vnetHdr?: boolean }): number;
}

export function tunAddonPath(): string | undefined {
  const root = repoRoot();
  const candidates = [
    process.env.KDRIFT_TUN_ADDON,
    path.join(root, 'native', 'build', 'Release', 'kdrift_tun.node'),
    path.join(root, 'native', 'build', 'Debug', 'kdrift_tun.node'),
    path.join(root, 'native', 'build', 'tun', 'kdrift_tun.node'),
    path.join(root, 'native', 'build', 'kdrift_tun.node'),
  ];
  return candidates.find((c): c is string => !!c && existsSync(c));
}

export function loadTunAddon(): TunAddon {
  const file = tunAddonPath();
  if (!file) throw new KdriftError('the lab TUN helper (native/build/Release/kdrift_tun.node) is not built: run `npx cmake-js compile -d native --out native/build` (or bash scripts/setup.sh)');
  const require = createRequire(import.meta.url);
  return require(file) as TunAddon;
}
