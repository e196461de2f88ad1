/**
 * DIFFERENTIAL: kdrift's persisted resolution against the real boot appliers. Generated sysctl.d trees (names with
 * non-UTF-8 bytes and `\r`, orders across the four directories, /dev/null masks, links, directories named *.conf,
 * dangling links, /etc/sysctl.conf with and without Debian's 99-sysctl.conf link, `\r`, `\0`, inline `#`, globs,
 * negative matches, partial tuples, base-0 numbers) → per key and per applier, what kdrift says a boot leaves in the
 * kernel must equal what Debian's systemd-sysctl and procps `sysctl --system` actually leave, measured in a throwaway
 * network + mount namespace (test/e2e/sysctl-oracle.ts). kdrift reads each tree through its real collection script.
 * The machine's own sysctl files and root-namespace values are compared before and after: nothing may change.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync, lstatSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LocalSession } from '../../core/session-local.js';
import { collectSysctlState } from '../../checks/sysctl-persisted.js';
import { observeSysctl } from '../../checks/sysctl.js';
import { sysctlExpectationSchema } from '../../core/baseline.js';
import { entryPath, judgeKey, sourcesOf, type BootValue, type BootValues } from '../../core/sysctl-rules/index.js';
import { oracle, type OracleKey } from '../support/sysctl-oracle.js';

interface KeySpec extends OracleKey {
  values: string[];
  glob: string;
}

const KEYS: KeySpec[] = [
  { key: 'net.ipv4.tcp_window_scaling', a: '0', b: '1', values: ['0', '1'], glob: 'net.ipv4.tcp_window_sc*ling' },
  { key: 'net.ipv4.tcp_sack', a: '0', b: '1', values: ['0', '1'], glob: 'net.ipv4.tcp_sa?k' },
  { key: 'net.ipv4.tcp_timestamps', a: '0', b: '1', values: ['0', '1', '2'], glob: 'net/ipv4/tcp_timestam[p]s' },
  { key: 'net.core.somaxconn', a: '111', b: '222', values: ['4096', '8192', '0x100', '010', '8192 # note', '  512  ', '09'], glob: 'net.core.somaxco*' },
  {
    key: 'net.ipv4.tcp_rmem',
    a: '1111 22222 333333',
    b: '4444 55555 666666',
    values: ['4096 131072 6291456', '4096 87380 4194304', '8192 65536', '4096 65536 # x', '4096\t87380\t6291456', '4096 x 5'],
    glob: 'net.ipv4.tcp_[r]mem',
  },
  { key: 'net.ipv4.tcp_fin_timeout', a: '11', b: '22', values: ['30', '60', '0x1e', '15 # note'], glob: 'net.ipv4.tcp_fin_time*' },
];

/** mulberry32: a fixed seed gives the same trees on every run. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const DIRS = ['etc/sysctl.d', 'run/sysctl.d', 'usr/local/lib/sysctl.d', 'usr/lib/sysctl.d'];
const NAMES: Buffer[] = [
  '10-base.conf', '50-mid.conf', '60-fleet.conf', '90-kdrift.conf', '99-zz.conf', 'a.conf', 'B.conf', '.hidden.conf', 'é.conf', '60-\r.conf', 'x.conf.bak',
  '5*.conf', '[5]0-mid.conf', '6?-fleet.conf',
].map((n) => Buffer.from(n, 'utf8')).concat([Buffer.from([0x35, 0x30, 0x2d, 0xff, 0x2e, 0x63, 0x6f, 0x6e, 0x66]), Buffer.from([0x35, 0x30, 0x2d, 0xfe, 0x2e, 0x63, 0x6f, 0x6e, 0x66])]);

function line(r: () => number, pick: <T>(xs: readonly T[]) => T): string {
  const k = pick(KEYS);
  const v = pick(k.values);
  const slashed = k.key.replaceAll('.', '/');
  const forms = [
    `${k.key} = ${v}`, `${k.key}=${v}`, `-${k.key} = ${v}`, `- ${k.key} = ${v}`, `${slashed} = ${v}`, `-${k.key}`, `# ${k.key} = ${v}`,
    `; ${k.key} = ${v}`, `# x\r${k.key} = ${v}`, `# x\0${k.key} = ${v}`, `${k.key} = ${v}\r`, `net.ipv4.tcp_sack = 1\r${k.key} = ${v}`,
    `${k.key} = ${v}\0junk`, `\t${k.key}\t=\t${v}\t`, `${k.glob} = ${v}`, `-${k.glob}`, `\r${k.key} = ${v}`, `${k.key} = ${v} \v`,
  ];
  return r() < 0.45 ? `${k.key} = ${v}` : pick(forms);
}

interface GenTree {
  root: string;
  seed: number;
}

/** Writes one generated tree under `root` (etc/, run/, usr/local/lib/, usr/lib/sysctl.d/, proc/sys for the shapes). */
function generate(root: string, seed: number): void {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  for (const d of DIRS) mkdirSync(path.join(root, d), { recursive: true });
  const content = () => {
    const n = Math.floor(r() * 5);
    const eol = r() < 0.2 ? '\r\n' : '\n';
    const body = Array.from({ length: n }, () => line(r, pick)).join(eol);
    return Buffer.from(r() < 0.8 ? `${body}${eol}` : body, 'latin1');
  };
  const files: string[] = [];
  const count = 1 + Math.floor(r() * 6);
  for (let i = 0; i < count; i++) {
    const dir = path.join(root, pick(DIRS));
    const name = pick(NAMES);
    const p = Buffer.concat([Buffer.from(`${dir}/`), name]);
    try {
      lstatSync(p);
      continue;
    } catch {
      // free
    }
    const kind = r();
    if (kind < 0.7) writeFileSync(p, content());
    else if (kind < 0.78) symlinkSync('/dev/null', p);
    else if (kind < 0.85) mkdirSync(p);
    else if (kind < 0.9) symlinkSync('gone.conf-target', p);
    else if (files.length > 0) symlinkSync(path.relative(dir, pick(files)), p);
    else writeFileSync(p, content());
    if (kind < 0.7) files.push(p.toString('latin1'));
  }
  if (r() < 0.7) writeFileSync(path.join(root, 'etc/sysctl.conf'), content());
  const link = path.join(root, 'etc/sysctl.d/99-sysctl.conf');
  if (r() < 0.5) {
    try {
      lstatSync(link);
    } catch {
      symlinkSync('../sysctl.conf', link);
    }
  }
  for (const k of KEYS) {
    const p = path.join(root, 'proc/sys', k.key.replaceAll('.', '/'));
    mkdirSync(path.dirname(p), { recursive: true });
    writeFileSync(p, `${k.a}\n`);
  }
}

function kdriftSays(b: BootValue): string {
  if (b.status === 'set' || b.status === 'partial') return (b.value as string).split(/\s+/).join(' ');
  return b.status;
}

/** A digest of the machine's own sysctl files and the root namespace's values of every key the trees use. */
function machineState(): string {
  const h = createHash('sha256');
  const walk = (p: string) => {
    let st;
    try {
      st = lstatSync(p);
    } catch {
      h.update(`${p} absent\n`);
      return;
    }
    h.update(`${p} ${st.mode} ${st.size}\n`);
    if (st.isSymbolicLink()) h.update(readlinkSync(p));
    else if (st.isDirectory()) for (const n of readdirSync(p).sort()) walk(path.join(p, n));
    else if (st.isFile()) h.update(readFileSync(p));
  };
  for (const p of ['/etc/sysctl.d', '/etc/sysctl.conf', '/run/sysctl.d', '/usr/local/lib/sysctl.d', '/usr/lib/sysctl.d']) walk(p);
  for (const k of [...KEYS.map((k) => k.key), 'kernel.domainname', 'kernel.pid_max']) h.update(readFileSync(`/proc/sys/${k.replaceAll('.', '/')}`));
  return h.digest('hex');
}

export const TREES = 150;

describe('DIFFERENTIAL: kdrift persisted resolution = what systemd-sysctl and sysctl --system apply (real appliers, sandboxed)', function () {
  this.timeout(300_000);
  let base: string;
  let machineBefore: string;
  const mismatches: string[] = [];
  let compared = 0;
  /** How many comparisons found a key set, partially set, unset: the trees must exercise all three. */
  const seen = new Map<string, number>();

  before(() => {
    machineBefore = machineState();
    base = mkdtempSync(path.join(os.tmpdir(), 'kdrift-differential-'));
  });
  after(() => {
    rmSync(base, { recursive: true, force: true });
  });

  it(`${TREES} generated trees: per key and applier, kdrift's value equals the applier's; the systemd file list equals --cat-config's`, async () => {
    const session = new LocalSession('differential');
    try {
      for (let seed = 1; seed <= TREES; seed++) {
        const root = path.join(base, String(seed));
        generate(root, seed);
        const state = await collectSysctlState(session, KEYS.map((k) => k.key), { root });
        const obs = observeSysctl(state, KEYS.map((k) => k.key));
        const real = await oracle(root, KEYS);
        assert.ok(real.sealed, 'a write outside /proc/sys/net inside the sandbox must be refused');
        for (const k of KEYS) {
          const values = obs.boot.get(k.key) as BootValues;
          for (const applier of ['systemd-sysctl', 'sysctl --system'] as const) {
            compared++;
            const says = kdriftSays(values[applier]);
            const truth = real.applied[applier].get(k.key);
            seen.set(says === 'unset' ? 'unset' : says.includes('?') ? 'partial' : 'set', (seen.get(says === 'unset' ? 'unset' : says.includes('?') ? 'partial' : 'set') ?? 0) + 1);
            if (says !== truth) mismatches.push(`tree ${seed} ${k.key} ${applier}: kdrift ${says}, real ${truth}`);
          }
          // The verdict follows: the same judge on the real values gives the same persisted status.
          const exp = sysctlExpectationSchema.parse({ equals: k.values[0] });
          const fromReal = (a: 'systemd-sysctl' | 'sysctl --system'): BootValue => {
            const t = real.applied[a].get(k.key) as string;
            return { applier: a, status: t === 'unset' ? 'unset' : t.includes('?') ? 'partial' : 'set', value: t === 'unset' ? null : t, writes: [], blind: [] };
          };
          const runtime = { runtime: k.a };
          const ours = judgeKey('t', k.key, exp, { ...runtime, boot: values }).find((f) => f.layer === 'persisted')?.status;
          const theirs = judgeKey('t', k.key, exp, { ...runtime, boot: { 'systemd-sysctl': fromReal('systemd-sysctl'), 'sysctl --system': fromReal('sysctl --system') } }).find((f) => f.layer === 'persisted')?.status;
          if (ours !== theirs) mismatches.push(`tree ${seed} ${k.key}: verdict kdrift ${ours}, real ${theirs}`);
        }
        // --cat-config prints the files in systemd's order and stops at the first it cannot open (a directory, a
        // dangling link): what it printed must be kdrift's order up to there.
        const listed = sourcesOf(state.tree, 'systemd-sysctl');
        const shown = listed.slice(0, real.systemdFiles.length).map((e) => entryPath(e));
        const unopenable = (i: number) => ['directory', 'dangling'].includes(listed[i]?.kind ?? '');
        const n = real.systemdFiles.length;
        if (JSON.stringify(shown) !== JSON.stringify(real.systemdFiles) || (n < listed.length && !unopenable(n - 1) && !unopenable(n))) {
          mismatches.push(`tree ${seed} systemd file list: kdrift ${JSON.stringify(listed.map((e) => `${entryPath(e)}:${e.kind}`))}, --cat-config ${JSON.stringify(real.systemdFiles)}`);
        }
      }
    } finally {
      await session.close();
    }
    if (process.env["KDRIFT_DIFF_DUMP"]) writeFileSync(process.env["KDRIFT_DIFF_DUMP"], mismatches.join("\n"));
    assert.deepEqual(mismatches, [], `${mismatches.length} mismatches of ${compared} comparisons`);
    assert.equal(compared, TREES * KEYS.length * 2);
    for (const kind of ['set', 'partial', 'unset']) assert.ok((seen.get(kind) ?? 0) >= 10, `only ${seen.get(kind) ?? 0} comparisons where a key is ${kind}`);
    console.log(`      ${TREES} trees, ${compared} key/applier comparisons (${[...seen].map(([k, v]) => `${v} ${k}`).join(', ')}), 0 mismatches`);
  });

  it('nothing reached the machine: its sysctl files and root-namespace values are as before', () => {
    assert.equal(machineState(), machineBefore);
  });
});
