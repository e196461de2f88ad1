/**
 * Starts the gated command inside the gate's cgroup, on the live host or in a sandbox. Scripts here are fixed text;
 * every value (the cgroup path, the command and its arguments) is an argv element, never spliced into shell text.
 *
 * Both runners start as `setpriv --pdeathsig KILL`: the runner dies with the gate (SIGKILL included). The runner
 * moves itself into the cgroup (`echo 0 > cgroup.procs`: 0 = the writer) before the command exists, so every process
 * the command starts is gated.
 *
 * The sandbox: `unshare --net --mount --pid --fork --kill-child=SIGKILL --mount-proc --propagation private`, then, in
 * the fresh mount namespace, /etc, /usr and /run become overlays whose upper layers live on a tmpfs that only this
 * namespace sees (mounted on /run before /run's own overlay covers it): the command sees the machine's files, and
 * what it writes there stays in the namespace and is gone with it — nothing to clean on the host, even after a
 * SIGKILL. The sandbox's init (pid 1 of its pid namespace) tells the gate when the mounts are ready, waits for the
 * gate to register the namespace with the guard, runs the command, reports its status, and waits again while the
 * gate reads the sysctl.d family through /proc/<pid>/root. When it exits, the kernel kills everything left in the
 * pid namespace.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { KdriftError } from '../core/errors.js';

const LIVE_SCRIPT = `echo 0 > "$1/cgroup.procs" || exit 125
shift
exec "$@"
`;

const ENTER_SANDBOX_SCRIPT = `echo 0 > "$1/cgroup.procs" || exit 125
inner=$2
shift 2
exec unshare --net --mount --pid --fork --kill-child=SIGKILL --mount-proc --propagation private -- sh -c "$inner" kdrift-gate-sandbox "$@"
`;

/** Runs as pid 1 of the sandbox. fd 3: lines to the gate; fd 4: lines from the gate. */
const SANDBOX_SCRIPT = `set -e
exec 5</etc 6</run 7</usr
mount -t tmpfs -o mode=0700,size=256m kdrift-gate-scratch /run
for d in etc usr run; do mkdir -p "/run/.kdrift-gate/$d/upper" "/run/.kdrift-gate/$d/work"; done
mount -t overlay -o lowerdir=/proc/self/fd/5,upperdir=/run/.kdrift-gate/etc/upper,workdir=/run/.kdrift-gate/etc/work kdrift-gate-etc /etc
mount -t overlay -o lowerdir=/proc/self/fd/7,upperdir=/run/.kdrift-gate/usr/upper,workdir=/run/.kdrift-gate/usr/work kdrift-gate-usr /usr
mount -t overlay -o lowerdir=/proc/self/fd/6,upperdir=/run/.kdrift-gate/run/upper,workdir=/run/.kdrift-gate/run/work kdrift-gate-run /run
exec 5<&- 6<&- 7<&-
echo ready >&3
read -r go <&4
set +e
"$@" 3>&- 4>&-
echo "exit $?" >&3
read -r done <&4
exit 0
`;

export interface CommandStatus {
  /** Exit code; for a sandboxed command killed by a signal, 128 + the signal number (as sh reports it, signal null). */
  code: number | null;
  signal: string | null;
}

export interface RunningCommand {
  pid: number;
  /** Live: resolves when the command exits. Sandbox: when it exits; the sandbox stays up until release(). */
  status: Promise<CommandStatus>;
  /** Sandbox: the network namespace's inode (the guard's allowed netns). */
  netns?: number;
  /** Sandbox: paths of the command's view of the filesystem (the overlays). */
  root?: string;
  /** Lets the runner exit; resolves when it has. */
  release(): Promise<void>;
}

function exited(child: ChildProcess): Promise<CommandStatus> {
  return new Promise((resolve, reject) => {
    child.once('error', (err) => reject(new KdriftError(`cannot start the command: ${err.message}`)));
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
}

/** Live host: the command runs in the cgroup, in this machine's namespaces. */
export function runLive(cgroupPath: string, command: readonly string[]): RunningCommand {
  const child = spawn('setpriv', ['--pdeathsig', 'KILL', '--', 'sh', '-c', LIVE_SCRIPT, 'kdrift-gate', cgroupPath, ...command], {
    stdio: ['inherit', 2, 'inherit'],
  });
  const status = exited(child);
  return { pid: child.pid ?? -1, status, release: async () => void (await status.catch(() => undefined)) };
}

/** Sandbox: waits until the namespaces and overlays are up, then `register(netns)`, then starts the command. */
export async function runSandboxed(cgroupPath: string, command: readonly string[], register: (netns: number) => void): Promise<RunningCommand> {
  const child = spawn(
    'setpriv',
    ['--pdeathsig', 'KILL', '--', 'sh', '-c', ENTER_SANDBOX_SCRIPT, 'kdrift-gate', cgroupPath, SANDBOX_SCRIPT, ...command],
    { stdio: ['inherit', 2, 'inherit', 'pipe', 'pipe'] },
  );
  const done = exited(child);
  const fromSandbox = child.stdio[3] as Readable;
  const toSandbox = child.stdio[4] as Writable;
  toSandbox.on('error', () => undefined); // the sandbox may be gone (killed) before we say "done"
  let released = false;
  const lines = createInterface({ input: fromSandbox })[Symbol.asyncIterator]();
  const next = async (): Promise<string | undefined> => {
    const r = await Promise.race([lines.next(), done.then(() => ({ done: true as const, value: undefined }))]);
    return r.done ? undefined : r.value;
  };
  const first = await next();
  if (first !== 'ready') {
    const st = await done;
    throw new KdriftError(`the sandbox could not be set up (namespaces / overlay mounts; exit ${st.code ?? st.signal}): see the messages above`);
  }
  const pid = child.pid as number;
  const netns = (await stat(`/proc/${pid}/ns/net`)).ino;
  register(netns);
  toSandbox.write('go\n');
  const status = (async (): Promise<CommandStatus> => {
    const line = await next();
    const m = /^exit (\d+)$/.exec(line ?? '');
    if (!m) {
      const st = await done;
      return { code: st.code, signal: st.signal };
    }
    return { code: Number(m[1]), signal: null };
  })();
  return {
    pid,
    status,
    netns,
    root: `/proc/${pid}/root`,
    release: async () => {
      if (!released) {
        released = true;
        toSandbox.end('done\n');
      }
      await done.catch(() => undefined);
    },
  };
}
