import { parseArgs, type ParseArgsConfig } from 'node:util';
import { EX_USAGE, KdriftError, UsageError, errorMessage } from './errors.js';
import { terminalSafe } from './terminal-text.js';

/**
 * A command-line command (`kdrift <name>`, or the probe agent's own entry point): its help text and its run. Shared
 * by cli/ and probe/ so that the agent can run without loading the CLI, and both fail the same way.
 */
export interface Command {
  /** Full help text, printed by `kdrift <command> --help`. */
  usage: string;
  /** Returns the process exit code. */
  run(args: string[]): Promise<number>;
}

type Options = NonNullable<ParseArgsConfig['options']>;
type ParsedCommandArgs<T extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: T; allowPositionals: boolean; strict: true }>>;

/** node:util parseArgs, with its errors turned into one clear line. */
export function parseCommandArgs<T extends Options>(args: string[], options: T, allowPositionals = false): ParsedCommandArgs<T> {
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/\. To specify a positional argument.*$/s, ''));
  }
}

export function intOption(value: string | undefined, name: string, def: number, min = 1): number {
  if (value === undefined) return def;
  if (!/^\d+$/.test(value) || Number(value) < min) throw new UsageError(`--${name} must be an integer >= ${min}, got "${value}"`);
  return Number(value);
}

/** --serve ADDR:PORT (port 0 picks a free port). */
export function serveOption(value: string | undefined): { host: string; port: number } | undefined {
  if (value === undefined) return undefined;
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9][A-Za-z0-9_.-]*)):(\d{1,5})$/.exec(value);
  if (!m || Number(m[3]) > 65535) throw new KdriftError(`--serve "${value}" is not ADDR:PORT (e.g. 127.0.0.1:9464)`);
  return { host: (m[1] ?? m[2]) as string, port: Number(m[3]) };
}

/**
 * Runs one command: `--help` prints its usage; an error a user can act on (KdriftError) prints as one line, anything
 * else as an internal error, and still no stack trace unless KDRIFT_DEBUG is set. Returns the exit code.
 */
export async function runCommand(name: string, load: () => Promise<Command>, args: string[]): Promise<number> {
  try {
    const command = await load();
    if (args.includes('--help') || args.includes('-h')) {
      process.stdout.write(command.usage);
      return 0;
    }
    return await command.run(args);
  } catch (err) {
    const msg = err instanceof KdriftError ? err.message : `internal error: ${errorMessage(err)}`;
    // Errors carry host-originated text (file names, stderr of host commands): no raw control characters.
    process.stderr.write(`kdrift ${terminalSafe(name)}: ${terminalSafe(msg)}\n`);
    if (process.env.KDRIFT_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    if (err instanceof UsageError) {
      process.stderr.write(`Run 'kdrift ${name} --help' for its options.\n`);
      return EX_USAGE;
    }
    return 1;
  }
}
