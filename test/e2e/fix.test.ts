/**
 * The outage from README.md, fixed for real on the `kdfx` lab: tcp_window_scaling=0 on lb at runtime and in a
 * hardening file applied after everything else → `kdrift fix --yes` → runtime 1, persisted 1 (the resolver agrees),
 * the hardening line commented with kdrift's marker, and the probe on the client shows its new connections to lb
 * negotiating window scaling. A second fix changes nothing; --dry-run changes nothing.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync, symlinkSync, lstatSync, readlinkSync, rmSync } from 'node:fs';
import path from 'node:path';
import { labDown, labExec, type LabStatus } from '../../lab/index.js';
import { openSession } from '../../core/sessions.js';
import type { HostSession } from '../../core/session.js';
import { collectSysctlState } from '../../checks/sysctl-persisted.js';
import { observeSysctl } from '../../checks/sysctl.js';
import { collectBehaviours } from '../../checks/agent-run.js';
import { windowScalingCheck } from '../../checks/tcp-window-scaling.js';
import { windowScalingSpec } from '../../checks/tcp-window-scaling.schema.js';
import type { Finding } from '../../core/finding.js';
import { oracleArgv, parseOracle } from '../support/sysctl-oracle.js';
import {
  LAB,
  WS,
  HARDENING_FILE,
  upLab,
  hostShot,
  restoreShot,
  injectOutage,
  journals,
  readJournalFile,
  removeJournals,
  leftLocks,
  runKdrift,
  labHost,
  etcDir,
  REPO,
  type HostShot,
} from '../support/fix-lab.js';

const KEYS = [WS, 'net.ipv4.tcp_sack', 'net.core.somaxconn'];

/** The client's own view: new client → lb connections (over the WAN) and whether they negotiated window scaling. */
async function clientToLb(status: LabStatus): Promise<Finding> {
  const client = await labHost(status, 'client');
  const session = await openSession(client, { knownHostsPath: status.knownHosts });
  try {
    const spec = windowScalingSpec.parse({ check: 'tcp.windowScaling', port: 80, direction: 'out', minShare: 0.99, window: '2s' });
    const obs = await collectBehaviours(session, [spec], { host: client }, { drive: false, connectTargets: [`${status.wan.lbAddress}:80`], connectCount: 3 });
    // The connections are the probe's own (driven to lb): judged as verification judges them.
    const [finding] = windowScalingCheck.judge(obs, new Map([['port 80 out', spec]]), { host: client, roles: client.roles, ownTraffic: true });
    return finding as Finding;
  } finally {
    await session.close();
  }
}

/**
 * What the real boot appliers (systemd-sysctl, procps sysctl --system) apply to window scaling from lb's own files:
 * run in a throwaway network + mount namespace inside lb's view, /proc/sys read-only outside net.
 */
async function bootAppliersOnLb(): Promise<Record<string, string | undefined>> {
  const keys = [{ key: WS, a: '0', b: '1' }];
  const res = await labExec(LAB, 'lb', oracleArgv('-', keys));
  const real = parseOracle(res.stdout, keys, `exit ${res.code}: ${res.stderr}`);
  assert.ok(real.sealed, 'the oracle sandbox must refuse writes outside /proc/sys/net');
  return { 'systemd-sysctl': real.applied['systemd-sysctl'].get(WS), 'sysctl --system': real.applied['sysctl --system'].get(WS) };
}

describe('kdrift fix on the lab (kdfx): the window-scaling outage', function () {
  this.timeout(180_000);
  let status: LabStatus;
  let clean: HostShot;
  let journalsBefore: string[];

  before(async () => {
    status = await upLab();
    clean = await hostShot('lb', KEYS);
    journalsBefore = journals();
  });

  afterEach(async () => {
    if (clean) await restoreShot('lb', clean);
  });

  after(async () => {
    removeJournals(journalsBefore ?? journals());
    await labDown(LAB);
  });

  it('--dry-run prints the runtime change and the diffs, and leaves every file and value byte-for-byte unchanged', async () => {
    await injectOutage();
    const before = await hostShot('lb', KEYS);
    const jBefore = journals();
    const res = await runKdrift(['fix', '--inventory', status.inventoryFile, '--host', 'lb', '--dry-run']);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, new RegExp(`${WS.replace(/\./g, '\\.')}  runtime 0 → 1`));
    assert.match(res.stdout, /\+\+\+ b\/etc\/sysctl\.d\/90-kdrift\.conf/);
    assert.match(res.stdout, /^ {2}-net\.ipv4\.tcp_window_scaling=0$/m);
    assert.match(res.stdout, /planned \(dry run: nothing changed\)/);
    assert.deepEqual(await hostShot('lb', KEYS), before);
    assert.deepEqual(journals(), jBefore, 'a dry run writes no journal');
    assert.deepEqual(leftLocks(), []);
  });

  it('fix --yes: runtime 1, persisted 1 by the resolver, hardening line commented, client→lb connections negotiate; a second fix changes nothing', async () => {
    await injectOutage();
    // The test can fail: with the drift in place, the client's connections to lb do NOT negotiate window scaling.
    const broken = await clientToLb(status);
    assert.equal(broken.status, 'drift', `before the fix: ${JSON.stringify(broken)}`);

    const jBefore = journals();
    const res = await runKdrift(['fix', '--inventory', status.inventoryFile, '--host', 'lb', '--yes']);
    assert.equal(res.code, 0, `${res.stdout}\n${res.stderr}`);
    assert.match(res.stdout, /lb: applied and VERIFIED/);
    assert.match(res.stdout, /behaviour ok: tcp\.windowScaling port 80/);

    // Runtime and persisted, read through a fresh session by the same resolver the report uses.
    const lb = await labHost(status, 'lb');
    const session: HostSession = await openSession(lb, { knownHostsPath: status.knownHosts });
    try {
      const state = await collectSysctlState(session, [WS]);
      assert.equal(state.runtime.get(WS), '1');
      const boot = observeSysctl(state, [WS]).boot.get(WS);
      // Both boot appliers (systemd-sysctl and procps sysctl --system) give the declared value.
      assert.equal(boot?.['systemd-sysctl'].value, '1');
      assert.equal(boot?.['sysctl --system'].value, '1');
    } finally {
      await session.close();
    }
    // And the real appliers agree: a boot of lb (systemd or not) gives window scaling 1.
    assert.deepEqual(await bootAppliersOnLb(), { 'systemd-sysctl': '1', 'sysctl --system': '1' });
    const hardening = readFileSync(path.join(etcDir('lb'), 'sysctl.d', HARDENING_FILE), 'utf8');
    assert.match(hardening, /^# kdrift \d{4}-\d\d-\d\d: disabled, conflicts with declared net\.ipv4\.tcp_window_scaling = 1; was: net\.ipv4\.tcp_window_scaling=0$/m);
    assert.match(hardening, /^net\.ipv4\.tcp_syncookies = 1$/m, 'other lines of the hardening file stay');

    // The journal says verified.
    const newJournals = journals().filter((j) => !jBefore.includes(j));
    assert.equal(newJournals.length, 1);
    assert.equal(readJournalFile(newJournals[0] as string).status, 'verified');
    assert.deepEqual(leftLocks(), []);

    // The behaviour came back where it matters: new client → lb connections negotiate window scaling.
    const fixed = await clientToLb(status);
    assert.equal(fixed.status, 'ok', JSON.stringify(fixed));

    // Idempotent: a second fix plans nothing, writes nothing (no journal either).
    const after = await hostShot('lb', KEYS);
    const second = await runKdrift(['fix', '--inventory', status.inventoryFile, '--host', 'lb', '--yes']);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /lb: nothing to do/);
    assert.deepEqual(await hostShot('lb', KEYS), after);
    assert.deepEqual(journals().filter((j) => !jBefore.includes(j)), newJournals);
  });

  it('a conflicting line in /etc/sysctl.conf (applied last; a bind-mounted file in the lab) is neutralised in place and the resolver agrees', async () => {
    const conf = path.join(etcDir('lb'), 'sysctl.conf');
    const original = readFileSync(conf);
    writeFileSync(conf, Buffer.concat([original, Buffer.from(`${WS} = 0\n`)]));
    await labHostSysctl(`${WS}=0`);
    const res = await runKdrift(['fix', '--inventory', status.inventoryFile, '--host', 'lb', '--yes']);
    assert.equal(res.code, 0, `${res.stdout}\n${res.stderr}`);
    assert.match(res.stdout, /lb: applied and VERIFIED/);
    const after = readFileSync(conf, 'utf8');
    assert.ok(after.startsWith(original.toString('utf8')), 'every other byte of sysctl.conf stays');
    assert.match(after, /^# kdrift \d{4}-\d\d-\d\d: disabled, conflicts with declared net\.ipv4\.tcp_window_scaling = 1; was: net\.ipv4\.tcp_window_scaling = 0$/m);
    const lb = await labHost(status, 'lb');
    const session = await openSession(lb, { knownHostsPath: status.knownHosts });
    try {
      const state = await collectSysctlState(session, [WS]);
      const boot = observeSysctl(state, [WS]).boot.get(WS);
      assert.equal(boot?.['systemd-sysctl'].value, '1');
      assert.equal(boot?.['sysctl --system'].value, '1');
    } finally {
      await session.close();
    }
    assert.deepEqual(await bootAppliersOnLb(), { 'systemd-sysctl': '1', 'sysctl --system': '1' });
  });

  it('a file sorting after 99-sysctl.conf and a \\r-joined line (issue 13): fixed so that BOTH real appliers give 1', async () => {
    const dir = path.join(etcDir('lb'), 'sysctl.d');
    writeFileSync(path.join(dir, '99-zz-harden.conf'), `net.ipv4.tcp_timestamps = 1\r${WS} = 0\n`);
    await labHostSysctl(`${WS}=0`);
    // Before: the real systemd-sysctl applies 0 (a reboot breaks lb); kdrift's report must say so.
    assert.equal((await bootAppliersOnLb())['systemd-sysctl'], '0');
    const report = await runKdrift(['report', '--inventory', status.inventoryFile, '--format', 'json']);
    assert.equal(report.code, 2, report.stderr);
    const res = await runKdrift(['fix', '--inventory', status.inventoryFile, '--host', 'lb', '--yes']);
    assert.equal(res.code, 0, `${res.stdout}\n${res.stderr}`);
    assert.match(res.stdout, /lb: applied and VERIFIED/);
    assert.deepEqual(await bootAppliersOnLb(), { 'systemd-sysctl': '1', 'sysctl --system': '1' });
    const after = readFileSync(path.join(dir, '99-zz-harden.conf'), 'utf8');
    assert.ok(after.startsWith('net.ipv4.tcp_timestamps = 1\r# kdrift '), `only the window-scaling segment is disabled: ${JSON.stringify(after)}`);
  });

  it('a hardening file that is a symlink: its target (in /etc) gets the marker, the symlink stays a symlink', async () => {
    // The file as the machine sees it, and the link's target as the host sees it (its own /etc).
    const target = path.join(etcDir('lb'), 'hardening-real.conf');
    const link = path.join(etcDir('lb'), 'sysctl.d', HARDENING_FILE);
    writeFileSync(target, `${WS}=0\n`);
    try {
      symlinkSync('/etc/hardening-real.conf', link);
      await labHostSysctl(`${WS}=0`);
      const res = await runKdrift(['fix', '--inventory', status.inventoryFile, '--host', 'lb', '--yes']);
      assert.equal(res.code, 0, `${res.stdout}\n${res.stderr}`);
      assert.match(res.stdout, /lb: applied and VERIFIED/);
      assert.equal(lstatSync(link).isSymbolicLink(), true);
      assert.equal(readlinkSync(link), '/etc/hardening-real.conf');
      assert.match(readFileSync(target, 'utf8'), /^# kdrift \d{4}-\d\d-\d\d: disabled, conflicts with declared net\.ipv4\.tcp_window_scaling = 1; was: net\.ipv4\.tcp_window_scaling=0$/m);
    } finally {
      rmSync(target, { force: true });
    }
  });

  it('kdrift\'s own file masked (-> /dev/null): not unmasked, nothing changed, the key reported as not fixable (exit 2)', async () => {
    await injectOutage();
    symlinkSync('/dev/null', path.join(etcDir('lb'), 'sysctl.d', '90-kdrift.conf'));
    const before = await hostShot('lb', KEYS);
    const res = await runKdrift(['fix', '--inventory', status.inventoryFile, '--host', 'lb', '--yes']);
    assert.equal(res.code, 2, `${res.stdout}\n${res.stderr}`);
    assert.match(res.stdout, /could NOT fix net\.ipv4\.tcp_window_scaling: \/etc\/sysctl\.d\/90-kdrift\.conf is masked/);
    assert.deepEqual(await hostShot('lb', KEYS), before);
  });

  it('on a terminal it shows the plan and asks: "n" changes nothing (exit 1), "y" applies and verifies (exit 0)', async () => {
    await injectOutage();
    const before = await hostShot('lb', KEYS);
    const no = await fixOnTerminal(status.inventoryFile, 'n');
    assert.match(no.out, /Apply these changes to 1 host\? \[y\/N\]/);
    assert.match(no.out, /nothing changed/);
    assert.equal(no.code, 1);
    assert.deepEqual(await hostShot('lb', KEYS), before);
    const yes = await fixOnTerminal(status.inventoryFile, 'y');
    assert.match(yes.out, /lb: applied and VERIFIED/);
    assert.equal(yes.code, 0);
    assert.equal((await hostShot('lb', KEYS)).runtime[WS], '1');
  });

  it('without a terminal and without --yes, fix refuses (exit 1), says to pass --yes, and touches nothing', async () => {
    await injectOutage();
    const before = await hostShot('lb', KEYS);
    const res = await runKdrift(['fix', '--inventory', status.inventoryFile, '--host', 'lb']);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /pass --yes/);
    assert.deepEqual(await hostShot('lb', KEYS), before);
  });
});

/**
 * Runs `kdrift fix` on a pseudo-terminal (util-linux script(1)) and answers the question when it is asked.
 * The command line is built from fixed test paths only.
 */
function fixOnTerminal(inventory: string, answer: 'y' | 'n'): Promise<{ code: number | null; out: string }> {
  const code = 'const { main } = await import("./cli/main.ts"); process.exitCode = await main(process.argv.slice(1));';
  const cmd = `${process.execPath} --import tsx --input-type=module -e '${code}' fix --inventory ${inventory} --host lb`;
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', cmd, '/dev/null'], { cwd: REPO, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    let out = '';
    let answered = false;
    const timer = setTimeout(() => process.kill(-(child.pid as number), 'SIGKILL'), 60_000);
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString('utf8');
      if (!answered && out.includes('[y/N]')) {
        answered = true;
        child.stdin.write(`${answer}\n`);
      }
    });
    child.on('error', reject);
    child.on('close', (c) => {
      clearTimeout(timer);
      child.stdin.destroy();
      resolve({ code: c, out });
    });
  });
}

async function labHostSysctl(assignment: string): Promise<void> {
  const res = await labExec(LAB, 'lb', ['sysctl', '-q', '-w', assignment]);
  if (res.code !== 0) throw new Error(res.stderr);
}
