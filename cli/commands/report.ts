/**
 * `kdrift report`: every host of the inventory (or those of --role / --host) → one Report → the formats asked for.
 * `kdrift check` (check.ts) is the same run for one host or this machine; both share `runReportCommand`.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Command } from '../main.js';
import { hostOptions, hostOptionsUsage, intOption, parseCommandArgs } from '../args.js';
import { KdriftError, UsageError } from '../../core/errors.js';
import type { Baseline } from '../../core/baseline.js';
import { loadBaselineFile } from '../../core/baseline-file.js';
import { loadInventory, selectHosts, type HostEntry, type Inventory } from '../../core/inventory.js';
import { sessionOptionsFromArgs, type SessionOptions } from '../../core/sessions.js';
import { DEFAULT_CONCURRENCY } from '../../core/pool.js';
import { runChecks, type ProgressEvent } from '../../core/engine/index.js';
import { exitCodeFor, type FailOn } from '../../core/report.js';
import { loadSuppressions } from '../../core/suppressions.js';
import { batchesOf, renderChunks, RENDER_FORMATS, type RenderFormat } from '../../core/render/index.js';
import { writeOut } from '../stdout.js';
import type { KeptSessions } from '../../core/engine/index.js';
import { ChangeTracking, everyOption, nightlyOptions, nightlyOptionsUsage, runEvery } from './report-nightly.js';

export const reportOptions = {
  ...hostOptions,
  role: { type: 'string', multiple: true },
  format: { type: 'string', multiple: true },
  output: { type: 'string', multiple: true },
  baseline: { type: 'string' },
  probe: { type: 'boolean' },
  'fail-on': { type: 'string' },
  'ignore-file': { type: 'string' },
  verbose: { type: 'boolean' },
  ...nightlyOptions,
} as const;

export const reportOptionsUsage = `Report:
  --format FMT              write FMT to stdout (repeatable): text (default) json md junit html prom
  --output FMT=FILE         also write FMT to FILE (repeatable; written atomically: temp file + rename)
  --baseline FILE           role baselines from a YAML/JSON file (default: the fleet baseline in stacks/baselines.ts)
  --probe                   also run the behaviour checks (the eBPF probe agent on each host) and join the verdicts
  --ignore-file FILE        suppressions (default ./.kdriftignore when it exists); see below
  --fail-on drift|error|none
                            drift (default): exit 2 on drift, 1 if any host could not be checked;
                            error: exit 1 only when a host could not be checked (drift alone exits 0);
                            none: always exit 0 once the report is written
  --verbose                 the text table lists ok findings too

${nightlyOptionsUsage}
Exit codes: 0 no drift, 2 drift found, 1 could not check (a host errored, or an input file is unreadable or
invalid), 64 usage error (unknown option, bad option value).
Colours: only when stdout is a terminal and NO_COLOR is not set. Progress goes to stderr when it is a terminal.

Suppressions (.kdriftignore, YAML list): each entry has key (glob, required), reason (required), and optionally
host, role, check (globs), layer (runtime|persisted|behaviour), expires (YYYY-MM-DD: holds through that day). A
suppressed finding is listed as suppressed and not counted; once expired it counts again and says so.
`;

const usage = `Usage: kdrift report (--stack NAME | --inventory FILE) [options]

Checks every host of the inventory against its roles' declared kernel state — the runtime value (/proc/sys) and the
value a boot would apply (the sysctl.d family, systemd-sysctl precedence, with the file:line responsible) — and
writes the drift report.

  --role ROLE               only hosts with this role (repeatable: any of them)
  --host NAME               only this host (repeatable)

${reportOptionsUsage}
${hostOptionsUsage}`;

type ReportValues = ReturnType<typeof parseCommandArgs<typeof reportOptions & { host: { type: 'string'; multiple: true } }>>['values'];

/** --output FMT=FILE → [format, file]. */
export function parseOutputs(raw: readonly string[] | undefined): [RenderFormat, string][] {
  return (raw ?? []).map((o) => {
    const eq = o.indexOf('=');
    const fmt = o.slice(0, eq);
    const file = o.slice(eq + 1);
    if (eq <= 0 || file.length === 0) throw new UsageError(`--output must be FORMAT=FILE (e.g. junit=report.xml), got "${o}"`);
    return [checkFormat(fmt, '--output'), file];
  });
}

function checkFormat(f: string, opt: string): RenderFormat {
  if (!(RENDER_FORMATS as readonly string[]).includes(f)) throw new UsageError(`${opt}: unknown format "${f}" (formats: ${RENDER_FORMATS.join(', ')})`);
  return f as RenderFormat;
}

function failOnOption(v: string | undefined): FailOn {
  if (v === undefined) return 'drift';
  if (v === 'drift' || v === 'error' || v === 'none') return v;
  throw new UsageError(`--fail-on must be drift, error or none, got "${v}"`);
}

async function resolveBaseline(explicit: string | undefined, inventory: Pick<Inventory, 'baseline'> | undefined): Promise<Baseline> {
  const file = explicit ?? inventory?.baseline;
  if (file !== undefined) return loadBaselineFile(file);
  const { fleetBaseline } = await import('../../stacks/baselines.js');
  return fleetBaseline();
}

/**
 * Temp file in the target's directory, then rename: a reader (node_exporter, CI) never sees half a report. The temp
 * file has an unpredictable name and is created exclusively ('wx' = O_CREAT|O_EXCL, which also refuses a symlink
 * planted at that name), so nobody can make kdrift write through a link they placed.
 */
export async function writeFileAtomicLocal(file: string, data: string | Iterable<string>): Promise<void> {
  const abs = path.resolve(file);
  await mkdir(path.dirname(abs), { recursive: true });
  const tmp = path.join(path.dirname(abs), `.${path.basename(abs)}.kdrift-${randomBytes(8).toString('hex')}.tmp`);
  try {
    const fh = await open(tmp, 'wx', 0o644);
    try {
      // a renderer's chunks go out in batches: a 1,000-host report is never one string in memory
      for (const batch of batchesOf(data)) await fh.writeFile(batch);
    } finally {
      await fh.close();
    }
    await rename(tmp, abs);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') await rm(tmp, { force: true });
    throw new KdriftError(`cannot write: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, abs);
  }
}

export interface ReportRun {
  values: ReportValues;
  /** How the hosts are chosen; the inventory (if any) is loaded by the caller. */
  hosts: HostEntry[];
  inventory: Inventory | undefined;
  sessionOptions: SessionOptions;
  /** How a next-step command names the inventory (`--stack lab`, `--inventory hosts.yaml`), as the user gave it. */
  selector?: string[];
}

/** Validates everything about the output before any host is touched, runs, renders, writes; returns the exit code. */
export async function runReportCommand(run: ReportRun): Promise<number> {
  const { values } = run;
  const formats = (values.format ?? ['text']).map((f) => checkFormat(f, '--format'));
  const outputs = parseOutputs(values.output);
  const failOn = failOnOption(values['fail-on']);
  const concurrency = intOption(values.concurrency, 'concurrency', DEFAULT_CONCURRENCY);
  const baseline = await resolveBaseline(values.baseline, run.inventory);
  const suppressions = await loadSuppressions(values['ignore-file']);
  const tracking = await ChangeTracking.open(values);
  const { everyMs, listen } = everyOption(values);

  // Progress on stderr, only on a terminal: hosts done, and while the probe observes, a countdown of its window.
  const probing = values.probe === true;
  const progress = process.stderr.isTTY === true && (run.hosts.length > 1 || probing);
  const windowMs = probing ? Math.max(0, ...Object.values(baseline.roles).flatMap((r) => r.behaviours.map((b) => b.window))) : 0;
  const started = Date.now();
  let last: ProgressEvent | undefined;
  const draw = () => {
    const hostsPart = last ? `checking hosts: ${last.done}/${last.total} (${last.host}: ${last.status})` : `checking ${run.hosts.length} host${run.hosts.length === 1 ? '' : 's'}`;
    const left = Math.ceil((windowMs - (Date.now() - started)) / 1000);
    const probePart = probing ? (left > 0 ? ` — probe observing live traffic, ~${left} s left` : ' — collecting probe results') : '';
    process.stderr.write(`\r\x1b[2K${hostsPart}${probePart}`);
  };
  const ticker = progress && probing ? setInterval(draw, 1000).unref() : undefined;
  if (progress && probing) draw();
  const onProgress = progress
    ? (ev: ProgressEvent) => {
        last = ev;
        draw();
        if (ev.done === ev.total) {
          if (ticker) clearInterval(ticker);
          process.stderr.write('\r\x1b[2K');
        }
      }
    : undefined;
  const once = async (kept?: KeptSessions) => {
    const report = tracking.apply(await runChecks({
      inventory: run.inventory ?? {},
      baseline,
      hosts: run.hosts,
      sessionOptions: run.sessionOptions,
      concurrency,
      probe: values.probe ?? false,
      selector: run.selector ?? [],
      ...(suppressions ? { suppressions } : {}),
      ...(onProgress ? { onProgress } : {}),
      ...(kept ? { keptSessions: kept } : {}),
    }));

    const color = process.stdout.isTTY === true && !process.env.NO_COLOR;
    for (const [fmt, file] of outputs) await writeFileAtomicLocal(file, renderChunks(report, fmt, { verbose: values.verbose ?? false }));
    if (tracking.stateOutput) await writeFileAtomicLocal(tracking.stateOutput, renderChunks(report, 'json'));
    for (const fmt of formats) await writeOut(renderChunks(report, fmt, { color, verbose: values.verbose ?? false }));
    return { report, code: exitCodeFor(report, failOn) };
  };
  if (everyMs === undefined) return (await once()).code;
  return runEvery(once, { everyMs, ...(listen ? { listen } : {}), sessionOptions: run.sessionOptions });
}

export const command: Command = {
  usage,
  async run(args) {
    const { values } = parseCommandArgs(args, { ...reportOptions, host: { type: 'string', multiple: true } });
    const inventory = await loadInventory({ ...(values.stack ? { stack: values.stack } : {}), ...(values.inventory ? { inventory: values.inventory } : {}) });
    let hosts = inventory.hosts;
    if (values.host?.length) hosts = values.host.flatMap((name) => selectHosts(inventory, { host: name }));
    if (values.role?.length) {
      const roles = values.role;
      hosts = hosts.filter((h) => h.roles.some((r) => roles.includes(r)));
      if (hosts.length === 0) throw new KdriftError(`no host has role ${roles.map((r) => `"${r}"`).join(' or ')}`, inventory.source);
    }
    return runReportCommand({ values, hosts, inventory, sessionOptions: sessionOptionsFromArgs(values, inventory), selector: inventorySelector(values) });
  },
};

/** The inventory options as the user gave them, for the next-step commands a report prints. */
export function inventorySelector(values: { stack?: string; inventory?: string }): string[] {
  if (values.stack) return ['--stack', values.stack];
  if (values.inventory) return ['--inventory', values.inventory];
  return [];
}

/** The host entry `kdrift check --local` checks: this machine, no SSH. */
export function localHost(roles: string[]): HostEntry {
  const name = os.hostname().replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 63) || 'localhost';
  return { name, address: 'localhost', port: 22, user: os.userInfo().username, roles, local: true };
}
