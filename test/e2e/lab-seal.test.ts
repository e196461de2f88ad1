/**
 * The sealed lab (issue 13 item 9): a lab host's /etc, /var/lib, /var/log and /run are its own directories in its own
 * private mount namespace. What a host does — `kdrift fix` through the CLI, a `useradd`, writes and renames — leaves the
 * machine's /etc, /var/lib/kdrift and /run byte-identical, and the machine's files are no part of a host's view (so a
 * `useradd` on the machine, which renames /etc/passwd, cannot change a host). Lab kdse, subnet 74. Needs root.
 * Each case fails on a lab without the seal (hosts reading the machine's /etc with files bound over it from /etc/netns).
 *
 * The machine is shared with other test runs while this runs: their labs (by kdrift versions before the seal) may create
 * /etc/netns/<their netns>, /run/netns entries, and locks/journals named by THEIR namespaces' ids. Those are told apart
 * by name and ignored; anything else that changes fails the test, and so does anything named by this lab.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readFileSync, readdirSync, readlinkSync, statSync, writeFileSync, appendFileSync } from 'node:fs';
import path from 'node:path';
import { labUp, labDown, labExec, LAB_HOSTS, type LabStatus } from '../../lab/index.js';
import { labPaths } from '../../lab/paths.js';
import { runKdrift } from '../support/fix-lab.js';
import { ensureDist } from '../support/dist.js';
import { slotName, slotSubnet } from '../support/slot.js';
import { execOut } from '../support/exec-out.js';

const LAB = slotName('kdse');
const SUBNET = slotSubnet(74);
const WS = 'net.ipv4.tcp_window_scaling';


/** A shell command in an SSH session on a lab host (OpenSSH, strict host-key checking): exactly what a user there sees. */
async function sshOk(st: LabStatus, host: string, command: string): Promise<string> {
  const r = await execOut('ssh', ['-F', st.sshConfig, '-o', 'BatchMode=yes', host, command]);
  assert.equal(r.code, 0, `ssh ${host} ${command}: ${r.stderr}`);
  return r.stdout;
}

/** path → type, mode, owner, size and content hash (link target for symlinks), for every entry under `top`. */
function treeShot(top: string, skip: (p: string) => boolean): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (p: string): void => {
    if (skip(p)) return;
    let st;
    try {
      st = lstatSync(p);
    } catch {
      return; // vanished while walking (another run's transient file)
    }
    const head = `${st.mode.toString(8)} ${st.uid}:${st.gid}`;
    if (st.isSymbolicLink()) out.set(p, `${head} -> ${readlinkSync(p)}`);
    else if (st.isFile()) {
      let digest = 'unreadable';
      try {
        digest = createHash('sha256').update(readFileSync(p)).digest('hex');
      } catch {
        // a file that vanished between lstat and read
      }
      out.set(p, `${head} ${st.size} ${digest}`);
    } else if (st.isDirectory()) {
      out.set(p, `${head} dir`);
      let names: string[] = [];
      try {
        names = readdirSync(p);
      } catch {
        return;
      }
      for (const n of names) walk(path.join(p, n));
    } else out.set(p, `${head} special`);
  };
  walk(top);
  return out;
}

/** The machine-side state a lab host could reach before the seal: /etc, /var/lib/kdrift, /run. */
function machineShot(): Map<string, string> {
  const skip = (p: string) => p === '/etc/netns' || p === '/run/netns' || p.startsWith('/run/user/');
  return new Map([...treeShot('/etc', skip), ...treeShot('/var/lib/kdrift', skip), ...treeShot('/run', skip)]);
}

/** Paths that differ between two shots, without those another run's lab (named by its own netns ids) made. */
function changed(before: Map<string, string>, after: Map<string, string>, ourNetnsIds: readonly string[]): string[] {
  const keys = new Set([...before.keys(), ...after.keys()]);
  const foreign = (p: string) => {
    const id = /^\/run\/lock\/kdrift-fix-net(\d+)\.lock(\/|$)/.exec(p)?.[1] ?? /^\/var\/lib\/kdrift\/journal\/(\d+)-/.exec(p)?.[1];
    return id !== undefined && !ourNetnsIds.includes(id);
  };
  // Directories are judged by their entries (a dir shot holds no mtime); one that appeared counts as foreign when
  // another run's entry is in it (/var/lib/kdrift/journal made by a run of an older kdrift on its own lab).
  const isDir = (p: string) => (before.get(p) ?? after.get(p))?.endsWith(' dir');
  const holdsForeign = (p: string) => [...after.keys()].some((q) => q.startsWith(`${p}/`) && foreign(q));
  return [...keys].filter((p) => before.get(p) !== after.get(p) && !foreign(p) && !(isDir(p) && holdsForeign(p))).sort();
}

describe(`sealed lab hosts (${LAB}, 10.${SUBNET}.0.0/16): nothing a host does reaches the machine, and back`, function () {
  this.timeout(240_000);
  let st: LabStatus;
  let ourIds: string[];

  before(async function () {
    if (process.getuid?.() !== 0) this.skip(); // namespaces, mounts and sshd need root
    // The probe agent that verifies a fix runs on the hosts from dist/: it must match the sources.
    ensureDist();
    st = await labUp({ name: LAB, subnet: SUBNET });
    ourIds = LAB_HOSTS.map((h) => String(statSync(`/run/netns/${LAB}-${h}`).ino));
  });

  after(async function () {
    if (process.getuid?.() !== 0) return;
    await labDown(LAB);
    assert.equal(existsSync(labPaths(LAB).dir), false, 'lab down removes the hosts trees');
    for (const h of LAB_HOSTS) assert.equal(existsSync(`/etc/netns/${LAB}-${h}`), false);
    assert.equal(readFileSync('/proc/self/mounts', 'utf8').includes(`/.lab/${LAB}/`), false, 'the hosts tmpfs is unmounted');
  });

  // The machine's /etc/passwd is never changed by a test. A `useradd` on the machine renames /etc/passwd in the machine's
  // /etc directory; before the seal that cut every host's bind of its own passwd. Now a host's view holds no machine
  // file or directory of /etc at all, which is what this proves (mount table and inodes, from outside and inside).
  it("each host's /etc, /var/lib, /var/log, /run are its own directories in a private mount namespace, so a useradd on the machine cannot reach it", async () => {
    for (const h of LAB_HOSTS) {
      const hp = labPaths(LAB).host(h);
      const pid = Number(readFileSync(labPaths(LAB).pidFile(`sshd-${h}`), 'utf8'));
      const mounts = readFileSync(`/proc/${pid}/mountinfo`, 'utf8').trim().split('\n').map((l) => l.split(' '));
      for (const d of ['/etc', '/var/lib', '/var/log', '/run']) {
        const m = mounts.filter((f) => f[4] === d);
        assert.equal(m.length, 1, `${h}: one mount at ${d}`);
        // Optional fields (shared:N, master:N) would mean mounts propagate between the machine and the host.
        assert.equal(m[0]?.[6], '-', `${h}: ${d} is private (${m[0]?.join(' ')})`);
        // The host's own directory on the lab's tmpfs (mountinfo names it from the root of that filesystem).
        assert.deepEqual(m[0]?.slice(7, 9), ['tmpfs', `kdrift-lab-${LAB}`], `${h}: ${d} is on the lab's tmpfs`);
        assert.equal(m[0]?.[3], `/${h}/root${d}`, `${h}: ${d} is the host's own directory`);
      }
      const underEtc = mounts.filter((f) => f[4]?.startsWith('/etc/'));
      assert.deepEqual(underEtc.map((f) => f[4]), [], `${h}: nothing bound over a file or dir inside /etc (the /etc/netns mechanism)`);
      // From inside: the same objects as the host's tree, none of them the machine's.
      const inside = (await labExec(LAB, h, ['stat', '-c', '%d:%i', '/etc', '/etc/passwd', '/etc/shadow', '/etc/sysctl.conf', '/var/lib', '/run'])).stdout.trim().split('\n');
      const own = ['etc', 'etc/passwd', 'etc/shadow', 'etc/sysctl.conf', 'var/lib', 'run'].map((p) => statSync(path.join(hp.root, p))).map((s) => `${s.dev}:${s.ino}`);
      const machine = ['/etc', '/etc/passwd', '/etc/shadow', '/etc/sysctl.conf', '/var/lib', '/run'].map((p) => statSync(p)).map((s) => `${s.dev}:${s.ino}`);
      assert.deepEqual(inside, own, `${h}: sees its own tree`);
      inside.forEach((x, i) => assert.notEqual(x, machine[i], `${h}: ${['/etc', '/etc/passwd', '/etc/shadow', '/etc/sysctl.conf', '/var/lib', '/run'][i]} is not the machine's`));
    }
  });

  it('fix (CLI), useradd, writes and renames inside hosts leave the machine /etc, /var/lib/kdrift and /run byte-identical', async () => {
    const before = machineShot();
    const lbRoot = labPaths(LAB).host('lb').root;

    // The outage on lb, persisted in a hardening file AND in its /etc/sysctl.conf (kdrift edits that file in /etc).
    writeFileSync(path.join(lbRoot, 'etc/sysctl.d/99-hardening.conf'), `# harden.sh\n${WS}=0\n`);
    appendFileSync(path.join(lbRoot, 'etc/sysctl.conf'), `${WS} = 0\n`);
    await sshOk(st, 'lb', `sysctl -q -w ${WS}=0`);
    const fix = await runKdrift(['fix', '--inventory', st.inventoryFile, '--host', 'lb', '--yes'], { timeoutMs: 120_000 });
    assert.equal(fix.code, 0, `${fix.stdout}\n${fix.stderr}`);
    assert.match(fix.stdout, /lb: applied and VERIFIED/);
    // kdrift's journal is lb's own, in lb's /var/lib; its lock in lb's /run/lock is released.
    const journalDir = path.join(lbRoot, 'var/lib/kdrift/journal');
    assert.equal(readdirSync(journalDir).filter((f) => f.endsWith('.json')).length, 1);
    assert.deepEqual(readdirSync(path.join(lbRoot, 'run/lock')).filter((f) => f.startsWith('kdrift-fix-')), []);
    assert.match(readFileSync(path.join(lbRoot, 'etc/sysctl.conf'), 'utf8'), /^# kdrift .*was: net\.ipv4\.tcp_window_scaling = 0$/m);

    // useradd inside app1 (it renames /etc/passwd, /etc/shadow, /etc/group inside the host).
    await sshOk(st, 'app1', 'useradd -M -s /usr/sbin/nologin kdseal');
    assert.match(await sshOk(st, 'app1', 'getent passwd kdseal'), /^kdseal:/);
    assert.match(readFileSync(path.join(labPaths(LAB).host('app1').etc, 'passwd'), 'utf8'), /^kdseal:/m);
    for (const h of ['lb', 'app2', 'client']) assert.equal((await execOut('ssh', ['-F', st.sshConfig, '-o', 'BatchMode=yes', h, 'getent passwd kdseal'])).code, 2, `${h} has no kdseal`);

    // Writes and renames in every sealed directory on client.
    await sshOk(
      st,
      'client',
      'set -e; echo sealed > /etc/kdseal.tmp && mv /etc/kdseal.tmp /etc/hosts; mkdir -p /var/lib/kdrift/journal /var/log/kdseal; ' +
        'echo x > /var/lib/kdrift/journal/4026531840-kdseal.json; echo x > /var/log/kdseal/log; mkdir /run/lock/kdrift-fix-net4026531840.lock; echo x > /run/kdseal',
    );
    assert.equal(readFileSync(path.join(labPaths(LAB).host('client').etc, 'hosts'), 'utf8'), 'sealed\n');

    const after = machineShot();
    assert.deepEqual(changed(before, after, ourIds), [], 'the machine files changed');
    assert.equal(readFileSync('/etc/hosts', 'utf8').includes('sealed'), false);
  });

  it("a bug in fix that follows a symlink to /etc/passwd can only reach the host's /etc/passwd, never the machine's", async () => {
    const before = machineShot();
    const app2 = labPaths(LAB).host('app2');
    await sshOk(st, 'app2', `ln -sf /etc/passwd /etc/sysctl.d/90-kdrift.conf && sysctl -q -w ${WS}=0`);
    // Whatever kdrift decides (refuse the link, or — the bug of issue 13 — write through it), the machine is untouched.
    const fix = await runKdrift(['fix', '--inventory', st.inventoryFile, '--host', 'app2', '--yes'], { timeoutMs: 120_000 });
    assert.ok(fix.code === 0 || fix.code === 1 || fix.code === 2, `${fix.stdout}\n${fix.stderr}`);
    assert.deepEqual(changed(before, machineShot(), ourIds), [], 'the machine files changed');
    assert.ok(lstatSync(path.join(app2.etc, 'passwd')).isFile());
  });

  it("after lab down and up, a host starts from a new tree: an earlier host's journal, lock and users are not its", async () => {
    // Journals and locks used to be named by netns inode ids in the machine's /var/lib and /run, and the kernel reuses
    // those ids: a later lab's host could pick up an earlier one's journal. Now they are in the host's own tree, which
    // goes with the lab.
    await sshOk(st, 'lb', 'mkdir -p /var/lib/kdrift/journal /run/lock/kdrift-fix-netX.lock && echo {} > /var/lib/kdrift/journal/earlier.json && useradd -M kdearlier');
    await labDown(LAB);
    st = await labUp({ name: LAB, subnet: SUBNET });
    assert.equal(st.healthy, true);
    const seen = await sshOk(st, 'lb', 'ls -A /var/lib /run/lock; getent passwd kdearlier || echo no-kdearlier');
    assert.doesNotMatch(seen, /kdrift|earlier\.json|kdrift-fix-net/);
    assert.match(seen, /^no-kdearlier$/m);
  });
});
