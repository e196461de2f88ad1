/**
 * `kdrift check --local` and the report CLI's options, run as a child process against this machine's real kernel
 * (read only: nothing here writes a sysctl). Baselines are written per test from the machine's current values, so the
 * expected outcome is known whatever machine runs it.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Report } from '../../core/report.js';
import { quoteArgv } from '../../core/shell-quote.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** tsx's loader by absolute URL: the CLI may run in another working directory. */
const TSX = pathToFileURL(path.join(REPO, 'node_modules/tsx/dist/loader.mjs')).href;
const KEY = 'net.ipv4.tcp_window_scaling';
const current = readFileSync(`/proc/sys/${KEY.replaceAll('.', '/')}`, 'utf8').trim();
const other = current === '1' ? '0' : '1';

function kdrift(args: string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const entry = `const { main } = await import(${JSON.stringify(path.join(REPO, 'cli/main.ts'))}); process.exitCode = await main(process.argv.slice(1));`;
  const child = spawn(process.execPath, ['--import', TSX, '--input-type=module', '-e', entry, '--', ...args], { cwd, env: { ...process.env, NO_COLOR: '1' } });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (d: Buffer) => out.push(d));
  child.stderr.on('data', (d: Buffer) => err.push(d));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() })));
}

describe('kdrift check --local and report options (this machine, read only)', function () {
  this.timeout(60_000);
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'kdrift-report-local-'));
    await writeFile(path.join(dir, 'same.yaml'), `roles:\n  self:\n    sysctls:\n      ${KEY}: { equals: ${current}, severity: critical }\n`);
    await writeFile(path.join(dir, 'wrong.yaml'), `roles:\n  self:\n    sysctls:\n      ${KEY}: { equals: ${other}, severity: critical }\n`);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('local_check_matching_this_machine_exits_0', async () => {
    const res = await kdrift(['check', '--local', '--role', 'self', '--baseline', 'same.yaml', '--format', 'json'], dir);
    assert.equal(res.code, 0, res.stderr);
    const r = JSON.parse(res.stdout) as Report;
    assert.equal(r.hosts[0]?.name, os.hostname().replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 63));
    assert.deepEqual(r.hosts[0]?.findings.find((f) => f.layer === 'runtime')?.actual, current);
  });

  it('local_check_with_a_wrong_expectation_exits_2_and_names_the_runtime_value', async () => {
    const res = await kdrift(['check', '--local', '--role', 'self', '--baseline', 'wrong.yaml'], dir);
    assert.equal(res.code, 2, res.stderr);
    assert.match(res.stdout, new RegExp(`${KEY.replace(/\./g, '\\.')}\\s+runtime\\s+drift\\s+= ${other}\\s+${current}`));
  });

  it('fail_on_error_turns_drift_into_exit_0_and_fail_on_none_too', async () => {
    for (const f of ['error', 'none']) {
      const res = await kdrift(['check', '--local', '--role', 'self', '--baseline', 'wrong.yaml', '--fail-on', f, '--format', 'json'], dir);
      assert.equal(res.code, 0, `${f}: ${res.stderr}`);
      assert.ok((JSON.parse(res.stdout) as Report).summary.findings > 0);
    }
  });

  it('suppressed_drift_exits_0_and_is_listed_as_suppressed', async () => {
    await writeFile(path.join(dir, 'ignore.yaml'), `- key: net.ipv4.tcp_window_*\n  reason: known, ticket OPS-9\n`);
    const res = await kdrift(['check', '--local', '--role', 'self', '--baseline', 'wrong.yaml', '--ignore-file', 'ignore.yaml', '--format', 'json', '--format', 'text'], dir);
    assert.equal(res.code, 0, res.stderr);
    const json = res.stdout.slice(0, res.stdout.indexOf('\n}\n') + 3);
    const r = JSON.parse(json) as Report;
    assert.ok(r.summary.suppressed >= 1);
    assert.equal(r.summary.findings, 0);
    assert.match(res.stdout, /suppressed: known, ticket OPS-9 \(ignore\.yaml:1\)/);
  });

  it('default_ignore_file_in_the_working_directory_is_used', async () => {
    const sub = await mkdtemp(path.join(dir, 'cwd-'));
    await writeFile(path.join(sub, '.kdriftignore'), `- key: "${KEY}"\n  reason: accepted\n`);
    const res = await kdrift(['check', '--local', '--role', 'self', '--baseline', '../wrong.yaml', '--format', 'json'], sub);
    assert.equal(res.code, 0, res.stderr);
  });

  it('a_reader_that_closes_early_ends_the_run_quietly_without_an_epipe_stack', async () => {
    // 400 JSON copies (well over a pipe's 64 KiB) into `head -c 100`: the writes after head exits fail with EPIPE.
    const formats = Array.from({ length: 400 }, () => ['--format', 'json']).flat();
    const entry = `const { main } = await import(${JSON.stringify(path.join(REPO, 'cli/main.ts'))}); process.exitCode = await main(process.argv.slice(1));`;
    const cmd = `${quoteArgv([process.execPath, '--import', TSX, '--input-type=module', '-e', entry, '--', 'check', '--local', '--role', 'self', '--baseline', 'same.yaml', '--verbose', ...formats])} 2>err.txt | head -c 100 >/dev/null; echo "\${PIPESTATUS[0]}"`;
    const status = execFileSync('bash', ['-c', cmd], { cwd: dir }).toString().trim();
    const stderr = await readFile(path.join(dir, 'err.txt'), 'utf8');
    assert.equal(stderr, '', 'nothing on stderr: no EPIPE, no stack');
    assert.equal(status, '0', 'the exit code the run had so far (no drift)');
  });

  it('output_files_are_written_and_no_temp_file_is_left', async () => {
    const out = await mkdtemp(path.join(dir, 'out-'));
    const res = await kdrift(['check', '--local', '--role', 'self', '--baseline', 'same.yaml', '--output', `prom=${out}/kdrift.prom`, '--output', `md=${out}/r.md`], dir);
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual((await readdir(out)).sort(), ['kdrift.prom', 'r.md']);
    assert.match(await readFile(path.join(out, 'kdrift.prom'), 'utf8'), /^# TYPE kdrift_drift gauge$/m);
  });

  for (const [name, args, pattern, code] of [
    ['unknown_format_exits_64_listing_the_formats', ['--format', 'pdf'], /--format: unknown format "pdf" \(formats: text, json, md, junit, html, prom\)/, 64],
    ['bad_output_spec_exits_64', ['--output', 'report.xml'], /--output must be FORMAT=FILE/, 64],
    ['bad_fail_on_exits_64', ['--fail-on', 'sometimes'], /--fail-on must be drift, error or none/, 64],
    ['unknown_option_exits_64', ['--frobnicate'], /Unknown option '--frobnicate'/, 64],
    ['missing_baseline_file_exits_1_naming_it', ['--baseline', 'nope.yaml'], /nope\.yaml: file not found/, 1],
  ] as const) {
    it(name, async () => {
      const res = await kdrift(['check', '--local', '--role', 'self', '--baseline', 'same.yaml', ...args], dir);
      assert.equal(res.code, code);
      assert.match(res.stderr, pattern);
      assert.ok(!/\n\s+at /.test(res.stderr), 'no stack trace');
    });
  }

  it('invalid_baseline_exits_1_naming_file_and_path', async () => {
    await writeFile(path.join(dir, 'bad.yaml'), `roles:\n  self:\n    sysctls:\n      /proc/sys/x: { equals: 1 }\n`);
    const res = await kdrift(['check', '--local', '--role', 'self', '--baseline', 'bad.yaml'], dir);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /bad\.yaml: roles\.self\.sysctls\.\/proc\/sys\/x: sysctl key .*absolute path/);
  });

  it('invalid_ignore_file_exits_1_naming_file_and_entry', async () => {
    await writeFile(path.join(dir, 'badignore.yaml'), `- key: a\n  reason: ok\n- key: b\n`);
    const res = await kdrift(['check', '--local', '--role', 'self', '--baseline', 'same.yaml', '--ignore-file', 'badignore.yaml'], dir);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /badignore\.yaml: entry 2 \(line 3\): reason: Required/);
  });

  it('version_flags_print_the_version_and_a_bare_kdrift_is_a_usage_error', async () => {
    for (const flag of ['-V', '--version']) {
      const res = await kdrift([flag], dir);
      assert.equal(res.code, 0);
      assert.match(res.stdout, /^kdrift \d+\.\d+\.\d+\n$/);
    }
    const bare = await kdrift([], dir);
    assert.equal(bare.code, 64);
    assert.match(bare.stderr, /64 usage error/);
  });

  it('local_without_role_exits_64_saying_what_is_needed', async () => {
    const res = await kdrift(['check', '--local'], dir);
    assert.equal(res.code, 64);
    assert.match(res.stderr, /--local needs --role ROLE/);
  });

  it('role_the_baseline_lacks_exits_1_before_checking', async () => {
    const res = await kdrift(['check', '--local', '--role', 'database', '--baseline', 'same.yaml'], dir);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /has role "database", which the baseline does not declare/);
  });

  it('report_without_hosts_exits_1_saying_how_to_give_them', async () => {
    const res = await kdrift(['report'], dir);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /give --stack NAME .* or --inventory FILE/);
  });

  /** Runs the CLI on a real pseudo-terminal (script(1)), so stdout and stderr are TTYs. */
  function kdriftOnTty(args: string[], env: Record<string, string | undefined>): Promise<string> {
    const entry = `const { main } = await import(${JSON.stringify(path.join(REPO, 'cli/main.ts'))}); process.exitCode = await main(process.argv.slice(1));`;
    const cmd = quoteArgv([process.execPath, '--import', TSX, '--input-type=module', '-e', entry, ...args]);
    const child = spawn('script', ['-qec', cmd, '/dev/null'], { cwd: dir, env: { ...process.env, ...env } });
    const out: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    return new Promise((resolve) => child.on('close', () => resolve(Buffer.concat(out).toString())));
  }

  it('text_is_coloured_on_a_terminal_and_plain_with_NO_COLOR', async () => {
    const args = ['check', '--local', '--role', 'self', '--baseline', 'wrong.yaml'];
    const coloured = await kdriftOnTty(args, { NO_COLOR: undefined });
    assert.match(coloured, /\x1b\[31m.*drift/);
    const plain = await kdriftOnTty(args, { NO_COLOR: '1' });
    assert.match(plain, /runtime\s+drift/);
    assert.ok(!plain.includes('\x1b['), 'NO_COLOR removes every escape');
  });

  it('probe_countdown_shows_on_a_terminals_stderr_only', async () => {
    // A behaviour with a 3 s window; the agent itself may be missing here (its findings are then unknown): the
    // countdown is about the wait, and it is drawn from the start.
    await writeFile(
      path.join(dir, 'probe.yaml'),
      `roles:\n  self:\n    sysctls:\n      ${KEY}: { equals: 1, severity: critical }\n    behaviours:\n      - { check: tcp.windowScaling, port: 9, minShare: 0.99, window: 3s, dependsOn: [${KEY}] }\n`,
    );
    const args = ['check', '--local', '--role', 'self', '--baseline', 'probe.yaml', '--probe', '--format', 'json'];
    const tty = await kdriftOnTty(args, { NO_COLOR: '1' });
    assert.match(tty, /probe observing live traffic, ~3 s left/);
    const piped = await kdrift(args, dir);
    assert.ok(!piped.stderr.includes('observing'), 'no progress when stderr is not a terminal');
    assert.ok(!piped.stdout.includes('observing'));
  });

  it('help_lists_formats_exit_codes_and_suppressions', async () => {
    for (const cmd of ['check', 'report']) {
      const res = await kdrift([cmd, '--help'], dir);
      assert.equal(res.code, 0);
      for (const needle of ['--format', '--output FMT=FILE', '--fail-on', '--probe', 'Exit codes: 0 no drift, 2 drift found, 1 could not check', '.kdriftignore', '--stack NAME']) {
        assert.ok(res.stdout.includes(needle), `${cmd} --help lacks ${needle}`);
      }
    }
  });
});
