/**
 * `kdrift fix`: plan → (ask) → apply → verify (behaviour included) → roll back what does not verify.
 * Exit codes: 0 every planned fix verified (or nothing to do, or a dry run); 2 something could not be fixed (rolled
 * back, left unchanged, or unfinished); 1 bad input or a host that could not be planned at all.
 */
import { createInterface } from 'node:readline/promises';
import type { Command } from '../main.js';
import { hostOptions, hostOptionsUsage, intOption, parseCommandArgs } from '../args.js';
import { KdriftError } from '../../core/errors.js';
import { loadInventory, selectHosts, type HostEntry } from '../../core/inventory.js';
import { sessionOptionsFromArgs } from '../../core/sessions.js';
import { DEFAULT_CONCURRENCY } from '../../core/pool.js';
import type { Baseline } from '../../core/baseline.js';
import { fixFleet, undoFleet, revertFleet, remediationPlanIsEmpty, renderPlan, renderOutcome, renderUndo, renderRevertPlan, renderRevertOutcome, type RemediationPlan, type RevertPlan } from '../../remediation/index.js';
import { terminalSafe } from '../../core/terminal-text.js';

const usage = `Usage: kdrift fix (--stack NAME | --inventory FILE) [--host NAME ...] [--role ROLE] [options]
       kdrift fix --revert [JOURNAL] (--stack NAME | --inventory FILE) [--host NAME] [--yes | --dry-run]

Fixes drifted sysctls whose remediation policy is "auto": the runtime value (/proc/sys), the persistent value
(/etc/sysctl.d/90-kdrift.conf, written atomically), and lines in sysctl.d files applied after it that would override it
at boot (commented out with a dated "# kdrift" marker). Every change is journaled on the host first
(/var/lib/kdrift/journal), then verified by re-running the checks — behaviours that depend on the fixed keys
included, observed by the probe agent with its own test connections. What does not verify is rolled back exactly.

  --host NAME          only this host (repeatable)
  --role ROLE          only hosts with this role
  --dry-run            print the plan (per key, and the exact diffs); change nothing
  --yes                apply without asking (required when stdin is not a terminal)
  --include-manual     also fix keys whose policy is "manual" (never "never")
  --undo               restore the newest unfinished fix of each host from its journal (a fix whose run died or
                       lost its session); a later kdrift fix also rolls such a fix back first when nothing changed since
  --revert [JOURNAL]   restore what was there before a VERIFIED fix (runtime values and files byte for byte, from
                       its journal): the newest verified fix of each host, or JOURNAL (an id or file name; with one
                       --host). Anything changed since the fix is kept beside the file as <file>.kdrift-saved-<time>.
                       Shows the plan and asks like a fix (--yes, --dry-run)
  --baseline FILE      role baselines (YAML/JSON, or a module); default the inventory's, else stacks/baselines
  --json               print the plans and outcomes as JSON
  --verify-window DUR  probe window for behaviour verification (default 1s; the probe drives its own test
                       connections at the start of it)

Exit codes: 0 all planned fixes verified (or nothing to do); 2 something could not be fixed (and was rolled back, or
left unchanged, or a drifted "auto" key kdrift cannot plan, e.g. a masked 90-kdrift.conf); 1 bad input, a declined
question, or a host that could not be planned.

${hostOptionsUsage}`;

const options = {
  ...hostOptions,
  host: { type: 'string', multiple: true },
  role: { type: 'string' },
  'dry-run': { type: 'boolean' },
  yes: { type: 'boolean', short: 'y' },
  'include-manual': { type: 'boolean' },
  undo: { type: 'boolean' },
  revert: { type: 'boolean' },
  baseline: { type: 'string' },
  json: { type: 'boolean' },
  'verify-window': { type: 'string' },
} as const;

async function resolveBaseline(explicit: string | undefined, inventoryBaseline: string | undefined): Promise<Baseline> {
  const file = explicit ?? inventoryBaseline;
  if (file !== undefined) {
    const { loadBaselineFile } = await import('../../core/baseline-file.js');
    return loadBaselineFile(file);
  }
  const { fleetBaseline } = await import('../../stacks/baselines.js');
  return fleetBaseline();
}

async function askYesNo(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(terminalSafe(question));
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

export const command: Command = {
  usage,
  async run(args) {
    const { values, positionals } = parseCommandArgs(args, options, true);
    if (positionals.length > 0 && !values.revert) throw new KdriftError(`unexpected argument "${positionals[0]}" (only --revert takes one: a journal id)`);
    if (positionals.length > 1) throw new KdriftError('--revert takes at most one journal id');
    if (values.undo && values.revert) throw new KdriftError('give --undo (an unfinished fix) or --revert (a verified fix), not both');
    if (values.undo && (values['dry-run'] || values['include-manual'])) throw new KdriftError('--undo restores from the journal: it takes no --dry-run or --include-manual');
    if (values.revert && values['include-manual']) throw new KdriftError('--revert restores from the journal: it takes no --include-manual');
    const interactive = !values.yes && !values['dry-run'];
    if (interactive && !values.undo && !process.stdin.isTTY) {
      throw new KdriftError('stdin is not a terminal, so kdrift cannot ask before changing hosts: pass --yes to apply (or --dry-run to only see the plan)');
    }
    const { parseDurationMs } = await import('../../core/duration.js');
    const windowMs = values['verify-window'] === undefined ? undefined : parseDurationMs(values['verify-window']);
    if (windowMs === undefined && values['verify-window'] !== undefined) throw new KdriftError(`--verify-window must be a duration of at most 24h (e.g. 2s), got "${values['verify-window']}"`);
    const concurrency = intOption(values.concurrency, 'concurrency', DEFAULT_CONCURRENCY);

    const inventory = await loadInventory({ ...(values.stack ? { stack: values.stack } : {}), ...(values.inventory ? { inventory: values.inventory } : {}) });
    let hosts: HostEntry[] = inventory.hosts;
    if (values.host?.length) hosts = values.host.flatMap((name) => selectHosts(inventory, { host: name }));
    if (values.role) hosts = selectHosts({ ...inventory, hosts }, { role: values.role });
    const sessionOptions = sessionOptionsFromArgs(values, inventory);
    const json = values.json ?? false;
    const print = (text: string) => {
      if (!json) process.stdout.write(text);
    };

    if (values.revert) {
      const journal = positionals[0];
      if (journal !== undefined && hosts.length !== 1) throw new KdriftError(`--revert ${journal} names one host's journal: give --host NAME`);
      const res = await revertFleet({
        hosts,
        sessionOptions,
        concurrency,
        dryRun: values['dry-run'] ?? false,
        ...(journal !== undefined ? { journal } : {}),
        onPlan: (p) => print(renderRevertPlan(p)),
        ...(interactive ? { confirm: (plans: RevertPlan[]) => askYesNo(`Revert ${plans.length === 1 ? 'this fix' : `these ${plans.length} fixes`}? [y/N] `) } : {}),
        onOutcome: (o) => print(renderRevertOutcome(o)),
      });
      if (res.declined) print('nothing changed\n');
      if (json) process.stdout.write(`${JSON.stringify({ version: 1, mode: values['dry-run'] ? 'revert-plan' : 'revert', declined: res.declined ?? false, hosts: res.outcomes, exitCode: res.exitCode }, null, 2)}\n`);
      return res.exitCode;
    }

    if (values.undo) {
      if (interactive && process.stdin.isTTY && !(await askYesNo(`Restore the newest unfinished fix on ${hosts.map((h) => h.name).join(', ')}? [y/N] `))) return 1;
      if (interactive && !process.stdin.isTTY) throw new KdriftError('stdin is not a terminal: pass --yes with --undo');
      const res = await undoFleet({ hosts, sessionOptions, concurrency, onOutcome: (o) => print(renderUndo(o)) });
      if (json) process.stdout.write(`${JSON.stringify({ version: 1, mode: 'undo', hosts: res.outcomes, exitCode: res.exitCode }, null, 2)}\n`);
      return res.exitCode;
    }

    const baseline = await resolveBaseline(values.baseline, inventory.baseline);
    const printedPlans = new Set<string>();
    const showPlan = (plan: RemediationPlan) => {
      printedPlans.add(plan.host);
      const worthShowing = !remediationPlanIsEmpty(plan) || plan.unfinished !== undefined || plan.plans.some((p) => p.skipped.length > 0);
      if (worthShowing) print(renderPlan(plan));
    };
    const result = await fixFleet({
      hosts,
      baseline,
      sessionOptions,
      concurrency,
      dryRun: values['dry-run'] ?? false,
      includeManual: values['include-manual'] ?? false,
      ...(windowMs !== undefined ? { verify: { behaviourWindowMs: windowMs } } : {}),
      onPlan: showPlan,
      ...(interactive
        ? {
            confirm: async (plans: RemediationPlan[]) => {
              for (const p of plans) showPlan(p);
              return askYesNo(`Apply these changes to ${plans.length} host${plans.length === 1 ? '' : 's'}? [y/N] `);
            },
          }
        : {}),
      onOutcome: (o) => {
        if (o.plan && !printedPlans.has(o.host) && o.status !== 'nothing-to-do') showPlan(o.plan);
        print(renderOutcome(o));
      },
    });
    if (result.declined) print('nothing changed\n');
    if (json) process.stdout.write(`${JSON.stringify({ version: 1, mode: values['dry-run'] ? 'plan' : 'fix', declined: result.declined ?? false, hosts: result.outcomes, exitCode: result.exitCode }, null, 2)}\n`);
    return result.exitCode;
  },
};
