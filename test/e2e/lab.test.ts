/**
 * The lab fleet, end to end on this machine: real namespaces, real sshd per host (OpenSSH client with strict host-key
 * checking), per-host /etc, provisioning from stacks/baselines.ts, and a `lab down` that leaves nothing behind.
 * Lab name kdla, subnet 71 (this helper's assignment). Needs root.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { labUp, labDown, labStatus, labExec, type LabStatus } from '../../lab/index.js';
import { declaredSysctls } from '../../lab/provision.js';
import { runLoad } from '../../lab/load-run.js';
import { loadInventory } from '../../core/inventory.js';
import { slotName, slotSubnet } from '../support/slot.js';
import { execOut, type ExecOut } from '../support/exec-out.js';

const LAB = slotName('kdla');
const SUBNET = slotSubnet(71);
const NET = `10.${SUBNET}`;
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const HOSTS = ['lb', 'app1', 'app2', 'client'] as const;


/** Plain OpenSSH with the lab's client config: StrictHostKeyChecking yes against the lab's known_hosts. */
async function ssh(st: LabStatus, host: string, command: string, user?: string): Promise<ExecOut> {
  return execOut('ssh', ['-F', st.sshConfig, '-o', 'BatchMode=yes', ...(user ? ['-l', user] : []), host, command]);
}
async function sshOk(st: LabStatus, host: string, command: string): Promise<string> {
  const r = await ssh(st, host, command);
  assert.equal(r.code, 0, `ssh ${host} ${command}: ${r.stderr}`);
  return r.stdout;
}

const rootValue = (key: string) => readFileSync(`/proc/sys/${key.replace(/\./g, '/')}`, 'utf8').trim();

describe(`lab fleet (${LAB}, ${NET}.0.0/16)`, function () {
  this.timeout(120_000);
  let st: LabStatus;

  before(async function () {
    if (process.getuid?.() !== 0) this.skip(); // network namespaces, veth, TUN and sshd need root
    st = await labUp({ name: LAB, subnet: SUBNET });
  });

  after(async function () {
    if (process.getuid?.() !== 0) return;
    await labDown(LAB);
  });

  it('lab up reports four healthy hosts, each with its own sshd, and the WAN delay line alive', function () {
    assert.equal(st.healthy, true);
    assert.deepEqual(
      st.hosts.map((h) => [h.name, h.netns, h.address, h.sshdAlive]),
      [
        ['lb', `${LAB}-lb`, `${NET}.0.10`, true],
        ['app1', `${LAB}-app1`, `${NET}.0.11`, true],
        ['app2', `${LAB}-app2`, `${NET}.0.12`, true],
        ['client', `${LAB}-client`, `${NET}.0.13`, true],
      ],
    );
    assert.equal(st.wan.kind, 'delay-line');
    assert.equal(st.wan.alive, true);
    assert.ok(st.wan.pid && st.wan.pid > 1);
    assert.equal(st.nonRootUser, 'kdnobody');
    // Each sshd runs inside its host's namespace.
    for (const h of HOSTS) {
      const pid = Number(readFileSync(path.join(REPO, '.lab', LAB, 'run', `sshd-${h}.pid`), 'utf8'));
      assert.equal(statSync(`/proc/${pid}/ns/net`).ino, statSync(`/run/netns/${LAB}-${h}`).ino, `sshd of ${h} is in ${LAB}-${h}`);
    }
  });

  it('over SSH with strict host-key checking, every host reports net.ipv4.tcp_window_scaling = 1', async function () {
    const cfg = readFileSync(st.sshConfig, 'utf8');
    assert.match(cfg, /StrictHostKeyChecking yes/);
    for (const h of HOSTS) assert.equal((await sshOk(st, h, 'cat /proc/sys/net/ipv4/tcp_window_scaling')).trim(), '1', h);
  });

  it('a host key that does not match known_hosts is refused by the SSH client', async function () {
    // Point lb's alias at app1's address: app1 presents its own key, which known_hosts does not list for that name.
    const r = await execOut('ssh', ['-F', st.sshConfig, '-o', 'BatchMode=yes', '-o', `HostKeyAlias=${NET}.0.10`, 'app1', 'true']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
  });

  it('setting tcp_window_scaling=0 on lb leaves app1, app2, client and the root namespace at their values', async function () {
    const rootBefore = rootValue('net.ipv4.tcp_window_scaling');
    try {
      await sshOk(st, 'lb', 'sysctl -q -w net.ipv4.tcp_window_scaling=0');
      assert.equal((await sshOk(st, 'lb', 'cat /proc/sys/net/ipv4/tcp_window_scaling')).trim(), '0');
      for (const h of ['app1', 'app2', 'client']) assert.equal((await sshOk(st, h, 'cat /proc/sys/net/ipv4/tcp_window_scaling')).trim(), '1', h);
      assert.equal(rootValue('net.ipv4.tcp_window_scaling'), rootBefore);
    } finally {
      await labExec(LAB, 'lb', ['sysctl', '-q', '-w', 'net.ipv4.tcp_window_scaling=1']);
    }
  });

  it("each host's /etc/sysctl.d and /etc/sysctl.conf are its own inside an SSH session", async function () {
    const marker = `net.core.somaxconn = 4242 # kdla-test-${process.pid}`;
    try {
      await sshOk(st, 'lb', `echo '${marker}' > /etc/sysctl.d/70-kdla-test.conf && echo '${marker}' >> /etc/sysctl.conf`);
      assert.match(await sshOk(st, 'lb', 'cat /etc/sysctl.d/70-kdla-test.conf /etc/sysctl.conf'), /kdla-test/);
      // sysctl --system inside the host sees the file (its /etc), without applying anything here.
      assert.match(await sshOk(st, 'lb', 'ls /etc/sysctl.d'), /70-kdla-test\.conf/);
      for (const h of ['app1', 'app2', 'client']) {
        assert.doesNotMatch(await sshOk(st, h, 'ls /etc/sysctl.d; cat /etc/sysctl.conf'), /kdla-test/, h);
      }
      assert.equal(existsSync('/etc/sysctl.d/70-kdla-test.conf'), false, 'the machine /etc/sysctl.d is untouched');
      assert.doesNotMatch(readFileSync('/etc/sysctl.conf', 'utf8'), /kdla-test/, 'the machine /etc/sysctl.conf is untouched');
    } finally {
      await labExec(LAB, 'lb', ['rm', '-f', '/etc/sysctl.d/70-kdla-test.conf']);
      await labExec(LAB, 'lb', ['sed', '-i', '/kdla-test/d', '/etc/sysctl.conf']).catch(() => undefined);
    }
  });

  it('every host is provisioned to its roles in stacks/baselines.ts: 60-fleet.conf and the runtime values', async function () {
    for (const h of st.hosts) {
      const declared = declaredSysctls(h.roles);
      const conf = await sshOk(st, h.name, 'cat /etc/sysctl.d/60-fleet.conf');
      // One session per host: every declared key's runtime value, one per line.
      const keys = [...declared.keys()];
      const runtime = keys.length ? (await sshOk(st, h.name, `sysctl -n ${keys.join(' ')}`)).trim().split('\n') : [];
      keys.forEach((key, i) => {
        const value = declared.get(key) as string;
        assert.ok(conf.includes(`${key} = ${value}\n`), `${h.name}: 60-fleet.conf has ${key} = ${value}`);
        assert.equal((runtime[i] ?? '').trim().split(/\s+/).join(' '), value, `${h.name}: runtime ${key}`);
      });
      if (h.name === 'lb') assert.ok(declared.has('net.ipv4.tcp_window_scaling') && declared.size >= 10);
    }
  });

  it('SSH sessions and labExec see the host /etc and the machine cgroup v2 mount, and the machine mounts stay as they were', async function () {
    const rootMounts = readFileSync('/proc/self/mounts', 'utf8');
    const cg2 = rootMounts.split('\n').find((l) => l.split(' ')[2] === 'cgroup2');
    assert.ok(cg2, 'this machine has a cgroup2 mount');
    const viaSsh = await sshOk(st, 'app1', 'cat /proc/mounts; cat /etc/sysctl.d/60-fleet.conf');
    const viaExec = (await labExec(LAB, 'app1', ['sh', '-c', 'cat /proc/mounts; cat /etc/sysctl.d/60-fleet.conf'])).stdout;
    for (const out of [viaSsh, viaExec]) {
      assert.ok(out.includes(cg2.split(' ').slice(1, 3).join(' ')), 'cgroup2 mounted at the same place');
      assert.match(out, /lab host app1/);
    }
    assert.equal(readFileSync('/proc/self/mounts', 'utf8').split('\n').filter((l) => l.includes('cgroup')).length, rootMounts.split('\n').filter((l) => l.includes('cgroup')).length);
  });

  it('root logs in with a clean shell (/bin/sh, home in the lab), so a command costs no rc files', async function () {
    const out = await sshOk(st, 'lb', 'getent passwd root; echo "$HOME"');
    assert.ok(out.split('\n').includes(`root:x:0:0:root:${path.join(REPO, '.lab', LAB, 'hosts', 'lb', 'home')}:/bin/sh`), out);
    assert.ok(!readFileSync('/etc/passwd', 'utf8').includes(`/.lab/${LAB}/`), 'the machine /etc/passwd is untouched');
  });

  it('the non-root user logs in with the lab key and cannot change a sysctl', async function () {
    const r = await ssh(st, 'lb', 'id -un; /usr/sbin/sysctl -w net.ipv4.tcp_window_scaling=0', st.nonRootUser);
    assert.match(r.stdout, /^kdnobody$/m);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /permission denied/i);
    assert.equal((await labExec(LAB, 'lb', ['cat', '/proc/sys/net/ipv4/tcp_window_scaling'])).stdout.trim(), '1');
  });

  it('HAProxy on lb serves an 8 MiB response from the app servers over the LAN', async function () {
    const r = await runLoad(LAB, { requests: 2, size: 8 * 1024 * 1024, concurrency: 2, target: 'lan' });
    assert.equal(r.errors, 0, r.errorSamples.join('; '));
    assert.equal(r.bytes, 2 * 8 * 1024 * 1024);
    assert.equal(r.url, `http://${NET}.0.10:80/bytes/8388608`);
  });

  it('the inventory file and ssh_config name every host with its roles and the lab key', async function () {
    const inv = await loadInventory({ inventory: st.inventoryFile });
    assert.deepEqual(
      inv.hosts.map((h) => [h.name, h.address, h.user, h.roles.join(',')]),
      [
        ['lb', `${NET}.0.10`, 'root', 'load-balancer'],
        ['app1', `${NET}.0.11`, 'root', 'app-node'],
        ['app2', `${NET}.0.12`, 'root', 'app-node'],
        ['client', `${NET}.0.13`, 'root', 'client'],
      ],
    );
    assert.equal(inv.knownHosts, st.knownHosts);
    assert.equal(inv.hosts[0]?.identityFile, st.identityFile);
    assert.deepEqual(inv.agentCommand, [process.execPath, path.join(REPO, 'bin', 'kdrift.js')]);
    assert.equal(readFileSync(st.knownHosts, 'utf8').trim().split('\n').length, 4);
    assert.equal(existsSync(path.join(REPO, 'Pulumi.lab.yaml')) && readFileSync(path.join(REPO, 'Pulumi.lab.yaml'), 'utf8').includes(`.lab/${LAB}/`), false, 'only the default lab writes Pulumi.lab.yaml');
  });

  it('a second lab up changes nothing: same processes, same files, quickly', async function () {
    const pids = () => readdirSync(path.join(REPO, '.lab', LAB, 'run')).map((f) => `${f}=${readFileSync(path.join(REPO, '.lab', LAB, 'run', f), 'utf8').trim()}`).sort();
    const lbEtc = path.join(REPO, '.lab', LAB, 'hosts', 'lb', 'root', 'etc');
    const mtimes = () => [st.knownHosts, st.sshConfig, st.inventoryFile, path.join(lbEtc, 'passwd'), path.join(lbEtc, 'sysctl.d/60-fleet.conf'), path.join(lbEtc, 'ssh/sshd_config')].map((f) => statSync(f).mtimeMs);
    const before = { pids: pids(), mtimes: mtimes() };
    const t0 = Date.now();
    const again = await labUp({ name: LAB, subnet: SUBNET });
    const ms = Date.now() - t0;
    assert.equal(again.healthy, true);
    assert.deepEqual(pids(), before.pids);
    assert.deepEqual(mtimes(), before.mtimes);
    assert.equal(again.wan.pid, st.wan.pid);
    assert.ok(ms < 5000, `warm lab up took ${ms} ms`);
  });

  it('lab up mends a dead sshd and a dead app server without touching the rest', async function () {
    const sshdPid = Number(readFileSync(path.join(REPO, '.lab', LAB, 'run', 'sshd-app2.pid'), 'utf8'));
    const appPid = Number(readFileSync(path.join(REPO, '.lab', LAB, 'run', 'app-app1.pid'), 'utf8'));
    process.kill(sshdPid, 'SIGKILL');
    process.kill(appPid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 200));
    const broken = await labStatus(LAB);
    assert.equal(broken.healthy, false);
    assert.equal(broken.hosts.find((h) => h.name === 'app2')?.sshdAlive, false);
    assert.equal(broken.services.app1, false);
    const mended = await labUp({ name: LAB, subnet: SUBNET });
    assert.equal(mended.healthy, true);
    assert.equal((await sshOk(mended, 'app2', 'echo ok')).trim(), 'ok');
  });

  it('kdrift lab status --json (the CLI) reports sshConfig, and refuses a non-root user with a clear error', async function () {
    const r = await execOut(process.execPath, [path.join(REPO, 'bin', 'kdrift.js'), 'lab', 'status', '--name', LAB, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as LabStatus).sshConfig, st.sshConfig);
    const nonRoot = await execOut('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, path.join(REPO, 'bin', 'kdrift.js'), 'lab', 'up', '--name', LAB]);
    assert.equal(nonRoot.code, 1);
    assert.match(nonRoot.stderr, /^kdrift lab: the lab needs root/m);
    assert.doesNotMatch(nonRoot.stderr, /\n\s+at /, 'no stack trace');
  });

  it('lab down leaves no namespace, veth, bridge, TUN device, process, /etc/netns dir or state behind', async function () {
    const dl = st.wan.pid as number;
    await labDown(LAB);
    const netns = await execOut('ip', ['netns', 'list']);
    assert.doesNotMatch(netns.stdout, new RegExp(`${LAB}-`));
    const links = await execOut('ip', ['-o', 'link', 'show']);
    assert.doesNotMatch(links.stdout, new RegExp(`${LAB}-`));
    assert.equal(existsSync(`/proc/${dl}`) && readFileSync(`/proc/${dl}/cmdline`, 'utf8').includes('delay-line'), false, 'delay line gone');
    for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
      let cmd = '';
      try {
        cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      } catch {
        continue;
      }
      assert.ok(!cmd.includes(`/.lab/${LAB}/`) && !cmd.includes(`${LAB}-`), `process ${pid} left: ${cmd.replace(/\0/g, ' ')}`);
    }
    for (const h of HOSTS) assert.equal(existsSync(`/etc/netns/${LAB}-${h}`), false);
    assert.equal(readFileSync('/proc/self/mounts', 'utf8').includes(`/.lab/${LAB}/`), false, 'the hosts tmpfs is unmounted');
    assert.equal(existsSync(path.join(REPO, '.lab', LAB)), false);
    const st2 = await labStatus(LAB);
    assert.equal(st2.exists, false);
  });

  it('lab down also clears a half-built lab: its state dir deleted and a namespace removed by hand', async function () {
    await labUp({ name: LAB, subnet: SUBNET });
    await execOut('ip', ['netns', 'del', `${LAB}-app2`]); // app2's sshd and app server keep running in an unnamed namespace
    await execOut('rm', ['-rf', path.join(REPO, '.lab', LAB)]); // no pid files, no lab.json
    await labDown(LAB);
    assert.doesNotMatch((await execOut('ip', ['netns', 'list'])).stdout, new RegExp(`${LAB}-`));
    assert.doesNotMatch((await execOut('ip', ['-o', 'link', 'show'])).stdout, new RegExp(`${LAB}-`));
    await new Promise((r) => setTimeout(r, 200));
    for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
      let cmd = '';
      try {
        cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      } catch {
        continue;
      }
      assert.ok(!cmd.includes(`/.lab/${LAB}/`) && !cmd.includes(`${LAB}-`), `process ${pid} left: ${cmd.replace(/\0/g, ' ')}`);
    }
    for (const h of HOSTS) assert.equal(existsSync(`/etc/netns/${LAB}-${h}`), false);
    assert.equal(readFileSync('/proc/self/mounts', 'utf8').includes(`/.lab/${LAB}/`), false, 'the hosts tmpfs is unmounted');
  });
});
