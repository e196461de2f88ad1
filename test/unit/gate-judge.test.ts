/** Judging a gated script's runtime writes and persisted lines (no kernel: recorded events are built by hand). */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sysctlExpectationSchema, type SysctlExpectation } from '../../core/baseline.js';
import { judgePersisted, judgeWrite, keyFromProcName, parseKernelInt, resultingValue } from '../../gate/judge.js';
import { appendBounded } from '../../gate/watch.js';
import type { GuardEvent } from '../../probe/guard-codec.js';
import type { Finding } from '../../core/finding.js';
import { treeOf } from '../support/sysctl-tree.js';

const exp = (raw: unknown) => sysctlExpectationSchema.parse(raw);
const specs = new Map<string, SysctlExpectation>([
  ['net.ipv4.tcp_window_scaling', exp({ equals: 1 })],
  ['net.ipv4.tcp_rmem', exp({ min: [4096, 131072, 6291456] })],
  ['net.ipv4.tcp_congestion_control', exp({ equals: 'bbr' })],
]);

function event(name: string, oldValue: string | null, newValue: string): GuardEvent {
  return {
    tsNs: 0n, cgroupId: 1n, pid: 12, tgid: 12, ppid: 11, netns: 4026531840, uid: 0, verdict: 'ok', denied: false, protected: false,
    partial: false, nameTruncated: false, newTruncated: false, comm: 'sysctl', parentComm: 'harden.sh', name, oldValue, newValue,
  };
}

describe('gate judge', () => {
  it('reads integers as the kernel does (base 0)', () => {
    assert.equal(parseKernelInt('0'), 0n);
    assert.equal(parseKernelInt('  0'), 0n);
    assert.equal(parseKernelInt('0x0'), 0n);
    assert.equal(parseKernelInt('0x10'), 16n);
    assert.equal(parseKernelInt('010'), 8n);
    assert.equal(parseKernelInt('-5'), -5n);
    assert.equal(parseKernelInt('1a'), undefined);
  });

  it('computes the value a write leaves: fields left out keep their old value', () => {
    const rmem = specs.get('net.ipv4.tcp_rmem');
    assert.equal(resultingValue('4096 1000\n', '4096\t131072\t6291456\n', rmem), '4096 1000 6291456');
    assert.equal(resultingValue('0x0\n', '1\n', specs.get('net.ipv4.tcp_window_scaling')), '0');
    assert.equal(resultingValue('bbr\n', 'cubic\n', specs.get('net.ipv4.tcp_congestion_control')), 'bbr');
  });

  it('flags a write that contradicts the declaration, names the writer and its parent, and lets others through', () => {
    const at = new Date(0);
    const bad = judgeWrite(event('net/ipv4/tcp_window_scaling', '1\n', '0\n'), specs, at);
    assert.equal(bad.conflict, true);
    assert.equal(bad.key, 'net.ipv4.tcp_window_scaling');
    assert.equal(bad.expected, '= 1');
    assert.deepEqual(bad.process, { comm: 'sysctl', pid: 12, tid: 12, parentComm: 'harden.sh', ppid: 11, uid: 0 });
    assert.equal(judgeWrite(event('net/ipv4/tcp_window_scaling', '0\n', '0x1'), specs, at).conflict, false);
    assert.equal(judgeWrite(event('net/ipv4/tcp_rmem', '4096 131072 6291456', '4096 1000'), specs, at).conflict, true);
    assert.equal(judgeWrite(event('net/ipv4/tcp_sack', '1', '0'), specs, at).conflict, false); // not declared
    assert.equal(keyFromProcName('net/ipv4/conf/eth0.1/rp_filter'), 'net/ipv4/conf/eth0.1/rp_filter');
  });

  it('reports the sysctl.d line a script left that a boot would apply against the declaration, with file:line', () => {
    const before = treeOf([{ path: '/etc/sysctl.d/99-sysctl.conf', content: 'net.ipv4.tcp_window_scaling = 1' }]);
    const after = treeOf([
      { path: '/etc/sysctl.d/60-harden.conf', content: '# harden\nnet.ipv4.tcp_sack = 1\nnet.ipv4.tcp_window_scaling = 0' },
      { path: '/etc/sysctl.d/99-sysctl.conf', content: 'net.ipv4.tcp_window_scaling = 1' },
    ]);
    // Shadowed by 99-sysctl.conf: a boot still applies 1, so no conflict.
    assert.deepEqual(judgePersisted(before, after, specs).filter((c) => c.conflict), []);
    // /etc/sysctl.conf: procps `sysctl --system` applies it last (systemd-sysctl does not read it without a link).
    const later = treeOf([{ path: '/etc/sysctl.d/99-sysctl.conf', content: 'net.ipv4.tcp_window_scaling = 1' }, { path: '/etc/sysctl.conf', content: '\n\nnet.ipv4.tcp_window_scaling=0' }]);
    const c = judgePersisted(before, later, specs).find((x) => x.conflict);
    assert.deepEqual(c, {
      key: 'net.ipv4.tcp_window_scaling', value: '0', source: '/etc/sysctl.conf:3', conflict: true, expected: '= 1',
      before: { value: '1', source: '/etc/sysctl.d/99-sysctl.conf:1' },
    });
    assert.deepEqual(judgePersisted(before, before, specs), []);
  });

  it('keeps the write log bounded: past the cap it rotates to FILE.1', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'kdgt-log-'));
    try {
      const file = path.join(dir, 'writes.jsonl');
      const line = `${'x'.repeat(99)}\n`;
      for (let i = 0; i < 25; i++) await appendBounded(file, line, 1000);
      assert.equal((await readFile(file, 'utf8')).length, 500);
      assert.equal((await readFile(`${file}.1`, 'utf8')).length, 1000);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('report: last attributed writer from the watch log', () => {
  it('names, for a runtime drift, the last logged write that left that value; a host without the log reports as before', async () => {
    const { attributeWriters, lastWriters } = await import('../../core/engine/write-log.js');
    // What the collect exec hands the engine: the log files that exist, FILE.1 then FILE.
    const logsAt = async (file: string) => (await Promise.all([`${file}.1`, file].map((f) => readFile(f, 'utf8').catch(() => undefined)))).filter((t): t is string => t !== undefined);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'kdgt-wlog-'));
    try {
      const rec = (result: string, comm: string, at: string) =>
        JSON.stringify({ at, key: 'net.ipv4.tcp_window_scaling', oldValue: '1', result, process: { comm, pid: 7, parentComm: 'harden.sh', ppid: 6 }, netns: 4026531840 });
      const log = path.join(dir, 'writes.jsonl');
      await appendBounded(`${log}.1`, `${rec('0', 'old-writer', '2026-01-01T00:00:00.000Z')}\n`, 1 << 20);
      await appendBounded(log, `${rec('0', 'sysctl', '2026-01-02T00:00:00.000Z')}\n{"cut by rotat\n${rec('1', 'fixer', '2026-01-03T00:00:00.000Z')}\n`, 1 << 20);
      const finding: Finding = { host: 'h1', check: 'sysctl', key: 'net.ipv4.tcp_window_scaling', layer: 'runtime' as const, status: 'drift' as const, expected: '= 1', actual: '0', severity: 'critical' as const };
      const findings: Finding[] = [{ ...finding }, { ...finding, key: 'net.ipv4.tcp_sack', actual: '0' }];
      attributeWriters(findings, await logsAt(log));
      assert.equal(findings[0]?.reason, 'last written 1 -> 0 by sysctl[7] (parent harden.sh[6]) in netns 4026531840 at 2026-01-02T00:00:00.000Z');
      assert.equal(findings[1]?.reason, undefined);
      const none: Finding[] = [{ ...finding }];
      attributeWriters(none, await logsAt(path.join(dir, 'absent.jsonl')));
      assert.deepEqual(none, [finding]);
      assert.equal(lastWriters([], new Map()).size, 0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('gate output and watch host map', () => {
  it('prints each conflict with key, value and the process or file:line responsible; allowed writes only with --verbose', async () => {
    const { renderGateText } = await import('../../gate/render.js');
    const at = new Date(0);
    const refused = { ...judgeWrite(event('net/ipv4/tcp_window_scaling', '1\n', '0\n'), specs, at), refused: true, kernelVerdict: 'policy' as const };
    const allowed = judgeWrite(event('net/ipv4/tcp_sack', '1\n', '1\n'), specs, at);
    const result = {
      version: 1 as const, roles: ['lb'], mode: 'deny' as const, sandbox: false, command: ['./harden.sh'], commandStatus: { code: 1, signal: null },
      writes: [refused, allowed],
      persisted: [{ key: 'net.ipv4.tcp_window_scaling', value: '0', source: '/etc/sysctl.d/60-x.conf:2', conflict: true, expected: '= 1', before: null }],
      notEnforced: [], conflicts: 2, refused: 1, droppedRecords: 0,
    };
    const text = renderGateText(result, false);
    assert.match(text, /^CONFLICT  net\.ipv4\.tcp_window_scaling 1 -> 0 \(expected = 1\) by sysctl\[12\] \(parent harden\.sh\[11\]\) in netns 4026531840 — refused \(EPERM\)$/m);
    assert.match(text, /^CONFLICT  net\.ipv4\.tcp_window_scaling = 0 persisted at \/etc\/sysctl\.d\/60-x\.conf:2 \(expected = 1\)$/m);
    assert.doesNotMatch(text, /tcp_sack/);
    assert.match(text, /command exited 1/);
    assert.match(renderGateText(result, true), /^allowed   net\.ipv4\.tcp_sack 1 -> 1 by sysctl/m);
  });

  it('reads a host\'s network namespace and boot id from one exec', async () => {
    const { parseIdentity } = await import('../../gate/watch-hosts.js');
    assert.deepEqual(parseIdentity('net:[4026532281]\n0f8c7a3e-2b1d-4c5e-9f00-123456789abc\n'), { netns: 4026532281, bootId: '0f8c7a3e-2b1d-4c5e-9f00-123456789abc' });
    assert.equal(parseIdentity('readlink: not found\n'), undefined);
  });
});
