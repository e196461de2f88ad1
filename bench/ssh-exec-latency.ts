/**
 * bench/ssh-exec-latency.ts — cost of commands on ONE reused connection (what kdrift does per host): connect once,
 * then N execs one after another and N at once (8 channels), and N SFTP reads. Loopback sshd, clean login.
 *   npx tsx bench/ssh-exec-latency.ts [--n 200] [--real-login]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { openSession } from '../core/sessions.js';
import { makeKey, startSshd } from '../lab/loopback-sshd.js';

const { values } = parseArgs({ options: { n: { type: 'string', default: '200' }, 'real-login': { type: 'boolean', default: false } } });
const N = Number(values.n);
const dir = mkdtempSync(path.join(tmpdir(), 'kdrift-bench-lat-'));
const key = makeKey(path.join(dir, 'id'));
const sshd = await startSshd({ dir: path.join(dir, 'sshd'), authorizedKeys: [key.pub], cleanLogin: !values['real-login'], sftpServer: 'internal-sftp' });
try {
  const t0 = performance.now();
  const s = await openSession(
    { name: 'lat', address: '127.0.0.1', port: sshd.port, user: 'root', identityFile: key.privateKeyPath },
    { knownHostsPath: path.join(dir, 'known_hosts'), acceptNewHostKeys: true, commandTimeoutMs: 0 },
  );
  const connect = performance.now() - t0;
  let t = performance.now();
  for (let i = 0; i < N; i++) await s.exec(['true']);
  const seq = (performance.now() - t) / N;
  t = performance.now();
  await Promise.all(Array.from({ length: N }, () => s.exec(['true'])));
  const par = (performance.now() - t) / N;
  t = performance.now();
  await Promise.all(Array.from({ length: N }, () => s.readFile('/proc/sys/net/ipv4/tcp_window_scaling')));
  const sftp = (performance.now() - t) / N;
  await s.close();
  console.log(`${values['real-login'] ? "root's real login" : 'clean login'}: connect+auth ${connect.toFixed(0)} ms; ` +
    `exec one after another ${seq.toFixed(1)} ms each; ${N} execs at once ${par.toFixed(1)} ms each; ` +
    `${N} SFTP reads at once ${sftp.toFixed(2)} ms each; TCP connections accepted: ${sshd.acceptedConnections()}`);
} finally {
  await sshd.stop();
  rmSync(dir, { recursive: true, force: true });
}
