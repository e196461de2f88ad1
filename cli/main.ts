import { runCommand, type Command } from '../core/command.js';
import { EXIT } from '../core/report.js';
import { terminalSafe } from '../core/terminal-text.js';
import { guardStdio } from './output.js';

/** A CLI command: one file in cli/commands/, loaded only when it runs (the probe agent must start fast on a host). */
export type { Command };

/** The commands; exported for scripts/gen-cli-docs.ts (completion and man page come from the same help text). */
export const commands: Record<string, { summary: string; load: () => Promise<Command> }> = {
  check: { summary: 'check one host (or this machine with --local) against its roles', load: async () => (await import('./commands/check.js')).command },
  report: { summary: 'check every host of the inventory and write the drift report', load: async () => (await import('./commands/report.js')).command },
  fix: { summary: 'plan, apply, verify (behaviour included) and if needed roll back remediations', load: async () => (await import('./commands/fix.js')).command },
  probe: { summary: 'the on-host eBPF agent: observe live TCP behaviour and print JSON observations', load: async () => (await import('./commands/probe.js')).command },
  gate: { summary: 'run a hardening script under the eBPF sysctl guard and judge what it changed', load: async () => (await import('./commands/gate.js')).command },
  watch: { summary: 'attribute every sysctl write on this host (who, old -> new, netns) and flag conflicts', load: async () => (await import('./commands/watch.js')).command },
  lab: { summary: 'the embedded fleet: up | down | status | load', load: async () => (await import('./commands/lab.js')).command },
};

export const mainUsage = `kdrift — kernel state drift detection and remediation, proven by eBPF

Usage: kdrift <command> [options]

Commands:
${Object.entries(commands)
  .map(([name, c]) => `  ${name.padEnd(8)} ${c.summary}`)
  .join('\n')}

Run 'kdrift <command> --help' for a command's options; 'kdrift -V' prints the version.
Exit codes: 0 no drift, 2 drift found (or not fixed), 1 could not check (host errors, unreadable or invalid input
files), 64 usage error (unknown command or option, bad option value).
`;

export async function main(argv: string[]): Promise<number> {
  guardStdio();
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    if (name === undefined) {
      process.stderr.write(mainUsage);
      return EXIT.usage;
    }
    process.stdout.write(mainUsage);
    return 0;
  }
  if (name === '--version' || name === '-V') {
    process.stdout.write('kdrift 0.1.0\n');
    return 0;
  }
  const entry = commands[name];
  if (!entry) {
    process.stderr.write(`kdrift: unknown command "${terminalSafe(name)}"\n\n${mainUsage}`);
    return EXIT.usage;
  }
  return runCommand(name, entry.load, rest);
}
