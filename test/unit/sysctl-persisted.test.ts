/**
 * Persisted-value resolution, one scenario per rule, named by outcome (ComplianceAsCode style). Each scenario is a
 * tree under test/fixtures/sysctl/<name>/ (proc/sys values + sysctl.d files, symlinks included) read by the REAL
 * collection script through a real LocalSession with the tree as root prefix; scenario.json says what to expect.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalSession } from '../../core/session-local.js';
import type { HostSession } from '../../core/session.js';
import { sysctlExpectationSchema } from '../../core/baseline.js';
import { judgeSysctl, makeSysctlCheck, observeSysctl } from '../../checks/sysctl.js';
import { collectSysctlState, decodeSysctlState } from '../../checks/sysctl-persisted.js';
import { confLines, globMatchesPath, parseSystemdLine, resolveBoot, sourcesOf, type SysctlTree } from '../../core/sysctl-rules/index.js';
import { treeOf } from '../support/sysctl-tree.js';
import type { HostEntry } from '../../core/inventory.js';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/sysctl');

interface Scenario {
  key: string;
  expectation: unknown;
  runtime: string;
  persisted: string;
  source?: string;
  actual?: string;
  reason?: string;
}

/** A real LocalSession that counts execs (the check must collect in one). */
function counting(session: HostSession): HostSession & { execs: number } {
  const s = {
    host: session.host,
    execs: 0,
    exec: (argv: readonly string[], o?: Parameters<HostSession['exec']>[1]) => {
      s.execs += 1;
      return session.exec(argv, o);
    },
    readFile: (p: string) => session.readFile(p),
    writeFileAtomic: (p: string, d: Buffer | string) => session.writeFileAtomic(p, d),
    close: () => session.close(),
  };
  return s;
}

const host: HostEntry = { name: 'fixture', address: '127.0.0.1', port: 22, user: 'root', roles: ['load-balancer'] };

describe('sysctl persisted resolution scenarios (real collect script on fixture trees)', () => {
  const names = readdirSync(FIXTURES).filter((n) => !n.startsWith('.')).sort();
  it('has the scenarios the issue names', () => {
    for (const n of ['wrong_runtime.drift', 'conflicting_sysctl_d.drift', 'etc_masks_usr_lib.ok', 'sysctl_conf_last.drift', 'symlink_to_sysctl_conf.ok', 'dash_prefixed_key.ok', 'dev_null_mask.ok', 'glob_key.drift', 'slashed_key.ok', 'missing_key.unknown']) {
      assert.ok(names.includes(n), `missing scenario ${n}`);
    }
  });
  for (const name of names) {
    it(name, async () => {
      const sc = JSON.parse(readFileSync(path.join(FIXTURES, name, 'scenario.json'), 'utf8')) as Scenario;
      const outcome = name.slice(name.lastIndexOf('.') + 1);
      // The name states the outcome: the worst of the two layers.
      const worst = [sc.runtime, sc.persisted].includes('drift') ? 'drift' : [sc.runtime, sc.persisted].includes('unknown') ? 'unknown' : 'ok';
      assert.equal(worst, outcome, 'scenario name and scenario.json disagree');

      const session = counting(new LocalSession('fixture'));
      const check = makeSysctlCheck({ root: path.join(FIXTURES, name) });
      const specs = new Map([[sc.key, sysctlExpectationSchema.parse(sc.expectation)]]);
      const ctx = { host, roles: host.roles };
      const findings = check.judge(await check.collect(session, specs, ctx), specs, ctx);
      await session.close();
      assert.equal(session.execs, 1, 'one exec per host');
      const runtime = findings.find((f) => f.layer === 'runtime');
      const persisted = findings.find((f) => f.layer === 'persisted');
      assert.equal(findings.length, 2);
      assert.equal(runtime?.status, sc.runtime, `runtime: ${JSON.stringify(runtime)}`);
      assert.equal(persisted?.status, sc.persisted, `persisted: ${JSON.stringify(persisted)}`);
      if (sc.source !== undefined) assert.equal(persisted?.source, sc.source);
      if (sc.actual !== undefined) assert.equal(persisted?.actual, sc.actual);
      if (sc.reason !== undefined) assert.match(persisted?.reason ?? '', new RegExp(sc.reason.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
      assert.equal(runtime?.expected, persisted?.expected);
      assert.ok(findings.every((f) => f.host === 'fixture' && f.check === 'sysctl' && f.key === sc.key));
    });
  }
});

describe('sysctl.d line syntax', () => {
  it('dotted_key_with_slash_means_dot_inside_segment (systemd sysctl_normalize)', () => {
    assert.equal(parseSystemdLine('net.ipv4.conf.eth0/1.rp_filter = 1')?.key, 'net/ipv4/conf/eth0.1/rp_filter');
    assert.equal(parseSystemdLine('net/ipv4/conf/eth0.1/rp_filter = 1')?.key, 'net/ipv4/conf/eth0.1/rp_filter');
    assert.equal(parseSystemdLine('net/ipv4/tcp_sack = 1')?.key, 'net.ipv4.tcp_sack');
  });
  it('line_numbers_count_comments_and_blank_lines', () => {
    const [a] = confLines('# c\n\n; c\nkernel.pid_max=1\n', 'systemd-sysctl').lines;
    assert.deepEqual([a?.key, a?.value, a?.line, a?.ignoreErrors], ['kernel.pid_max', '1', 4, false]);
  });
  it('value_keeps_inner_spaces_and_a_hash_is_not_an_inline_comment', () => {
    const [a] = confLines('net.ipv4.tcp_rmem =  4096 87380   6291456 # x\n', 'systemd-sysctl').lines;
    assert.equal(a?.value, '4096 87380   6291456 # x');
  });
  it('glob_star_does_not_cross_a_segment', () => {
    assert.ok(globMatchesPath('net/ipv4/conf/*/rp_filter', 'net/ipv4/conf/all/rp_filter'));
    assert.ok(!globMatchesPath('net/ipv4/*', 'net/ipv4/conf/all/rp_filter'));
    assert.ok(globMatchesPath('net/ipv4/tcp_[rw]mem', 'net/ipv4/tcp_wmem'));
    assert.ok(!globMatchesPath('net/ipv4/tcp_[!rw]mem', 'net/ipv4/tcp_wmem'));
    assert.ok(globMatchesPath('net/ipv4/tcp_?mem', 'net/ipv4/tcp_rmem'));
  });
  it('glob_matching_is_linear (40 stars do not hang)', () => {
    assert.ok(!globMatchesPath(`net/${'*a'.repeat(40)}b`, `net/${'a'.repeat(60)}`));
  });
  it('two_globs_matching_one_key_later_pattern_wins', () => {
    const tree = treeOf([{ path: '/etc/sysctl.d/a.conf', content: 'net.ipv4.tcp_*mem = 1 2 3\nnet.ipv4.tcp_r* = 4 5 6\n' }]);
    const b = resolveBoot(tree, new Map([['net.ipv4.tcp_rmem', { ints: 3 }]])).get('net.ipv4.tcp_rmem');
    assert.equal(b?.['systemd-sysctl'].value, '4 5 6');
    assert.equal(b?.['sysctl --system'].value, '4 5 6');
  });
  it('same_name_in_etc_masks_every_later_directory_and_names_sort_bytewise', () => {
    const tree = treeOf([
      { path: '/usr/lib/sysctl.d/B.conf', content: 'x' },
      { path: '/usr/lib/sysctl.d/a.conf', content: 'vendor' },
      { path: '/etc/sysctl.d/a.conf', content: 'admin' },
    ]);
    assert.deepEqual(sourcesOf(tree, 'systemd-sysctl').map((f) => `${f.dir}/${f.name}=${f.content}`), ['/usr/lib/sysctl.d/B.conf=x', '/etc/sysctl.d/a.conf=admin']);
  });
});

describe('collection script framing', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'kdrift-sysctl-frame-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  it('hostile_file_content_round_trips_exactly (record headers, UTF-8, CR, no trailing newline)', async () => {
    const hostile = 'V 3:abc\nD 1:/\nnet.ipv4.tcp_sack = 1 \u00e9\u4e2d\r\n  N 0:\n$(touch /tmp/nope) `x` \'q\' "dq"';
    await mkdir(path.join(dir, 'etc/sysctl.d'), { recursive: true });
    await writeFile(path.join(dir, 'etc/sysctl.d/50-hostile name.conf'), hostile);
    await mkdir(path.join(dir, 'proc/sys/net/ipv4'), { recursive: true });
    await writeFile(path.join(dir, 'proc/sys/net/ipv4/tcp_sack'), '1\n');
    const session = new LocalSession('frame');
    const st = await collectSysctlState(session, ['net.ipv4.tcp_sack', 'net.ipv4.no_such_key'], { root: dir });
    await session.close();
    assert.equal(st.runtime.get('net.ipv4.tcp_sack'), '1');
    assert.equal(st.runtime.get('net.ipv4.no_such_key'), null);
    assert.equal(st.tree.entries.length, 1);
    assert.equal(st.tree.entries[0]?.name, '50-hostile name.conf');
    assert.equal(Buffer.from(st.tree.entries[0]?.content ?? '', 'latin1').toString('utf8'), hostile);
  });
  it('bytes_round_trip_exactly: NUL, ^, a missing final newline, a name that is not UTF-8; kinds of entries', async () => {
    const d = path.join(dir, 'bytes');
    await mkdir(path.join(d, 'etc/sysctl.d/90-dir.conf'), { recursive: true });
    const content = Buffer.from('a = 1\0b\r\n^c = 2\n\n\xff\x80 tail', 'latin1');
    const name = Buffer.from('50-\xff.conf', 'latin1');
    await writeFile(Buffer.concat([Buffer.from(`${d}/etc/sysctl.d/`), name]), content);
    await symlink('/dev/null', path.join(d, 'etc/sysctl.d/60-mask.conf'));
    await symlink('nowhere', path.join(d, 'etc/sysctl.d/70-gone.conf'));
    await writeFile(path.join(d, 'etc/sysctl.d/.hidden.conf'), '');
    const session = new LocalSession('bytes');
    const st = await collectSysctlState(session, [], { root: d });
    await session.close();
    const byName = new Map(st.tree.entries.map((e) => [e.name, e]));
    assert.equal(byName.get(name.toString('latin1'))?.content, content.toString('latin1'));
    assert.equal(byName.get('60-mask.conf')?.kind, 'masked');
    assert.equal(byName.get('70-gone.conf')?.kind, 'dangling');
    assert.equal(byName.get('90-dir.conf')?.kind, 'directory');
    assert.equal(byName.get('.hidden.conf')?.content, '');
    assert.equal(st.tree.sysctlConf, null);
  });
  it('more_entries_than_one_argv_holds_arrive_whole_and_in_order (records stream through a pipe to one awk)', async () => {
    // 3,000 names of ~120 bytes are ~360 KiB of records, more than one argv or pipe buffer: nothing may be lost or reordered.
    const d = path.join(dir, 'many');
    await mkdir(path.join(d, 'etc/sysctl.d'), { recursive: true });
    const names = Array.from({ length: 3000 }, (_, i) => `${String(i).padStart(5, '0')}-${'x'.repeat(110)}.conf`);
    for (const [i, n] of names.entries()) await writeFile(path.join(d, 'etc/sysctl.d', n), `net.core.somaxconn = ${i}\n`);
    const session = new LocalSession('many');
    const st = await collectSysctlState(session, [], { root: d });
    await session.close();
    const etc = st.tree.entries.filter((e) => e.dir === '/etc/sysctl.d');
    assert.deepEqual(etc.map((e) => e.name), names);
    assert.deepEqual(etc.map((e) => e.content), names.map((_, i) => `net.core.somaxconn = ${i}\n`));
  });
  it('multi_character_runtime_values_from_the_real_proc_sys_are_read_whole', async () => {
    // /proc/sys answers a read at a non-zero offset with EOF: a byte-at-a-time reader would see "3" of "32768".
    const keys = ['kernel.pid_max', 'net.ipv4.tcp_rmem', 'net.ipv4.ip_local_port_range', 'kernel.hostname'];
    const session = new LocalSession('self');
    const st = await collectSysctlState(session, keys);
    await session.close();
    for (const k of keys) assert.equal(st.runtime.get(k), readFileSync(`/proc/sys/${k.replaceAll('.', '/')}`, 'utf8').trim(), k);
  });
  it('truncated_output_is_an_error_not_a_partial_state', () => {
    assert.throws(() => decodeSysctlState(Buffer.from('V 5\nab'), ['net.ipv4.tcp_sack']), /truncated/);
    assert.throws(() => decodeSysctlState(Buffer.from('garbage'), ['net.ipv4.tcp_sack']), /truncated|expected a V record/);
  });
});

describe('sysctl judge: files the session cannot read', () => {
  const spec = new Map([['net.ipv4.tcp_window_scaling', sysctlExpectationSchema.parse({ equals: 1 })]]);
  const fleet = { path: '/etc/sysctl.d/60-fleet.conf', content: 'net.ipv4.tcp_window_scaling = 1\n' };
  const persisted = (tree: SysctlTree) => {
    const state = { runtime: new Map([['net.ipv4.tcp_window_scaling', '1']]), runtimeErrors: new Map<string, string>(), tree };
    return judgeSysctl(observeSysctl(state, spec.keys()), spec, 'h').find((f) => f.layer === 'persisted');
  };
  const blind = (path: string, kind: 'unreadable' | 'dangling' = 'unreadable') => ({ path, content: '', kind });

  it('unreadable_file_applied_after_the_effective_one.unknown', () => {
    const f = persisted(treeOf([fleet, blind('/etc/sysctl.d/90-secret.conf')]));
    assert.equal(f?.status, 'unknown');
    assert.match(f?.reason ?? '', /cannot read \/etc\/sysctl\.d\/90-secret\.conf, which a boot applies after \/etc\/sysctl\.d\/60-fleet\.conf/);
  });
  it('unreadable_file_applied_before_the_effective_one.ok', () => {
    assert.equal(persisted(treeOf([fleet, blind('/usr/lib/sysctl.d/10-vendor.conf')]))?.status, 'ok');
  });
  it('unreadable_sysctl_conf_is_applied_last_by_procps.unknown', () => {
    assert.equal(persisted(treeOf([fleet, blind('/etc/sysctl.conf')]))?.status, 'unknown');
  });
  it('dangling_symlink_is_not_read_at_boot_either.ok', () => {
    assert.equal(persisted(treeOf([fleet, blind('/etc/sysctl.d/99-gone.conf', 'dangling')]))?.status, 'ok');
  });
  it('nothing_readable_sets_the_key_and_a_file_is_unreadable.unknown_naming_the_file', () => {
    const f = persisted(treeOf([blind('/etc/sysctl.d/90-secret.conf')]));
    assert.equal(f?.status, 'unknown');
    assert.match(f?.reason ?? '', /cannot read \/etc\/sysctl\.d\/90-secret\.conf/);
  });
});
