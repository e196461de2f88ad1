import type { Command } from '../main.js';
import { parseCommandArgs, intOption } from '../args.js';
import { KdriftError } from '../../core/errors.js';
import { labUp, labDown, labStatus, DEFAULT_LAB_NAME, type LabStatus } from '../../lab/index.js';
import { runLoad, DEFAULT_LOAD, type LoadResult } from '../../lab/load-run.js';
import { parseRtt, DEFAULT_SUBNET, DEFAULT_RTT_MS } from '../../lab/plan.js';

const usage = `Usage: kdrift lab up     [--name NAME] [--subnet N] [--rtt DUR] [--bandwidth RATE] [--json]
       kdrift lab down   [--name NAME]
       kdrift lab status [--name NAME] [--json]
       kdrift lab load   [--name NAME] [--requests N] [--size BYTES] [--concurrency C] [--target wan|lan] [--json]

The embedded fleet: hosts lb, app1, app2, client as network namespaces on this machine (root needed), each with its
own sshd and /etc; HAProxy on lb in front of an HTTP app server on app1 and app2; the client reaches lb across a WAN
link with real round-trip time (a TUN device in each namespace and a user-space delay line). See lab/README.md.

  up        create or mend the lab (idempotent: restarts dead processes, changes nothing else); writes
            .lab/NAME/ (keys, known_hosts, ssh_config, inventory.yaml) and, for the default lab, Pulumi.lab.yaml
  down      remove every namespace, device, process and file the lab made (works on a half-built lab)
  status    hosts, services, the WAN link and whether its delay line is alive (exit 0 healthy, 1 otherwise)
  load      HTTP load from inside client → lb (HAProxy) → app1/app2: latency p50/p95/max, throughput, errors

Options:
  --name NAME          lab name (default ${DEFAULT_LAB_NAME}); namespaces are NAME-lb, NAME-app1, NAME-app2, NAME-client
  --subnet N           the lab uses 10.N.0.0/16 (default ${DEFAULT_SUBNET})
  --rtt DUR            WAN round-trip time client ⇄ lb, e.g. 50ms, 0.1s; 0 = plain link (default ${DEFAULT_RTT_MS}ms,
                       or what the running lab has)
  --bandwidth RATE     WAN bandwidth cap, e.g. 100mbit, 512kbit; 0 removes it (default: none)
  --requests N         load: requests to send (default ${DEFAULT_LOAD.requests}); each one a new TCP connection
  --size BYTES         load: response size, e.g. 8388608 or 8MiB (default 8MiB, at most 64MiB)
  --concurrency C      load: requests in flight (default ${DEFAULT_LOAD.concurrency})
  --target wan|lan     load: lb's WAN address across the delay line (default) or its LAN address (no RTT)
  --json               machine-readable output

Person's access: ssh -F .lab/NAME/ssh_config lb   (kdrift lab status --json prints sshConfig)
`;

const options = {
  name: { type: 'string' },
  subnet: { type: 'string' },
  rtt: { type: 'string' },
  bandwidth: { type: 'string' },
  requests: { type: 'string' },
  size: { type: 'string' },
  concurrency: { type: 'string' },
  target: { type: 'string' },
  json: { type: 'boolean' },
} as const;

const ONLY: Record<string, string[]> = {
  up: ['name', 'subnet', 'rtt', 'bandwidth', 'json'],
  down: ['name'],
  status: ['name', 'json'],
  load: ['name', 'requests', 'size', 'concurrency', 'target', 'json'],
};

export const command: Command = {
  usage,
  async run(args) {
    const { values, positionals } = parseCommandArgs(args, options, true);
    const [action, ...extra] = positionals;
    if (action === undefined || !(action in ONLY)) throw new KdriftError(`give one of: up, down, status, load (got ${action === undefined ? 'nothing' : `"${action}"`})`);
    if (extra.length > 0) throw new KdriftError(`unexpected argument "${extra[0]}"`);
    for (const k of Object.keys(values)) {
      if (!(ONLY[action] as string[]).includes(k)) throw new KdriftError(`--${k} does not apply to lab ${action}`);
    }
    const name = values.name ?? DEFAULT_LAB_NAME;
    const out = (s: string) => process.stdout.write(s);

    if (action === 'up') {
      const started = Date.now();
      const st = await labUp({
        name,
        ...(values.subnet !== undefined ? { subnet: intOption(values.subnet, 'subnet', DEFAULT_SUBNET) } : {}),
        ...(values.rtt !== undefined ? { rttMs: parseRtt(values.rtt) } : {}),
        ...(values.bandwidth !== undefined ? { bandwidth: values.bandwidth === '0' ? 0 : values.bandwidth } : {}),
      });
      out(values.json ? JSON.stringify(st, null, 2) + '\n' : `lab ${name} is up (${Date.now() - started} ms)\n${formatStatus(st)}`);
      return 0;
    }
    if (action === 'down') {
      const started = Date.now();
      await labDown(name);
      out(`lab ${name} is down (${Date.now() - started} ms)\n`);
      return 0;
    }
    if (action === 'status') {
      const st = await labStatus(name);
      out(values.json ? JSON.stringify(st, null, 2) + '\n' : formatStatus(st));
      return st.healthy ? 0 : 1;
    }
    const target = values.target ?? 'wan';
    if (target !== 'wan' && target !== 'lan') throw new KdriftError(`--target must be wan or lan, got "${target}"`);
    const res = await runLoad(name, {
      requests: intOption(values.requests, 'requests', DEFAULT_LOAD.requests),
      size: parseSize(values.size),
      concurrency: intOption(values.concurrency, 'concurrency', DEFAULT_LOAD.concurrency),
      target,
    });
    out(values.json ? JSON.stringify(res, null, 2) + '\n' : formatLoad(res, target));
    return res.errors > 0 ? 1 : 0;
  },
};

export function parseSize(raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_LOAD.size;
  const m = /^(\d+)(B|KiB|MiB|K|M)?$/.exec(raw.trim());
  if (!m) throw new KdriftError(`"${raw}" is not a size in bytes (e.g. 8388608, 64KiB, 8MiB)`, '--size');
  const unit = m[2] ?? 'B';
  return Number(m[1]) * (unit === 'KiB' || unit === 'K' ? 1024 : unit === 'MiB' || unit === 'M' ? 1024 * 1024 : 1);
}

function formatStatus(st: LabStatus): string {
  if (!st.exists) return `lab ${st.name}: not up (kdrift lab up${st.name === DEFAULT_LAB_NAME ? '' : ` --name ${st.name}`})\n`;
  const up = (b: boolean) => (b ? 'up' : 'DOWN');
  const lines = [`lab ${st.name} (10.${st.subnet}.0.0/16): ${st.healthy ? 'healthy' : 'NOT HEALTHY'}`];
  lines.push(`  ${'host'.padEnd(7)} ${'netns'.padEnd(16)} ${'address'.padEnd(13)} ${'wan'.padEnd(13)} ${'sshd'.padEnd(5)} roles`);
  for (const h of st.hosts) {
    lines.push(`  ${h.name.padEnd(7)} ${h.netns.padEnd(16)} ${h.address.padEnd(13)} ${(h.wanAddress ?? '-').padEnd(13)} ${up(h.sshdAlive).padEnd(5)} ${h.roles.join(',')}`);
  }
  lines.push(`  services: haproxy ${up(st.services.haproxy)}, app1 ${up(st.services.app1)}, app2 ${up(st.services.app2)}`);
  const w = st.wan;
  const cap = w.bandwidthBytesPerSec ? `, cap ${((w.bandwidthBytesPerSec * 8) / 1e6).toFixed(1)} Mbit/s` : '';
  const link =
    w.kind === 'missing'
      ? 'MISSING'
      : w.kind === 'plain'
        ? 'plain veth (no added RTT)'
        : `delay line ${w.alive ? `pid ${w.pid} alive` : 'DEAD (kdrift lab up mends it)'}, rtt ${w.rttMs} ms${cap}`;
  lines.push(`  wan: client ${w.clientAddress} ⇄ lb ${w.lbAddress}: ${link}`);
  lines.push(`  ssh: ssh -F ${st.sshConfig} lb    (non-root user: ${st.nonRootUser})`);
  lines.push(`  inventory: ${st.inventoryFile}${st.pulumiStack ? `   stack: --stack lab (${st.pulumiStack})` : ''}`);
  return lines.join('\n') + '\n';
}

function formatLoad(r: LoadResult, target: string): string {
  const s = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`);
  const size = r.requests > 0 ? r.url.replace(/^.*\/bytes\//, '') : '0';
  return [
    `lab load: ${r.requests} requests of ${(Number(size) / 1048576).toFixed(1)} MiB, ${r.url} (${target.toUpperCase()}), concurrency ${r.concurrency}`,
    `  latency   p50 ${s(r.p50Ms)}   p95 ${s(r.p95Ms)}   max ${s(r.maxMs)}`,
    `  throughput ${(r.bytesPerSecond / 1e6).toFixed(1)} MB/s   errors ${r.errors}${r.errorSamples.length ? ` (${r.errorSamples.join('; ')})` : ''}`,
    '',
  ].join('\n');
}
