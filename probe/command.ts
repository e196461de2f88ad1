import { parseCommandArgs, intOption, serveOption, type Command } from '../core/command.js';
import { KdriftError } from '../core/errors.js';
import { parseDurationMs } from '../core/duration.js';
// The observer list only: `kdrift probe --help` and argument errors load no BPF (the addon loads on first use).
import { DEFAULT_OBSERVERS, OBSERVER_NAMES } from './observers/index.js';

const usage = `Usage: kdrift probe [options]

The on-host eBPF agent: attaches to the cgroup v2 root, observes new TCP connections (window scaling negotiated or
not, and which side lacked it), zero-window advertisements and retransmits, then detaches and prints what it saw.
Needs root, a kernel with BTF, and cgroup v2. Run it inside a network namespace (ip netns exec) to watch that netns.

Options:
  --duration DUR        observe this long (default 10s; with --serve, until SIGINT/SIGTERM unless given)
  --port P              watch this service port (repeatable; default all ports)
  --netns self|all      watch this process's network namespace (default) or every namespace of the host
  --connect HOST:PORT   open test connections there once attached, so a quiet host still yields evidence (repeatable)
  --connect-count N     test connections per --connect target (default 3)
  --samples N           connection samples in the output (default 50)
  --observe WHAT        comma-separated observers: ${OBSERVER_NAMES.join(', ')} (default ${DEFAULT_OBSERVERS.join(',')}):
                        load only what the checks need
  --json                print the observation as JSON (what behaviour checks read)
  --serve ADDR:PORT     expose Prometheus metrics at http://ADDR:PORT/metrics while observing
`;

/** `kdrift probe`: the agent's command line, run by the CLI and by the agent's own entry point (agent-entry.ts). */
export const probeCommand: Command = {
  usage,
  async run(args) {
    const { values } = parseCommandArgs(args, {
      duration: { type: 'string' },
      port: { type: 'string', multiple: true },
      netns: { type: 'string' },
      connect: { type: 'string', multiple: true },
      'connect-count': { type: 'string' },
      samples: { type: 'string' },
      json: { type: 'boolean' },
      serve: { type: 'string' },
      observe: { type: 'string' },
    });
    const ports = (values.port ?? []).map((p) => {
      if (!/^\d{1,5}$/.test(p) || Number(p) < 1 || Number(p) > 65535) throw new KdriftError(`--port must be a TCP port 1-65535, got "${p}"`);
      return Number(p);
    });
    const netns = values.netns ?? 'self';
    if (netns !== 'self' && netns !== 'all') throw new KdriftError(`--netns must be "self" or "all", got "${netns}"`);
    let durationMs: number | undefined = values.serve ? undefined : 10_000;
    if (values.duration !== undefined) {
      durationMs = parseDurationMs(values.duration);
      if (durationMs === undefined) throw new KdriftError(`--duration "${values.duration}" is not a duration (e.g. 10s, 500ms, 2m)`);
    }
    const what = values.observe === undefined ? [...DEFAULT_OBSERVERS] : values.observe.split(',');
    const unknown = what.filter((w) => !(OBSERVER_NAMES as readonly string[]).includes(w));
    if (what.length === 0 || unknown.length > 0) {
      throw new KdriftError(`--observe takes a comma-separated list of ${OBSERVER_NAMES.join(', ')}; got "${values.observe}"`);
    }
    const observe = OBSERVER_NAMES.filter((n) => what.includes(n));
    // Loaded only here: `kdrift probe --help` and argument errors need no BPF.
    const { parseConnectTarget } = await import('./connect.js');
    const connect = (values.connect ?? []).map(parseConnectTarget);
    // Port 0 picks a free port (printed on stderr once attached).
    const serve = serveOption(values.serve);
    const { runProbe, renderHuman } = await import('./run.js');
    const obs = await runProbe({
      ports,
      netns,
      durationMs,
      connect,
      connectCount: intOption(values['connect-count'], 'connect-count', 3),
      samples: intOption(values.samples, 'samples', 50, 0),
      observe,
      serve,
      // One line on stderr once attached: whoever drives traffic for the probe (tests, scripts) waits for it.
      onReady: ({ netnsCookie, metricsAddress }) => {
        process.stderr.write(`kdrift probe: attached (netns cookie ${netnsCookie})${metricsAddress ? `, metrics at http://${metricsAddress}/metrics` : ''}\n`);
      },
    });
    process.stdout.write(values.json ? JSON.stringify(obs) + '\n' : renderHuman(obs));
    return 0;
  },
};
