/**
 * The probe agent's entry point without the CLI: `node --import tsx probe/agent-entry.ts probe --json ...` runs the
 * agent from the sources (what the e2e tests and benchmarks start inside network namespaces, and use as a host's
 * agentCommand), with the same argv, output and exit codes as `kdrift probe`.
 */
import { runCommand } from '../core/command.js';
import { probeCommand } from './command.js';

const [name, ...rest] = process.argv.slice(2);
if (name !== 'probe') {
  process.stderr.write(`kdrift agent: the only command here is "probe" (got ${name === undefined ? 'none' : `"${name}"`})\n`);
  process.exitCode = 1;
} else {
  runCommand(name, async () => probeCommand, rest).then((code) => {
    process.exitCode = code;
  });
}
