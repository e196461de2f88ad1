/** `kdrift gate`: run a hardening script under the sysctl guard and judge what it did against a role's baseline. */
import type { Command } from '../main.js';
import { parseCommandArgs } from '../args.js';
import { KdriftError } from '../../core/errors.js';
import { resolveRoleSpecs, roleSourceOptions } from './role-specs.js';

const usage = `Usage: kdrift gate --role ROLE [--stack NAME | --baseline FILE] [--mode deny|audit] [--sandbox] [--json] [--verbose] -- CMD [ARGS...]

Runs CMD (a hardening script, a config-management run) under an eBPF cgroup/sysctl guard in a fresh child cgroup,
records every sysctl write it makes (who: comm, pid, parent; old -> new; network namespace), and judges every write
and every sysctl.d / sysctl.conf line it leaves against the role's declared sysctls (the same resolution rules as
kdrift report).

  --role ROLE          the role whose declarations apply (repeatable: merged as for a host with those roles)
  --stack NAME         baseline of this Pulumi stack's inventory (default: stacks/baselines.ts)
  --baseline FILE      role baselines from a YAML/JSON file or module
  --mode deny|audit    deny (default): writes contradicting a declared value are refused in the kernel (EPERM);
                       audit: recorded and judged only
  --sandbox            CI mode: CMD runs in a fresh network + mount namespace; /etc, /usr and /run are overlays that
                       vanish with it, and writes outside the sandbox's network namespace (every non-net.* key) are
                       recorded and refused, so nothing CMD does reaches this machine
  --json               print the result as JSON
  --verbose            list allowed writes and unrelated persisted changes too

CMD's output goes to stderr. Exit codes: 0 nothing conflicts, 2 conflicts, 1 bad input or the gate could not run.
The command's own exit status is reported in the output, apart. Needs root, cgroup v2, a kernel with BTF.
Everything the gate creates (cgroup, namespaces, overlays, BPF program) is gone when it exits, even by SIGKILL.
`;

export const command: Command = {
  usage,
  async run(args) {
    const sep = args.indexOf('--');
    if (sep < 0 || sep === args.length - 1) throw new KdriftError('give the command to gate after "--" (e.g. kdrift gate --role lb -- ./harden.sh)');
    const cmd = args.slice(sep + 1);
    const { values } = parseCommandArgs(args.slice(0, sep), {
      ...roleSourceOptions,
      mode: { type: 'string' },
      sandbox: { type: 'boolean' },
      json: { type: 'boolean' },
      verbose: { type: 'boolean' },
    });
    const mode = values.mode ?? 'deny';
    if (mode !== 'deny' && mode !== 'audit') throw new KdriftError(`--mode must be deny or audit, got "${mode}"`);
    const { runGate, assertRoot } = await import('../../gate/run.js');
    assertRoot();
    const { roles, specs } = await resolveRoleSpecs(values);
    const { renderGateJson, renderGateText } = await import('../../gate/render.js');
    const result = await runGate({ roles, specs, mode, sandbox: values.sandbox ?? false, command: cmd });
    process.stdout.write(values.json ? renderGateJson(result) : renderGateText(result, values.verbose ?? false));
    return result.conflicts > 0 ? 2 : 0;
  },
};

