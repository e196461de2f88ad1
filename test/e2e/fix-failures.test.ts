/**
 * Failure handling, for real on the `kdfx` lab. Every case must end with lb either fully fixed and verified, or exactly
 * as it was (file bytes, modes, owners and runtime values compared from outside the host), with the journal and the
 * output saying which:
 *   - /etc/sysctl.d read-only (a read-only bind mount in the host's mount namespace) → rolled back;
 *   - a value the kernel refuses (EINVAL from /proc/sys, declared by a test baseline) → rolled back;
 *   - a non-root SSH user → nothing changed, says it needs root;
 *   - the SSH connection killed between apply and verify → reconnected and verified; without reconnect → unfinished,
 *     then `kdrift fix --undo` restores it exactly, or the next `kdrift fix` rolls it back first and fixes again.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { labDown, type LabStatus } from '../../lab/index.js';
import { openSession } from '../../core/sessions.js';
import type { HostEntry } from '../../core/inventory.js';
import { fleetBaseline } from '../../stacks/baselines.js';
import { remediateHost } from '../../remediation/host.js';
import { main } from '../../cli/main.js';
import {
  LAB,
  WS,
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
  killConnection,
  type HostShot,
} from '../support/fix-lab.js';

const UDP = 'net.ipv4.udp_rmem_min';
const KEYS = [WS, UDP, 'net.ipv4.tcp_sack', 'net.core.somaxconn'];

function writeBaseline(dir: string, name: string, lbSysctls: Record<string, unknown>): string {
  const file = path.join(dir, name);
  writeFileSync(file, YAML.stringify({ roles: { 'load-balancer': { sysctls: lbSysctls }, 'app-node': {}, client: {} } }));
  return file;
}

/** Runs the CLI in THIS process (so a lock this process left behind after a dropped session is recognised as stale). */
async function mainCaptured(args: string[]): Promise<{ code: number; stdout: string }> {
  const chunks: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((c: string | Uint8Array) => {
    chunks.push(typeof c === 'string' ? c : Buffer.from(c).toString('utf8'));
    return true;
  }) as typeof process.stdout.write;
  try {
    return { code: await main(args), stdout: chunks.join('') };
  } finally {
    process.stdout.write = write;
  }
}

describe('kdrift fix failure handling on the lab (kdfx): fixed and verified, or exactly as it was', function () {
  this.timeout(180_000);
  let status: LabStatus;
  let clean: HostShot;
  let journalsBefore: string[];
  let tmp: string;
  let wsOnly: string;
  let refused: string;
  let lb: HostEntry;
  let app1Clean: HostShot;

  before(async () => {
    status = await upLab();
    clean = await hostShot('lb', KEYS);
    app1Clean = await hostShot('app1', KEYS);
    journalsBefore = journals();
    tmp = mkdtempSync(path.join(tmpdir(), 'kdrift-fix-e2e-'));
    wsOnly = writeBaseline(tmp, 'ws-only.yaml', { [WS]: { equals: 1, remediation: 'auto' } });
    refused = writeBaseline(tmp, 'refused.yaml', { [WS]: { equals: 1, remediation: 'auto' }, [UDP]: { equals: 0, remediation: 'auto' } });
    lb = await labHost(status, 'lb');
  });

  afterEach(async () => {
    if (clean) await restoreShot('lb', clean);
  });

  after(async () => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    removeJournals(journalsBefore ?? journals());
    await labDown(LAB);
  });

  const newJournal = (before: string[]) => {
    const added = journals().filter((j) => !before.includes(j));
    assert.equal(added.length, 1, `one new journal, got ${added.join(', ')}`);
    return readJournalFile(added[0] as string);
  };

  it('a read-only /etc/sysctl.d: the runtime write is rolled back, the host is exactly as it was, journal rolled-back', async () => {
    await injectOutage();
    const before = await hostShot('lb', KEYS);
    const jBefore = journals();
    const root = await openSession(lb, { knownHostsPath: status.knownHosts });
    try {
      const m = await root.exec(['mount', '-o', 'bind,ro', '/etc/sysctl.d', '/etc/sysctl.d']);
      assert.equal(m.code, 0, m.stderr.toString());
      const res = await runKdrift(['fix', '--inventory', status.inventoryFile, '--host', 'lb', '--baseline', wsOnly, '--yes']);
      assert.equal(res.code, 2, `${res.stdout}\n${res.stderr}`);
      assert.match(res.stdout, /lb: NOT fixed: ROLLED BACK \(as it was\)/);
      assert.match(res.stdout, /Read-only file system/);
    } finally {
      await root.exec(['umount', '/etc/sysctl.d']);
      await root.close();
    }
    assert.deepEqual(await hostShot('lb', KEYS), before);
    assert.equal(newJournal(jBefore).status, 'rolled-back');
    assert.deepEqual(leftLocks(), []);
  });

  it('a value the kernel refuses (EINVAL): the key written before it is restored, nothing persisted, journal rolled-back', async () => {
    await injectOutage();
    const before = await hostShot('lb', KEYS);
    const jBefore = journals();
    const res = await runKdrift(['fix', '--inventory', status.inventoryFile, '--host', 'lb', '--baseline', refused, '--yes']);
    assert.equal(res.code, 2, `${res.stdout}\n${res.stderr}`);
    assert.match(res.stdout, new RegExp(`${UDP.replace(/\./g, '\\.')} = 0: the kernel refused the value`));
    assert.match(res.stdout, /ROLLED BACK/);
    assert.deepEqual(await hostShot('lb', KEYS), before);
    const j = newJournal(jBefore);
    assert.equal(j.status, 'rolled-back');
    assert.ok(j.events.some((e) => /kernel refused/.test(e.message)), 'the journal says why');
    assert.deepEqual(leftLocks(), []);
  });

  it('one host cannot be fixed, another can: exit 2, the first rolled back exactly, the second verified', async () => {
    await injectOutage('lb');
    await injectOutage('app1');
    const lbBefore = await hostShot('lb', KEYS);
    const mixed = path.join(tmp, 'mixed.yaml');
    writeFileSync(
      mixed,
      YAML.stringify({
        roles: {
          'load-balancer': { sysctls: { [WS]: { equals: 1, remediation: 'auto' }, [UDP]: { equals: 0, remediation: 'auto' } } },
          'app-node': { sysctls: { [WS]: { equals: 1, remediation: 'auto' } } },
          client: {},
        },
      }),
    );
    try {
      const res = await runKdrift(['fix', '--inventory', status.inventoryFile, '--host', 'lb', '--host', 'app1', '--baseline', mixed, '--yes']);
      assert.equal(res.code, 2, `${res.stdout}\n${res.stderr}`);
      assert.match(res.stdout, /lb: NOT fixed: ROLLED BACK/);
      assert.match(res.stdout, /app1: applied and VERIFIED/);
      assert.deepEqual(await hostShot('lb', KEYS), lbBefore);
      assert.equal((await hostShot('app1', KEYS)).runtime[WS], '1');
    } finally {
      await restoreShot('app1', app1Clean);
    }
  });

  it('a non-root SSH user: nothing is changed, no journal, and the output says kdrift fix needs root', async () => {
    await injectOutage();
    const before = await hostShot('lb', KEYS);
    const jBefore = journals();
    const inv = YAML.parse(readFileSync(status.inventoryFile, 'utf8')) as { hosts: { name: string; user: string }[] };
    for (const h of inv.hosts) if (h.name === 'lb') h.user = status.nonRootUser;
    const invFile = path.join(path.dirname(status.inventoryFile), `inventory-nonroot-${process.pid}.yaml`);
    writeFileSync(invFile, YAML.stringify(inv));
    try {
      const res = await runKdrift(['fix', '--inventory', invFile, '--host', 'lb', '--baseline', wsOnly, '--yes']);
      assert.equal(res.code, 2, `${res.stdout}\n${res.stderr}`);
      assert.match(res.stdout, /lb: NOT fixed: nothing was changed/);
      assert.match(res.stdout, /needs root/);
    } finally {
      rmSync(invFile, { force: true });
    }
    assert.deepEqual(await hostShot('lb', KEYS), before);
    assert.deepEqual(journals(), jBefore);
    assert.deepEqual(leftLocks(), []);
  });

  it('SSH connection killed between apply and verify: kdrift reconnects, verifies (behaviour included), journal verified', async () => {
    await injectOutage();
    const jBefore = journals();
    const open = () => openSession(lb, { knownHostsPath: status.knownHosts });
    const session = await open();
    let killed = false;
    try {
      const outcome = await remediateHost(session, lb, fleetBaseline(), {
        reconnect: open,
        hooks: {
          afterApply: async (s) => {
            await killConnection(s);
            killed = true;
          },
        },
      });
      assert.equal(killed, true);
      assert.equal(outcome.status, 'verified', JSON.stringify(outcome.reasons));
      assert.equal(outcome.reconnected, true);
      assert.ok(outcome.behaviours?.includes('tcp.windowScaling port 80'));
    } finally {
      await session.close().catch(() => undefined);
    }
    const after = await hostShot('lb', KEYS);
    assert.equal(after.runtime[WS], '1');
    assert.ok('sysctl.d/90-kdrift.conf' in after.files);
    assert.equal(newJournal(jBefore).status, 'verified');
    assert.deepEqual(leftLocks(), []);
  });

  it('SSH connection killed without reconnect: outcome unfinished, journal applied; kdrift fix --undo restores it exactly', async () => {
    await injectOutage();
    const before = await hostShot('lb', KEYS);
    const jBefore = journals();
    const session = await openSession(lb, { knownHostsPath: status.knownHosts });
    try {
      const outcome = await remediateHost(session, lb, fleetBaseline(), { hooks: { afterApply: killConnection } });
      assert.equal(outcome.status, 'unfinished', JSON.stringify(outcome));
      assert.match(outcome.reasons.join('\n'), /kdrift fix --undo/);
    } finally {
      await session.close().catch(() => undefined);
    }
    const left = journals().filter((j) => !jBefore.includes(j));
    assert.equal(left.length, 1);
    assert.equal(readJournalFile(left[0] as string).status, 'applied');
    assert.equal((await hostShot('lb', KEYS)).runtime[WS], '1', 'the changes are on the host, unverified');

    const undo = await mainCaptured(['fix', '--undo', '--yes', '--inventory', status.inventoryFile, '--host', 'lb']);
    assert.equal(undo.code, 0, undo.stdout);
    assert.match(undo.stdout, /lb: restored \(rolled back\)/);
    assert.deepEqual(await hostShot('lb', KEYS), before);
    assert.equal(readJournalFile(left[0] as string).status, 'rolled-back');
    assert.deepEqual(leftLocks(), []);
  });

  it('two kdrift runs on one host at once: one fixes and verifies, the other is refused by the lock and changes nothing', async () => {
    await injectOutage();
    const jBefore = journals();
    const [a, b] = await Promise.all([openSession(lb, { knownHostsPath: status.knownHosts }), openSession(lb, { knownHostsPath: status.knownHosts })]);
    try {
      const outcomes = await Promise.all([remediateHost(a, lb, fleetBaseline(), {}), remediateHost(b, lb, fleetBaseline(), {})]);
      const statuses = outcomes.map((o) => o.status).sort();
      assert.deepEqual(statuses, ['unchanged', 'verified'], JSON.stringify(outcomes.map((o) => o.reasons)));
      const refused = outcomes.find((o) => o.status === 'unchanged');
      assert.match(refused?.reasons.join('\n') ?? '', /another kdrift run is fixing this host/);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
    assert.equal(newJournal(jBefore).status, 'verified', 'only the run holding the lock wrote a journal');
    assert.deepEqual(leftLocks(), []);
  });

  it('a journal left by a dropped session is rolled back first by the next fix, which then fixes and verifies', async () => {
    await injectOutage();
    const jBefore = journals();
    const s1 = await openSession(lb, { knownHostsPath: status.knownHosts });
    try {
      const o1 = await remediateHost(s1, lb, fleetBaseline(), { hooks: { afterApply: killConnection } });
      assert.equal(o1.status, 'unfinished');
    } finally {
      await s1.close().catch(() => undefined);
    }
    const s2 = await openSession(lb, { knownHostsPath: status.knownHosts });
    try {
      const o2 = await remediateHost(s2, lb, fleetBaseline(), {});
      assert.equal(o2.status, 'verified', JSON.stringify(o2.reasons));
      assert.ok(o2.recovered, 'reports the recovered journal');
      assert.equal(o2.recovered.status, 'applied');
    } finally {
      await s2.close();
    }
    const added = journals().filter((j) => !jBefore.includes(j)).map((j) => readJournalFile(j).status);
    assert.deepEqual(added.sort(), ['rolled-back', 'verified']);
    assert.deepEqual(leftLocks(), []);
  });
});
