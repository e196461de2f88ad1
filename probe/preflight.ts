import { access, constants } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { KdriftError } from '../core/errors.js';
import { cgroup2Root } from './cgroup.js';
import { bpfObjectPath, nativeAddonPath } from './paths.js';
import type { BpfError } from './bpf.js';

export const KERNEL_BTF = '/sys/kernel/btf/vmlinux';

/**
 * What the probe needs from the host, checked before touching bpf(), each failure a one-line KdriftError saying what
 * is missing. Config checks never call this: a host without BPF still gets its sysctl findings.
 */
export async function preflight(objects: readonly string[]): Promise<{ cgroupRoot: string }> {
  if (typeof process.geteuid === 'function' && process.geteuid() !== 0) {
    throw new KdriftError(`the probe must run as root (it loads BPF programs on the cgroup v2 root); running as uid ${process.geteuid()}`);
  }
  try {
    await access(KERNEL_BTF, constants.R_OK);
  } catch {
    throw new KdriftError(`this kernel has no BTF (${KERNEL_BTF} is missing): the probe's CO-RE programs need CONFIG_DEBUG_INFO_BTF=y`);
  }
  const cgroupRoot = await cgroup2Root();
  if (!existsSync(nativeAddonPath())) throw new KdriftError(`the libbpf addon ${nativeAddonPath()} is missing: run \`npm run build\``);
  for (const name of objects) {
    const file = bpfObjectPath(name);
    if (!existsSync(file)) throw new KdriftError(`BPF object ${file} is missing: run \`npm run build\``);
  }
  return { cgroupRoot };
}

/** Rewrites a refused bpf() call into what an operator can act on; other errors pass through unchanged. */
export function explainBpfRefusal(err: BpfError, what: string): KdriftError {
  if (err.code === 'EPERM' || err.code === 'EACCES') {
    return new KdriftError(
      `bpf() refused ${what} (${err.code}): the probe needs CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN (root), and no lockdown/seccomp ` +
        `policy that blocks bpf(). libbpf said: ${err.message.split('\n').slice(0, 3).join(' | ')}`,
    );
  }
  return err;
}
