/** `kdrift watch`: attribute every sysctl write on this host and flag the ones contradicting the declared roles. */
import type { Command } from '../main.js';
import { hostOptions, hostOptionsUsage, intOption, parseCommandArgs, serveOption } from '../args.js';
import type { SysctlExpectation } from '../../core/baseline.js';
import { loadInventory } from '../../core/inventory.js';
import { DEFAULT_CONCURRENCY } from '../../core/pool.js';
import { sessionOptionsFromArgs } from '../../core/sessions.js';
import { loadBaselineFile } from '../../core/baseline-file.js';
import { KdriftError } from '../../core/errors.js';
import { parseDurationMs } from '../../core/duration.js';
import { resolveRoleSpecs } from './role-specs.js';

const usage = `Usage: kdrift watch --local --role ROLE [--baseline FILE] [options]
       kdrift watch (--stack NAME | --inventory FILE) [--role ROLE] [options]

Attaches the sysctl guard in audit mode to the cgroup v2 root: every sysctl write on this host, in any network
namespace, is attributed (time, process and parent, old -> new, network namespace inode) and judged against the
role's declared sysctls as it happens. Nothing is refused. Runs until SIGINT/SIGTERM (or --duration).

  --local                 judge every write on this machine against --role
  --stack NAME, --inventory FILE
                          judge a write by the inventory host it was made in: each host is asked once (SSH) for
                          its network namespace and boot id; hosts that live on this machine (lab hosts,
                          containers) get their writes judged against their own roles; writes elsewhere against
                          --role if given, else attributed only. Hosts on other machines are listed and skipped
                          (run kdrift watch --local there).
  --role ROLE             whose declarations apply (repeatable)
  --baseline FILE         role baselines from a YAML/JSON file or module (default: the inventory's, else
                          stacks/baselines.ts)
  --json                  one JSON line per write on stdout (conflict: true when it contradicts a declaration)
  --conflicts-only        print only conflicting writes (all are still logged and counted)
  --serve ADDR:PORT       Prometheus metrics at http://ADDR:PORT/metrics
  --exit-on-conflict      exit 2 at the first conflicting write
  --log FILE              the on-host write log, JSON lines, rotated at --log-max-bytes (default ${'/var/lib/kdrift/writes.jsonl'});
                          --log none keeps no log
  --log-max-bytes N       default 4194304
  --duration DUR          stop after DUR (e.g. 30s)

${hostOptionsUsage}
Exit codes: 0 stopped, 2 --exit-on-conflict saw a conflict, 1 bad input or the guard could not attach.
`;

export const command: Command = {
  usage,
  async run(args) {
    const { values } = parseCommandArgs(args, {
      ...hostOptions,
      local: { type: 'boolean' },
      role: { type: 'string', multiple: true },
      baseline: { type: 'string' },
      json: { type: 'boolean' },
      'conflicts-only': { type: 'boolean' },
      serve: { type: 'string' },
      'exit-on-conflict': { type: 'boolean' },
      log: { type: 'string' },
      'log-max-bytes': { type: 'string' },
      duration: { type: 'string' },
    });
    const fromInventory = values.stack !== undefined || values.inventory !== undefined;
    if (values.local === fromInventory) throw new KdriftError('give --local --role ROLE (this machine) or --stack NAME / --inventory FILE (its hosts on this machine)');
    const local = values.role?.length || values.local ? await resolveRoleSpecs({ ...values, stack: undefined }) : undefined;
    let judgeFor: (netns: number) => { host?: string; specs: ReadonlyMap<string, SysctlExpectation> } | undefined = () => local;
    let watching = `roles ${local?.roles.join(', ')}`;
    if (fromInventory) {
      const inventory = await loadInventory({ ...(values.stack ? { stack: values.stack } : {}), ...(values.inventory ? { inventory: values.inventory } : {}) });
      const file = values.baseline ?? inventory.baseline;
      const baseline = file !== undefined ? await loadBaselineFile(file) : (await import('../../stacks/baselines.js')).fleetBaseline();
      const { mapHosts } = await import('../../gate/watch-hosts.js');
      const map = await mapHosts(inventory.hosts, baseline, sessionOptionsFromArgs(values, inventory), intOption(values.concurrency, 'concurrency', DEFAULT_CONCURRENCY));
      for (const s of map.skipped) process.stderr.write(`kdrift watch: host ${s.host} skipped: ${s.why}\n`);
      judgeFor = (netns) => map.byNetns.get(netns) ?? local;
      watching = `hosts ${[...map.byNetns.values()].map((h) => h.host).join(', ') || '(none on this machine)'}${local ? `, elsewhere roles ${local.roles.join(', ')}` : ''}`;
    }
    let durationMs: number | undefined;
    if (values.duration !== undefined) {
      durationMs = parseDurationMs(values.duration);
      if (durationMs === undefined) throw new KdriftError(`--duration "${values.duration}" is not a duration (e.g. 30s)`);
    }
    const maxBytes = values['log-max-bytes'] === undefined ? undefined : Number(values['log-max-bytes']);
    if (maxBytes !== undefined && (!Number.isInteger(maxBytes) || maxBytes < 4096)) throw new KdriftError('--log-max-bytes must be an integer >= 4096');
    const serve = serveOption(values.serve);
    const { SysctlWatch, DEFAULT_WRITE_LOG } = await import('../../gate/watch.js');
    const { writer } = await import('../../gate/render.js');
    const { serveMetrics } = await import('../../probe/index.js');
    const logFile = values.log === 'none' ? undefined : (values.log ?? DEFAULT_WRITE_LOG);

    let stop: (code: number) => void = () => {};
    const stopped = new Promise<number>((resolve) => {
      stop = resolve;
    });
    const watch = await SysctlWatch.start({
      judgeFor,
      ...(logFile ? { logFile } : {}),
      ...(maxBytes ? { logMaxBytes: maxBytes } : {}),
      onWrite: (w) => {
        if (!values['conflicts-only'] || w.conflict) {
          process.stdout.write(
            values.json
              ? JSON.stringify(w) + '\n'
              : `${w.at} ${w.conflict ? 'CONFLICT' : 'write   '} ${w.key} ${w.oldValue ?? '?'} -> ${w.result}${w.expected ? ` (expected ${w.expected})` : ''} by ${writer(w)}\n`,
          );
        }
        if (w.conflict && values['exit-on-conflict']) stop(2);
      },
    });
    const server = serve ? await serveMetrics(serve.host, serve.port, () => watch.metrics()) : undefined;
    const onSignal = () => stop(0);
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const timer = durationMs !== undefined ? setTimeout(() => stop(0), durationMs) : undefined;
    const a = server?.address();
    const where = a && typeof a === 'object' ? `, metrics at http://${a.address}:${a.port}/metrics` : '';
    process.stderr.write(`kdrift watch: attached to ${watch.cgroupRoot} (${watching})${where}\n`);
    try {
      return await stopped;
    } finally {
      if (timer) clearTimeout(timer);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      server?.close();
      server?.closeAllConnections();
      await watch.close();
    }
  },
};
