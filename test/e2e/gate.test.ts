/**
 * `kdrift gate` on the real kernel. Hardening scripts in the shapes real ones take — `sysctl -w`, `echo > /proc/sys`,
 * a Node process writing /proc/sys, `sysctl -p FILE`, `sysctl --system`, a dropped sysctl.d file — each caught in
 * audit and refused in deny with the right process and parent; harmless writes go through.
 * Live-host runs happen inside our own network namespace (so their net.* writes touch only it, and they write only
 * net.* keys); `sysctl -p` / `sysctl --system` and every global key run only under --sandbox, where the machine's
 * /etc and values are checked unchanged afterwards.
 */
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import type { GateResult } from '../../gate/run.js';
import type { JudgedWrite } from '../../gate/judge.js';
import {
  cgroupRoot, useLab, deleteNetns, findReaper, gateCgroups, killRuns, guardPrograms, makeNetns, processesWithGateMounts, startCli, sysctlValue, treeDigest,
  waitFor, writeBaseline, writeScript, type CliRun,
  sh,
} from '../support/gate-support.js';
import { slotName, slotSubnet } from '../support/slot.js';
import { labHostPrefix } from '../../lab/index.js';

const SYSCTLS = {
  'net.ipv4.tcp_window_scaling': { equals: 1, severity: 'critical' },
  'net.ipv4.tcp_sack': { equals: 1 },
  'net.ipv4.tcp_timestamps': { equals: 1 },
  'net.ipv4.tcp_rmem': { min: [4096, 131072, 6291456] },
  // Global keys: declared so that a script writing them conflicts; only ever written under --sandbox.
  'kernel.kptr_restrict': { max: 1 },
  'vm.swappiness': { max: 10 },
};

async function gate(args: string[], ns?: string, wrapper: string[] = []): Promise<{ code: number | null; result: GateResult; stderr: string }> {
  const run = startCli(['gate', '--json', ...args], ns, wrapper);
  const r = await run.done;
  let result: GateResult;
  try {
    result = JSON.parse(r.stdout) as GateResult;
  } catch {
    throw new Error(`gate printed no JSON (exit ${r.code}): ${r.stdout.slice(0, 300)} ${r.stderr.slice(-800)}`);
  }
  return { code: r.code, result, stderr: r.stderr };
}

function find(writes: JudgedWrite[], key: string, comm?: string): JudgedWrite {
  const w = writes.find((x) => x.key === key && (comm === undefined || x.process.comm === comm));
  assert.ok(w, `no recorded write of ${key}${comm ? ` by ${comm}` : ''} in ${JSON.stringify(writes.map((x) => `${x.key}:${x.process.comm}`))}`);
  return w;
}

describe('kdrift gate', function () {
  this.timeout(120_000);
  let base: Awaited<ReturnType<typeof writeBaseline>>;
  const runs: CliRun[] = [];

  before(async () => {
    base = await writeBaseline(SYSCTLS);
  });
  after(async () => {
    killRuns(runs);
    deleteNetns();
    await base.done();
  });

  describe('on a live host (inside our own netns)', () => {
    let ns: string;
    let script: string;
    beforeEach(async () => {
      ns = makeNetns('live');
      // sysctl -w, echo > /proc/sys, a Node process, each with one conflicting and harmless writes around them.
      script = await writeScript(
        base.dir,
        'harden-live.sh',
        `sysctl -w net.ipv4.tcp_fin_timeout=21
sysctl -w net.ipv4.tcp_window_scaling=0
echo 0 > /proc/sys/net/ipv4/tcp_sack
echo 1 > /proc/sys/net/ipv4/tcp_sack
${process.execPath} -e "require('fs').writeFileSync('/proc/sys/net/ipv4/tcp_timestamps', '0')"
sysctl -w net.ipv4.tcp_rmem="4096 1000"
exit 3
`,
      );
    });
    afterEach(() => deleteNetns());

    it('deny: refuses each conflicting write (EPERM) naming process and parent, lets harmless ones through, leaves protected keys unchanged', async () => {
      const { code, result } = await gate(['--baseline', base.file, '--role', 'gated', '--mode', 'deny', '--', script], ns);
      assert.equal(code, 2);
      assert.equal(result.commandStatus.code, 3, 'the script exit status is reported apart');
      const ws = find(result.writes, 'net.ipv4.tcp_window_scaling', 'sysctl');
      assert.deepEqual([ws.conflict, ws.refused, ws.kernelVerdict, ws.process.parentComm, ws.result], [true, true, 'policy', 'harden-live.sh', '0']);
      const echo = result.writes.filter((w) => w.key === 'net.ipv4.tcp_sack');
      assert.deepEqual(echo.map((w) => [w.process.comm, w.result, w.conflict, w.refused]), [['harden-live.sh', '0', true, true], ['harden-live.sh', '1', false, false]]);
      const node = find(result.writes, 'net.ipv4.tcp_timestamps', 'node');
      assert.deepEqual([node.conflict, node.refused, node.process.parentComm], [true, true, 'harden-live.sh']);
      const rmem = find(result.writes, 'net.ipv4.tcp_rmem');
      const rmemMax = rmem.oldValue?.split(' ')[2];
      assert.deepEqual([rmem.conflict, rmem.refused, rmem.result], [true, true, `4096 1000 ${rmemMax}`], 'a short tuple is judged with the fields it leaves');
      const fin = find(result.writes, 'net.ipv4.tcp_fin_timeout');
      assert.deepEqual([fin.conflict, fin.refused], [false, false]);
      // The kernel and the user-space judge agree on every write.
      for (const w of result.writes) assert.equal(w.refused, w.conflict, `${w.key} ${w.newValue}: kernel refused=${w.refused}, judged conflict=${w.conflict}`);
      assert.equal(sysctlValue('net.ipv4.tcp_window_scaling', ns), '1');
      assert.equal(sysctlValue('net.ipv4.tcp_sack', ns), '1');
      assert.equal(sysctlValue('net.ipv4.tcp_timestamps', ns), '1');
      assert.equal(sysctlValue('net.ipv4.tcp_fin_timeout', ns), '21');
      assert.equal(result.conflicts, 4);
    });

    it('audit: records the same writes as conflicts and lets them through', async () => {
      const { code, result } = await gate(['--baseline', base.file, '--role', 'gated', '--mode', 'audit', '--', script], ns);
      assert.equal(code, 2);
      assert.ok(result.writes.every((w) => !w.refused));
      const ws = find(result.writes, 'net.ipv4.tcp_window_scaling', 'sysctl');
      assert.deepEqual([ws.conflict, ws.kernelVerdict, ws.oldValue, ws.result], [true, 'policy', '1', '0']);
      assert.equal(find(result.writes, 'net.ipv4.tcp_timestamps', 'node').conflict, true);
      assert.equal(sysctlValue('net.ipv4.tcp_window_scaling', ns), '0');
      assert.equal(sysctlValue('net.ipv4.tcp_timestamps', ns), '0');
    });

    it('exits 0 for a script whose writes all agree with the role, and 1 with one line for bad input', async () => {
      const ok = await writeScript(base.dir, 'ok.sh', 'sysctl -qw net.ipv4.tcp_window_scaling=1\n');
      const { code, result } = await gate(['--baseline', base.file, '--role', 'gated', '--', ok], ns);
      assert.equal(code, 0);
      assert.equal(result.conflicts, 0);
      const bad = await startCli(['gate', '--baseline', base.file, '--role', 'nope', '--', ok]).done;
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /^kdrift gate: .*no role nope in the baseline \(roles: gated\)\n$/);
      const noCmd = await startCli(['gate', '--role', 'gated']).done;
      assert.equal(noCmd.code, 1);
      assert.match(noCmd.stderr, /give the command to gate after "--"/);
      const notRoot = await startCli(['gate', '--baseline', base.file, '--role', 'gated', '--', ok], undefined, ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups']).done;
      assert.equal(notRoot.code, 1);
      assert.equal(notRoot.stderr, 'kdrift gate: kdrift gate must run as root (it creates a cgroup and loads a BPF program); running as uid 65534\n');
    });
  });

  describe('--sandbox', () => {
    const machine = () => ({
      etc: treeDigest('/etc'),
      usrSysctl: treeDigest('/usr/lib/sysctl.d'),
      runSysctl: treeDigest('/run/sysctl.d'),
      values: ['net.ipv4.tcp_window_scaling', 'net.ipv4.tcp_timestamps', 'net.ipv4.tcp_sack', 'kernel.kptr_restrict', 'vm.swappiness', 'kernel.dmesg_restrict'].map((k) => `${k}=${sysctlValue(k)}`),
    });

    it('sysctl -p FILE and sysctl --system: net.* writes land in the sandbox and are judged, global ones are recorded and refused; the machine is untouched', async () => {
      const conf = await writeScript(base.dir, 'harden.conf', '');
      const { writeFile } = await import('node:fs/promises');
      await writeFile(conf, `net.ipv4.tcp_window_scaling = 0\nnet.ipv4.tcp_sack = 1\nkernel.kptr_restrict = 2\nvm.swappiness = 60\n`);
      const script = await writeScript(
        base.dir,
        'harden-ci.sh',
        `sysctl -p ${conf}
mkdir -p /etc/sysctl.d /run/sysctl.d /usr/lib/sysctl.d
printf '# from the hardening script\\nnet.ipv4.tcp_timestamps = 0\\n' > /etc/sysctl.d/60-harden.conf
printf 'kernel.kptr_restrict = 2\\n' > /run/sysctl.d/61-harden.conf
printf 'vm.swappiness = 70\\n' > /usr/lib/sysctl.d/62-harden.conf
sysctl --system > /dev/null
exit 0
`,
      );
      const before = machine();
      const { code, result } = await gate(['--baseline', base.file, '--role', 'gated', '--mode', 'audit', '--sandbox', '--', script]);
      assert.deepEqual(machine(), before, 'the machine\'s /etc, sysctl.d directories and values are unchanged');
      assert.equal(code, 2);
      assert.equal(result.commandStatus.code, 0);
      const ws = find(result.writes, 'net.ipv4.tcp_window_scaling', 'sysctl');
      assert.deepEqual([ws.conflict, ws.refused, ws.process.parentComm], [true, false, 'harden-ci.sh']);
      const kptr = result.writes.filter((w) => w.key === 'kernel.kptr_restrict');
      assert.ok(kptr.length >= 2, 'sysctl -p and sysctl --system both tried it');
      assert.ok(kptr.every((w) => w.refused && w.kernelVerdict === 'not-netns' && w.conflict));
      const swap = result.writes.filter((w) => w.key === 'vm.swappiness');
      assert.ok(swap.every((w) => w.refused && w.conflict));
      // sysctl --system applied /etc/sysctl.d/60-harden.conf in the sandbox's netns: caught at runtime too.
      assert.ok(result.writes.some((w) => w.key === 'net.ipv4.tcp_timestamps' && w.result === '0' && w.conflict && !w.refused));
      // Every write outside net.* was refused.
      assert.ok(result.writes.filter((w) => !w.key.startsWith('net.')).every((w) => w.refused));
      const persisted = Object.fromEntries(result.persisted.filter((p) => p.conflict).map((p) => [p.key, p.source]));
      assert.deepEqual(persisted, {
        'kernel.kptr_restrict': '/run/sysctl.d/61-harden.conf:1',
        'net.ipv4.tcp_timestamps': '/etc/sysctl.d/60-harden.conf:2',
        'vm.swappiness': '/usr/lib/sysctl.d/62-harden.conf:1',
      });
    });

    it('deny: conflicting net.* writes are refused inside the sandbox too, from sysctl -w and from sysctl --system', async () => {
      const script = await writeScript(
        base.dir,
        'deny-ci.sh',
        `sysctl -w net.ipv4.tcp_window_scaling=0 || echo refused
sysctl -w net.ipv4.tcp_sack=1
mkdir -p /etc/sysctl.d
printf 'net.ipv4.tcp_timestamps = 0\\n' > /etc/sysctl.d/60-harden.conf
sysctl --system > /dev/null
`,
      );
      const { code, result } = await gate(['--baseline', base.file, '--role', 'gated', '--mode', 'deny', '--sandbox', '--', script]);
      assert.equal(code, 2);
      assert.deepEqual(result.writes.slice(0, 2).map((w) => [w.key, w.refused, w.kernelVerdict]), [['net.ipv4.tcp_window_scaling', true, 'policy'], ['net.ipv4.tcp_sack', false, 'ok']]);
      const ts = result.writes.filter((w) => w.key === 'net.ipv4.tcp_timestamps' && w.result === '0');
      assert.ok(ts.length > 0 && ts.every((w) => w.refused && w.kernelVerdict === 'policy' && w.process.comm === 'sysctl' && w.process.parentComm === 'deny-ci.sh'), JSON.stringify(ts));
    });

    it('a script that only drops a sysctl.d file: a persisted conflict naming file:line, and /etc unchanged', async () => {
      const script = await writeScript(base.dir, 'drop.sh', "printf '# tuning\\n\\nnet.ipv4.tcp_window_scaling = 0\\n' > /etc/sysctl.d/70-tuning.conf\n");
      const etc = treeDigest('/etc');
      const { code, result } = await gate(['--baseline', base.file, '--role', 'gated', '--sandbox', '--', script]);
      assert.equal(treeDigest('/etc'), etc);
      assert.equal(code, 2);
      assert.deepEqual(result.writes, []);
      assert.deepEqual(result.persisted.map((p) => [p.key, p.value, p.source, p.conflict]), [['net.ipv4.tcp_window_scaling', '0', '/etc/sysctl.d/70-tuning.conf:3', true]]);
    });

    it('SIGKILLed mid-run, leaves no cgroup, namespace, mount or program behind', async () => {
      const marker = `${base.dir}/started`;
      const script = await writeScript(base.dir, 'slow.sh', `sysctl -qw net.ipv4.tcp_sack=1\ntouch ${marker}\nsleep 60\n`);
      const programsBefore = guardPrograms().map((p) => p.id);
      const run = startCli(['gate', '--baseline', base.file, '--role', 'gated', '--sandbox', '--', script]);
      runs.push(run);
      const gatePid = run.child.pid as number;
      await waitFor(() => statSync(marker, { throwIfNoEntry: false }) !== undefined, Boolean, 60_000, 'the script to start');
      const [cg] = gateCgroups(gatePid);
      assert.ok(cg, 'the gate made its cgroup');
      const inside = readFileSync(`${cgroupRoot()}/${cg}/cgroup.procs`, 'utf8').split('\n').filter(Boolean).map(Number);
      assert.ok(inside.length >= 2, 'the sandbox and the script run in it');
      const netns = statSync(`/proc/${inside[inside.length - 1]}/ns/net`).ino;
      assert.ok((await processesWithGateMounts()).length > 0, 'the sandbox has its overlays');
      assert.ok(guardPrograms().length > programsBefore.length, 'the guard is loaded');
      const reaper = await findReaper(`${cgroupRoot()}/${cg}`);
      assert.ok(reaper, 'a reaper watches the cgroup and holds the guard\'s link');

      process.kill(gatePid, 'SIGKILL');
      await run.done;
      // The gate is gone, its reaper still holds the link: the guard stays attached while the script's processes die.
      await waitFor(() => statSync(`/proc/${reaper}`, { throwIfNoEntry: false }) === undefined, Boolean, 5_000, 'the reaper to finish');
      await waitFor(() => gateCgroups(gatePid), (l) => l.length === 0, 5_000, 'the cgroup to be removed');
      await waitFor(() => inside.filter((p) => statSync(`/proc/${p}`, { throwIfNoEntry: false }) !== undefined), (l) => l.length === 0, 5_000, 'the sandbox processes to die');
      await waitFor(() => processesWithGateMounts(), (l) => l.length === 0, 5_000, 'no process to hold the overlays');
      await waitFor(() => guardPrograms().map((p) => p.id).filter((id) => !programsBefore.includes(id)), (l) => l.length === 0, 5_000, 'the guard program to be unloaded');
      // No process is left in the sandbox's network namespace (it is freed with its last process).
      const left: number[] = [];
      for (const d of await readdir('/proc')) {
        if (!/^\d+$/.test(d)) continue;
        const st = await stat(`/proc/${d}/ns/net`).catch(() => undefined);
        if (st?.ino === netns) left.push(Number(d));
      }
      assert.deepEqual(left, []);
    });
  });

  describe('on a live host whose /etc is its own (a lab host, entered as labExec does: its own /etc, /var/lib, /run)', () => {
    const lab = `${slotName('kdgt')}g`;
    useLab(lab, slotSubnet(82));

    it('diffs the sysctl.d family before/after: the dropped file is a persisted conflict naming file:line; sysctl -p of it is refused', async () => {
      const ns = `${lab}-lb`;
      const script = await writeScript(base.dir, 'persist.sh', "printf '# tuned\\nnet.ipv4.tcp_window_scaling = 0\\n' > /etc/sysctl.d/70-tuned.conf\nsysctl -p /etc/sysctl.d/70-tuned.conf\n");
      try {
        const { code, result } = await gate(['--role', 'load-balancer', '--', script], undefined, labHostPrefix(lab, 'lb'));
        assert.equal(code, 2);
        assert.equal(result.commandStatus.code, 1, 'sysctl -p reports the refused key: the script fails');
        const p = result.persisted.find((x) => x.conflict);
        assert.deepEqual([p?.key, p?.value, p?.source, p?.before?.value], ['net.ipv4.tcp_window_scaling', '0', '/etc/sysctl.d/70-tuned.conf:2', '1']);
        const w = find(result.writes, 'net.ipv4.tcp_window_scaling', 'sysctl');
        assert.deepEqual([w.refused, w.process.parentComm], [true, 'persist.sh']);
        assert.equal(sysctlValue('net.ipv4.tcp_window_scaling', ns), '1');
      } finally {
        const [cmd, ...args] = [...labHostPrefix(lab, 'lb'), 'rm', '-f', '/etc/sysctl.d/70-tuned.conf'];
        sh(cmd as string, args);
      }
    });
  });
});
