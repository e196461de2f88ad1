/**
 * Real OpenSSH sshd instances for the SSH e2e tests and bench/ssh-fanout.ts: each on 127.0.0.1 at a free high port,
 * with its own host key, key-only auth, authorized_keys in a temp dir, and `-D -e` so it stays in the foreground and
 * logs to stderr (which we keep, to count accepted connections).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export interface KeyPair {
  privateKeyPath: string;
  /** `type base64` */
  pub: string;
  type: string;
  blob: Buffer;
}

/** ssh-keygen a key pair (no passphrase unless given). */
export function makeKey(file: string, type = 'ed25519', passphrase = ''): KeyPair {
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', passphrase, '-C', '', '-f', file]);
  const [t, b64] = readFileSync(`${file}.pub`, 'utf8').trim().split(' ') as [string, string];
  return { privateKeyPath: file, pub: `${t} ${b64}`, type: t, blob: Buffer.from(b64, 'base64') };
}

export interface TestSshd {
  port: number;
  pid: number;
  dir: string;
  hostKey: KeyPair;
  /** "Connection from ..." lines sshd logged so far: one per accepted TCP connection. */
  acceptedConnections(): number;
  log(): string;
  stop(): Promise<void>;
}

export interface SshdOptions {
  /** Directory for this sshd's files (created). */
  dir: string;
  /** authorized_keys content (public key lines). */
  authorizedKeys: string[];
  /** Reuse this host key instead of generating one. */
  hostKey?: KeyPair;
  /** Extra sshd_config lines. */
  extraConfig?: string[];
  /** Listen on this port (default: a free one). */
  port?: number;
  /**
   * Give sessions a HOME of their own (sshd SetEnv HOME=<dir>/home), so root's ~/.bashrc (pyenv init: 0.1-2 s per
   * command on this machine, depending on load) does not run for every exec. The login shell is still root's bash.
   */
  cleanLogin?: boolean;
  /**
   * sftp subsystem command (default Debian's /usr/lib/openssh/sftp-server, which sshd starts through the user's login
   * shell, rc files included); `internal-sftp` runs in sshd itself, with no shell.
   */
  sftpServer?: string;
  /**
   * Run sshd in a private mount namespace after these bind mounts ([source, target] pairs), e.g. a file bind-mounted
   * over another as containers and the lab do. The mounts exist only inside that namespace and vanish with it.
   */
  bindMounts?: Array<[string, string]>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Descendants of pid (read from /proc), deepest first, so they can be killed by id. */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(d));
      children.set(ppid, list);
    } catch {
      // process exited while we looked
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) {
      walk(c);
      out.push(c);
    }
  };
  walk(pid);
  return out;
}

/**
 * TERM to pid and every descendant, then KILL whatever is left after `graceMs`. TERM first matters here: a root login
 * shell killed by SIGKILL in the middle of ~/.bashrc leaves pyenv's rehash lock behind, and every later root login on
 * the machine then waits 60 s for it; on TERM, bash runs the EXIT trap that removes it.
 */
export async function terminateTree(pid: number, graceMs = 2000): Promise<void> {
  const all = [...descendants(pid), pid];
  for (const p of all) {
    try {
      process.kill(p, 'SIGTERM');
    } catch {
      // gone
    }
  }
  const alive = (p: number) => {
    try {
      process.kill(p, 0);
      // a zombie still answers kill(0); it is dead for our purposes
      return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${p}/stat`, 'utf8'));
    } catch {
      return false;
    }
  };
  for (let waited = 0; waited < graceMs && all.some(alive); waited += 50) await new Promise((r) => setTimeout(r, 50));
  killTree(pid);
  for (const p of all.filter(alive)) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

/** Kills pid's process group and every descendant (sshd's per-connection children leave the group via setsid). */
export function killTree(pid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  for (const p of [...descendants(pid), pid]) {
    try {
      process.kill(p, signal);
    } catch {
      // gone
    }
  }
  try {
    process.kill(-pid, signal);
  } catch {
    // group gone
  }
}

export async function startSshd(opts: SshdOptions): Promise<TestSshd> {
  mkdirSync(opts.dir, { recursive: true });
  // sshd refuses to start without its privilege separation directory; an empty root-owned dir is all it needs.
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const hostKey = opts.hostKey ?? makeKey(path.join(opts.dir, 'ssh_host_ed25519_key'));
  const authorized = path.join(opts.dir, 'authorized_keys');
  writeFileSync(authorized, opts.authorizedKeys.map((k) => `${k}\n`).join(''));
  const home = path.join(opts.dir, 'home');
  if (opts.cleanLogin) mkdirSync(home, { recursive: true });
  for (let attempt = 0; ; attempt++) {
    const port = opts.port ?? (await freePort());
    const cfg = path.join(opts.dir, 'sshd_config');
    writeFileSync(
      cfg,
      [
        // sshd keeps the first value it reads for most keywords, so the caller's lines come first and win.
        ...(opts.extraConfig ?? []),
        `Port ${port}`,
        'ListenAddress 127.0.0.1',
        `HostKey ${hostKey.privateKeyPath}`,
        'PidFile none',
        `AuthorizedKeysFile ${authorized}`,
        'StrictModes no',
        'PubkeyAuthentication yes',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'PermitRootLogin prohibit-password',
        'UsePAM no',
        'LogLevel VERBOSE',
        `Subsystem sftp ${opts.sftpServer ?? '/usr/lib/openssh/sftp-server'}`,
        ...(opts.cleanLogin ? [`SetEnv HOME=${home}`] : []),
        '',
      ].join('\n'),
    );
    const sshdArgv = ['/usr/sbin/sshd', '-D', '-e', '-f', cfg];
    const argv = opts.bindMounts?.length
      ? [
          'unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c',
          // constant script; the paths are positional arguments: pairs of source target, then sshd's argv after --
          'while [ "$1" != -- ]; do mount --bind "$1" "$2" || exit 1; shift 2; done; shift; exec "$@"',
          'kdrift-test-sshd', ...opts.bindMounts.flat(), '--', ...sshdArgv,
        ]
      : sshdArgv;
    const child: ChildProcess = spawn(argv[0] as string, argv.slice(1), { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    child.stderr?.on('data', (d: Buffer) => (log += d.toString('utf8')));
    const ready = await new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(false), 5000);
      const check = () => {
        if (log.includes(`Server listening on 127.0.0.1 port ${port}`)) {
          clearTimeout(t);
          resolve(true);
        }
      };
      child.stderr?.on('data', check);
      child.on('exit', () => {
        clearTimeout(t);
        resolve(false);
      });
    });
    if (!ready) {
      if (child.pid) killTree(child.pid);
      if (attempt < 3 && /Address already in use/.test(log) && opts.port === undefined) continue;
      throw new Error(`sshd did not start on port ${port}: ${log}`);
    }
    const pid = child.pid as number;
    let stopped = false;
    return {
      port,
      pid,
      dir: opts.dir,
      hostKey,
      acceptedConnections: () => (log.match(/Connection from 127\.0\.0\.1 port \d+ on 127\.0\.0\.1 port \d+/g) ?? []).length,
      log: () => log,
      stop: async () => {
        if (stopped) return;
        stopped = true;
        const exited = new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));
        await terminateTree(pid);
        await exited;
      },
    };
  }
}

/** `ssh-agent -D -a SOCK` in the foreground (so we own and kill it by pid) with the given keys added. */
export async function startAgent(sock: string, keys: string[]): Promise<{ sock: string; stop(): Promise<void> }> {
  const child = spawn('ssh-agent', ['-D', '-a', sock], { detached: true, stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    try {
      execFileSync('ssh-add', ['-l'], { env: { ...process.env, SSH_AUTH_SOCK: sock }, stdio: 'ignore' });
      break;
    } catch (err) {
      // exit 1 = agent up with no identities; 2 = cannot connect yet
      if ((err as { status?: number }).status === 1) break;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  for (const k of keys) execFileSync('ssh-add', ['-q', k], { env: { ...process.env, SSH_AUTH_SOCK: sock }, stdio: 'ignore' });
  return {
    sock,
    stop: async () => {
      const exited = new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));
      if (child.pid) await terminateTree(child.pid);
      await exited;
    },
  };
}
