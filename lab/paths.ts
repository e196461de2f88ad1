import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { KdriftError } from '../core/errors.js';
import { repoRoot } from '../core/package-root.js';
import type { LabHostName } from './plan.js';

export { repoRoot };

/** Where one lab keeps its state (gitignored). */
export function labPaths(name: string) {
  const root = repoRoot();
  const dir = path.join(root, '.lab', name);
  return {
    root,
    dir,
    stateFile: path.join(dir, 'lab.json'),
    identityFile: path.join(dir, 'id_ed25519'),
    authorizedKeys: path.join(dir, 'authorized_keys'),
    knownHosts: path.join(dir, 'known_hosts'),
    sshConfig: path.join(dir, 'ssh_config'),
    inventoryFile: path.join(dir, 'inventory.yaml'),
    /** A tmpfs of the lab's own (lab/host-root.ts): every host's tree, key and homes. */
    hostsDir: path.join(dir, 'hosts'),
    runDir: path.join(dir, 'run'),
    logDir: path.join(dir, 'log'),
    host: (h: LabHostName) => {
      const hostDir = path.join(dir, 'hosts', h);
      // The host's own filesystem tree: bound at /etc, /var/lib, /var/log and /run inside the host (lab/host-mounts.ts).
      const root = path.join(hostDir, 'root');
      const etc = path.join(root, 'etc');
      return {
        dir: hostDir,
        root,
        etc,
        home: path.join(hostDir, 'home'),
        nonRootHome: path.join(hostDir, 'home-nonroot'),
        // Paths under the lab dir are the same inside the host (the binds cover only SEALED_DIRS), so sshd and HAProxy
        // are started with these absolute names, which also mark their processes as this lab's.
        hostKey: path.join(etc, 'ssh', 'ssh_host_ed25519_key'),
        sshdConfig: path.join(etc, 'ssh', 'sshd_config'),
        haproxyConfig: path.join(etc, 'haproxy', 'haproxy.cfg'),
        provisioned: path.join(hostDir, 'provisioned'),
      };
    },
    pidFile: (proc: string) => path.join(dir, 'run', `${proc}.pid`),
    logFile: (proc: string) => path.join(dir, 'log', `${proc}.log`),
    /** Pulumi stack config at the repo root; only the default lab writes it. */
    pulumiStack: path.join(root, 'Pulumi.lab.yaml'),
  };
}
export type LabPaths = ReturnType<typeof labPaths>;

export function netnsPath(netns: string): string {
  return path.join('/run/netns', netns);
}

/**
 * The lab's helper processes run from the compiled tree (dist/lab/*.js) so they start fast. A dist file older than
 * its source would run stale code: refuse it with the command that fixes it.
 */
export function distScript(script: 'app-server' | 'delay-line' | 'load'): string {
  const root = repoRoot();
  const js = path.join(root, 'dist', 'lab', `${script}.js`);
  const ts = path.join(root, 'lab', `${script}.ts`);
  if (!existsSync(js)) throw new KdriftError(`${js} is missing: build with \`npx tsc -p .\` (or bash scripts/setup.sh)`);
  if (existsSync(ts) && statSync(ts).mtimeMs > statSync(js).mtimeMs + 1000) {
    throw new KdriftError(`${js} is older than ${ts}: rebuild with \`npx tsc -p .\``);
  }
  return js;
}
