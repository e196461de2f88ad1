/**
 * The real consumers of kdrift's outputs, as test oracles: promtool (Prometheus), xmllint against the Jenkins JUnit
 * XSD, ajv against the shipped JSON Schema, headless Chromium for the HTML page. Each returns what the tool said;
 * the assertions stay in the tests.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { REPORT_VERSION } from '../../core/report.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const JUNIT_XSD = path.join(REPO, 'test/fixtures/junit/junit-10.xsd');
export const REPORT_SCHEMA = path.join(REPO, `schema/report-v${REPORT_VERSION}.json`);

interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], input?: string, timeoutMs = 60_000): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? ((err as NodeJS.ErrnoException & { code?: unknown }).code === 'ENOENT' ? -1 : typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      if (code === -1) reject(new Error(`${cmd} is not installed (scripts/setup.sh installs it)`));
      else resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** `promtool check metrics` on an exposition: exit 0 and no lint complaints means Prometheus accepts it as is. */
export async function promtoolCheck(text: string): Promise<ToolResult> {
  return run('promtool', ['check', 'metrics'], text);
}

/** `xmllint --schema junit-10.xsd`: validates a junit.xml the way Jenkins' xUnit plugin does. */
export async function xmllintJunit(xml: string): Promise<ToolResult> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kdrift-junit-'));
  try {
    const file = path.join(dir, 'junit.xml');
    await writeFile(file, xml);
    return await run('xmllint', ['--noout', '--schema', JUNIT_XSD, file]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

let validator: ValidateFunction | undefined;
/** ajv (strict, all errors) against schema/report-v<N>.json; returns the errors, empty when the report is valid. */
export async function validateReportJson(text: string): Promise<ErrorObject[]> {
  if (!validator) {
    const ajv = new Ajv({ allErrors: true, strict: true });
    validator = ajv.compile(JSON.parse(await readFile(REPORT_SCHEMA, 'utf8')) as object);
  }
  return validator(JSON.parse(text)) ? [] : [...(validator.errors ?? [])];
}

/**
 * Renders an HTML file in headless Chromium (Debian's package) and returns the DOM after layout, with Chromium's net
 * log. No network: Chromium runs in a network namespace of its own with nothing but a down loopback (`unshare --net`),
 * so nothing can leave the machine whatever the page or the browser tries; the net log shows what was attempted.
 */
export async function chromiumDom(html: string): Promise<{ dom: string; netlog: string }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kdrift-chromium-'));
  try {
    const file = path.join(dir, 'report.html');
    const netlog = path.join(dir, 'net.json');
    await writeFile(file, html);
    const res = await run(
      'unshare',
      [
        '--net',
        'chromium',
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--no-first-run',
        '--disable-component-update',
        '--disable-sync',
        `--user-data-dir=${path.join(dir, 'profile')}`,
        `--log-net-log=${netlog}`,
        '--dump-dom',
        `file://${file}`,
      ],
      undefined,
      120_000,
    );
    if (res.code !== 0) throw new Error(`chromium exited ${res.code}: ${res.stderr.slice(-2000)}`);
    let log = '';
    try {
      log = await readFile(netlog, 'utf8');
    } catch {
      /* no net log written: nothing to show */
    }
    return { dom: res.stdout, netlog: log };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** URLs in a Chromium net log that the PAGE asked for: its own file:// URL and the browser's own service calls
 * (update checks, account and time services, which Chromium makes without any page) left out. */
export function pageRequests(netlog: string): string[] {
  const urls = [...netlog.matchAll(/"url":"([^"]+)"/g)].map((m) => m[1] as string);
  const browserOwn = /^https?:\/\/([a-z0-9-]+\.)*(google\.com|googleapis\.com|gvt1\.com)\//;
  return [...new Set(urls)].filter((u) => !u.startsWith('file://') && !browserOwn.test(u));
}
