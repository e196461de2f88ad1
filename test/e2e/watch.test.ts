/**
 * `kdrift watch` on the real kernel: the guard in audit mode on the cgroup v2 root attributes a write made inside a
 * network namespace we create to the right process, key and netns, flags it when it contradicts the role, counts it
 * in valid Prometheus metrics, logs it, and leaves nothing attached once it exits. Other writes on this machine (other
 * test runs) are seen too; the assertions pick ours by netns.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { JudgedWrite } from '../../gate/judge.js';
import { REPO, waitForLine } from '../support/probe-netns.js';
import { slotName, slotSubnet } from '../support/slot.js';
import { cgroupAttachments, cgroupRoot, useLab, deleteNetns, killRuns, guardPrograms, makeNetns, netnsInode, sh, startCli, waitFor, writeBaseline, type CliRun } from '../support/gate-support.js';

describe('kdrift watch', function () {
  this.timeout(60_000);
  let base: Awaited<ReturnType<typeof writeBaseline>>;
  const runs: CliRun[] = [];
  before(async () => {
    base = await writeBaseline({ 'net.ipv4.tcp_window_scaling': { equals: 1 }, 'net.ipv4.tcp_sack': { equals: 1 } });
  });
  after(async () => {
    killRuns(runs);
    deleteNetns();
    await base.done();
  });

  it('attributes a write in a netns to its process and key, flags the conflict, serves valid metrics, logs it, and detaches on exit', async () => {
    const ns = makeNetns('w');
    const inode = netnsInode(ns);
    const log = path.join(base.dir, 'writes.jsonl');
    const programsBefore = guardPrograms().map((p) => p.id);
    const run = startCli(['watch', '--local', '--baseline', base.file, '--role', 'gated', '--json', '--log', log, '--serve', '127.0.0.1:0']);
    runs.push(run);
    const line = await waitForLine(run.child, 'stderr', /attached to/);
    const url = (/(http:\/\/\S+)/.exec(line) as RegExpExecArray)[1] as string;
    const ours = guardPrograms().filter((p) => !programsBefore.includes(p.id));
    assert.equal(ours.length, 1);
    assert.ok(cgroupAttachments(cgroupRoot()).includes((ours[0] as { id: number }).id), 'attached to the cgroup v2 root');

    let stdout = '';
    run.child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    sh('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv4.tcp_window_scaling=0']);
    sh('ip', ['netns', 'exec', ns, process.execPath, '-e', "require('fs').writeFileSync('/proc/sys/net/ipv4/tcp_sack', '1')"]);
    const mine = () => stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as JudgedWrite).filter((w) => w.netns === inode);
    const seen = await waitFor(mine, (l) => l.length >= 2, 5_000, 'both writes to be reported');
    const ws = seen.find((w) => w.key === 'net.ipv4.tcp_window_scaling') as JudgedWrite;
    // `ip netns exec` execs sysctl in place: its parent is this test process.
    assert.deepEqual([ws.process.comm, ws.process.parentComm, ws.process.ppid, ws.oldValue, ws.result, ws.conflict, ws.refused], ['sysctl', 'node', process.pid, '1', '0', true, false]);
    const sack = seen.find((w) => w.key === 'net.ipv4.tcp_sack') as JudgedWrite;
    assert.deepEqual([sack.process.comm, sack.conflict], ['node', false]);
    assert.ok(Math.abs(Date.parse(ws.at) - Date.now()) < 10_000, 'the write time is wall-clock time');

    const metrics = await (await fetch(url)).text();
    assert.match(metrics, /^kdrift_sysctl_conflicting_writes_total\{key="net.ipv4.tcp_window_scaling"\} [1-9]\d*$/m);
    const check = execFileSync('promtool', ['check', 'metrics'], { input: metrics, encoding: 'utf8' });
    assert.equal(check.trim(), '');

    process.kill(run.child.pid as number, 'SIGTERM');
    const r = await run.done;
    assert.equal(r.code, 0, r.stderr);
    const logged = (await readFile(log, 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l) as JudgedWrite);
    assert.ok(logged.some((w) => w.netns === inode && w.key === 'net.ipv4.tcp_window_scaling' && w.conflict));
    // The kernel's own view: our program is gone and nothing of it is attached to the root.
    const left = guardPrograms().filter((p) => !programsBefore.includes(p.id));
    assert.deepEqual(left, []);
    assert.ok(!cgroupAttachments(cgroupRoot()).includes((ours[0] as { id: number }).id));
  });

  it('--exit-on-conflict exits 2 at the first conflicting write', async () => {
    const ns = makeNetns('x');
    const run = startCli(['watch', '--local', '--baseline', base.file, '--role', 'gated', '--exit-on-conflict', '--conflicts-only', '--log', 'none']);
    runs.push(run);
    await waitForLine(run.child, 'stderr', /attached to/);
    sh('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv4.tcp_sack=0']);
    const r = await run.done;
    assert.equal(r.code, 2);
    assert.match(r.stdout, new RegExp(String.raw`CONFLICT net\.ipv4\.tcp_sack 1 -> 0 \(expected = 1\) by sysctl\[\d+\] \(parent node\[${process.pid}\]\)`));
  });

  describe('with an inventory (the lab: hosts are network namespaces on this machine)', () => {
    const lab = slotName('kdgt');
    useLab(lab, slotSubnet(81));

    it('judges a write in a lab host against that host\'s own roles and names the host', async () => {
      const run = startCli(['watch', '--inventory', path.join(REPO, '.lab', lab, 'inventory.yaml'), '--json', '--log', 'none']);
      runs.push(run);
      let stdout = '';
      run.child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
      await waitForLine(run.child, 'stderr', /attached to .*hosts .*lb/);
      try {
        sh('ip', ['netns', 'exec', `${lab}-lb`, 'sysctl', '-qw', 'net.ipv4.tcp_window_scaling=0']);
        sh('ip', ['netns', 'exec', `${lab}-app1`, 'sysctl', '-qw', 'net.ipv4.tcp_fin_timeout=50']);
        const mine = () => stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as JudgedWrite).filter((w) => w.host === 'lb' || w.host === 'app1');
        const seen = await waitFor(mine, (l) => l.length >= 2, 5_000, 'the lab writes');
        const lb = seen.find((w) => w.host === 'lb') as JudgedWrite;
        assert.deepEqual([lb.key, lb.result, lb.conflict, lb.expected, lb.process.comm, lb.netns], ['net.ipv4.tcp_window_scaling', '0', true, '= 1', 'sysctl', netnsInode(`${lab}-lb`)]);
        const app = seen.find((w) => w.host === 'app1') as JudgedWrite;
        assert.deepEqual([app.key, app.conflict, app.expected], ['net.ipv4.tcp_fin_timeout', false, '<= 60'], 'app-node allows up to 60');
      } finally {
        sh('ip', ['netns', 'exec', `${lab}-lb`, 'sysctl', '-qw', 'net.ipv4.tcp_window_scaling=1']);
        process.kill(run.child.pid as number, 'SIGTERM');
        await run.done;
      }
    });
  });
});
