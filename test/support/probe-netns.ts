/**
 * Helpers for the probe e2e tests: our own network namespaces (prefix kdbp-, 10.73.x.x), processes started inside them
 * in their own process groups, and the agent run from the sources. Everything made here is undone by cleanup().
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { slotName } from './slot.js';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { probeObservationSchema, type ProbeObservation } from '../../probe/observation.js';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const children = new Set<ChildProcess>();
const namespaces = new Set<string>();

export function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export function netnsExists(name: string): boolean {
  return sh('ip', ['netns', 'list']).split('\n').some((l) => l.split(' ')[0] === name);
}

/** Two namespaces joined by a veth pair: a (10.73.<subnet>.1) and b (10.73.<subnet>.2). */
export function makeNetnsPair(a: string, b: string, subnet: number): { addrA: string; addrB: string } {
  for (const ns of [a, b]) {
    const prefix = `${slotName('kdbp')}-`;
    if (!ns.startsWith(prefix)) throw new Error(`netns ${ns} is not ours (prefix ${prefix})`);
    if (netnsExists(ns)) sh('ip', ['netns', 'del', ns]);
    sh('ip', ['netns', 'add', ns]);
    namespaces.add(ns);
    sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  }
  const va = `${a}0`.slice(0, 15);
  const vb = `${b}0`.slice(0, 15);
  sh('ip', ['-n', a, 'link', 'add', va, 'type', 'veth', 'peer', 'name', vb, 'netns', b]);
  const addrA = `10.73.${subnet}.1`;
  const addrB = `10.73.${subnet}.2`;
  sh('ip', ['-n', a, 'addr', 'add', `${addrA}/24`, 'dev', va]);
  sh('ip', ['-n', b, 'addr', 'add', `${addrB}/24`, 'dev', vb]);
  sh('ip', ['-n', a, 'link', 'set', va, 'up']);
  sh('ip', ['-n', b, 'link', 'set', vb, 'up']);
  return { addrA, addrB };
}

export function sysctlIn(ns: string, key: string, value: string | number): void {
  sh('ip', ['netns', 'exec', ns, 'sysctl', '-qw', `${key}=${value}`]);
}

/** Starts argv inside the netns in its own process group (so cleanup can kill everything it started). */
export function spawnIn(ns: string, argv: string[]): ChildProcess {
  const child = spawn('ip', ['netns', 'exec', ns, ...argv], { cwd: REPO, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Resolves with the first stdout/stderr line matching `re`; rejects if the process exits first or on timeout. */
export function waitForLine(child: ChildProcess, stream: 'stdout' | 'stderr', re: RegExp, timeoutMs = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const s = child[stream];
    if (!s) return reject(new Error(`no ${stream}`));
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${re} on ${stream}; got ${JSON.stringify(buf.slice(-500))}`)), timeoutMs);
    const onData = (d: Buffer) => {
      buf += d.toString('utf8');
      const line = buf.split('\n').find((l) => re.test(l));
      if (line !== undefined) {
        clearTimeout(timer);
        s.off('data', onData);
        resolve(line);
      }
    };
    s.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`process exited (${code}) before ${re}; ${stream}: ${JSON.stringify(buf.slice(-800))}`));
    });
  });
}

export interface AgentRun {
  child: ChildProcess;
  result: Promise<ProbeObservation>;
  /** SIGTERM (the agent detaches and prints what it saw), then its observation: no race with a fixed window. */
  finish(): Promise<ProbeObservation>;
}

/** Starts `kdrift probe --json ...` in the netns from the sources and waits until it has attached. */
export async function startAgent(ns: string, args: string[]): Promise<AgentRun> {
  const child = spawnIn(ns, [process.execPath, '--import', 'tsx', 'probe/agent-entry.ts', 'probe', '--json', ...args]);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  const result = new Promise<ProbeObservation>((resolve, reject) => {
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`agent exited ${code}: ${stderr.trim()}`));
      try {
        resolve(probeObservationSchema.parse(JSON.parse(stdout)));
      } catch (err) {
        reject(new Error(`agent output is not an observation: ${(err as Error).message}: ${stdout.slice(0, 300)}`));
      }
    });
  });
  result.catch(() => {}); // observed by the test; avoid an unhandled rejection if it fails before being awaited
  try {
    await waitForLine(child, 'stderr', /attached/, 60_000);
  } catch (err) {
    killGroup(child); // an agent that attached late must not stay attached (it would count later tests' connections)
    throw err;
  }
  return {
    child,
    result,
    finish: () => {
      if (child.pid !== undefined && child.exitCode === null) child.kill('SIGTERM');
      return result;
    },
  };
}

/**
 * A TCP server in the netns (python3, so SO_RCVBUF can be set before listen). mode 'close': accept and close;
 * 'hold': accept and keep the connection without ever reading (the receive window fills and closes); 'drain': read
 * everything. With `beforeListen`, the server waits until that callback (given its pid) has run before it creates its
 * socket (e.g. to move it into a cgroup first: a socket belongs to its creator's cgroup).
 */
export async function startServer(
  ns: string,
  addr: string,
  port: number,
  mode: 'close' | 'hold' | 'drain',
  opts: { rcvbuf?: number; beforeListen?: (pid: number) => void } = {},
): Promise<ChildProcess> {
  const script = `
import socket, sys, threading
addr, port, mode, rcvbuf, gate = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5] == '1'
if gate:
    print('waiting', flush=True)
    sys.stdin.readline()
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
if rcvbuf: s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
s.bind((addr, port)); s.listen(128)
print('ready', flush=True)
held = []
def drain(c):
    while c.recv(65536): pass
    c.close()
while True:
    c, _ = s.accept()
    if mode == 'hold': held.append(c)
    elif mode == 'drain': threading.Thread(target=drain, args=(c,), daemon=True).start()
    else: c.close()
`;
  const gate = opts.beforeListen !== undefined;
  const child = spawnIn(ns, ['python3', '-c', script, addr, String(port), mode, String(opts.rcvbuf ?? 0), gate ? '1' : '0']);
  if (opts.beforeListen) {
    await waitForLine(child, 'stdout', /^waiting/);
    opts.beforeListen(child.pid as number);
    child.stdin?.write('go\n');
  }
  await waitForLine(child, 'stdout', /^ready/);
  return child;
}

/** `count` connections from the netns, one after another; each sends `sendSeconds` of data if > 0. */
export async function runClient(ns: string, addr: string, port: number, count: number, sendSeconds = 0): Promise<void> {
  const script = `
import socket, sys, time
addr, port, count, secs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
for _ in range(count):
    c = socket.create_connection((addr, port), timeout=5)
    if secs > 0:
        c.setblocking(False)
        end = time.time() + secs
        chunk = b'x' * 65536
        while time.time() < end:
            try: c.send(chunk)
            except BlockingIOError: time.sleep(0.01)
    c.close()
print('done', flush=True)
`;
  const child = spawnIn(ns, ['python3', '-c', script, addr, String(port), String(count), String(sendSeconds)]);
  await waitForLine(child, 'stdout', /^done/, 30_000);
}

export function killGroup(child: ChildProcess): void {
  if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** Kills every process group we started and deletes every namespace we made. Safe to call twice. */
export function cleanup(): void {
  for (const c of children) killGroup(c);
  children.clear();
  for (const ns of namespaces) {
    try {
      sh('ip', ['netns', 'del', ns]);
    } catch {
      // already deleted
    }
  }
  namespaces.clear();
}
