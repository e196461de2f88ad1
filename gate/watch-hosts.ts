/**
 * `kdrift watch --stack S | --inventory F`: which inventory hosts live on this machine, and in which network
 * namespace. A watcher at the cgroup v2 root sees writes of every netns of this kernel; a host whose kernel is this one
 * (same boot_id) and whose SSH session runs in netns N owns the writes made in N (a lab host, a container). One exec
 * per host: `readlink /proc/self/ns/net` and the boot id. Hosts on other machines are reported as such: run
 * `kdrift watch --local` there.
 */
import { readFile } from 'node:fs/promises';
import type { Baseline, SysctlExpectation } from '../core/baseline.js';
import { planChecks } from '../core/engine/index.js';
import { errorMessage } from '../core/errors.js';
import type { HostEntry } from '../core/inventory.js';
import { mapLimit } from '../core/pool.js';
import { openSession, type SessionOptions } from '../core/sessions.js';

const IDENTIFY_SCRIPT = 'readlink /proc/self/ns/net && cat /proc/sys/kernel/random/boot_id';

export interface WatchedHost {
  host: string;
  specs: ReadonlyMap<string, SysctlExpectation>;
}

export interface HostMap {
  /** netns inode → the host living in it. */
  byNetns: Map<number, WatchedHost>;
  /** Hosts not on this machine, or that could not be asked, with why. */
  skipped: { host: string; why: string }[];
}

/** "net:[4026532281]\n<boot id>\n" → the inode and the boot id. */
export function parseIdentity(out: string): { netns: number; bootId: string } | undefined {
  const m = /^net:\[(\d+)\]\n([0-9a-f-]{36})\n?$/.exec(out);
  return m ? { netns: Number(m[1]), bootId: m[2] as string } : undefined;
}

export async function mapHosts(hosts: readonly HostEntry[], baseline: Baseline, sessionOptions: SessionOptions, concurrency: number): Promise<HostMap> {
  const ownBoot = (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
  const byNetns = new Map<number, WatchedHost>();
  const skipped: HostMap['skipped'] = [];
  // Plans first: a bad declaration is an input error before any host is asked.
  const plans = hosts.map((h) => planChecks(h, baseline));
  await mapLimit(plans, concurrency, async (plan) => {
    const name = plan.host.name;
    try {
      const session = await openSession(plan.host, sessionOptions);
      try {
        const res = await session.exec(['sh', '-c', IDENTIFY_SCRIPT]);
        const id = parseIdentity(res.stdout.toString('utf8'));
        if (res.code !== 0 || !id) skipped.push({ host: name, why: `cannot read its network namespace (${res.stderr.toString('utf8').trim() || `exit ${res.code}`})` });
        else if (id.bootId !== ownBoot) skipped.push({ host: name, why: 'not on this machine: run kdrift watch --local there' });
        else byNetns.set(id.netns, { host: name, specs: plan.sysctls });
      } finally {
        await session.close();
      }
    } catch (err) {
      skipped.push({ host: name, why: errorMessage(err) });
    }
  });
  return { byNetns, skipped };
}
