import { readFileSync, rmSync } from 'node:fs';
import YAML from 'yaml';
import { writeIfChanged } from './host-root.js';
import { publicKey } from './sshd.js';
import type { LabPaths } from './paths.js';
import type { LabPlan } from './plan.js';

/**
 * What a person or kdrift needs to reach the lab: known_hosts (each host's real key for its address), an OpenSSH
 * client config (`ssh -F <sshConfig> lb`), an inventory YAML, and for the default lab the Pulumi stack config
 * Pulumi.lab.yaml (`--stack lab`).
 */
export function writeClientFiles(plan: LabPlan, paths: LabPaths, opts: { writePulumiStack: boolean }): void {
  const knownHosts = plan.hosts.map((h) => {
    const [type, key] = publicKey(paths.host(h.name).hostKey).split(/\s+/);
    return `${h.address} ${type} ${key}`;
  });
  writeIfChanged(paths.knownHosts, knownHosts.join('\n') + '\n');

  const ssh = [`# kdrift lab ${plan.name}: ssh -F ${paths.sshConfig} lb`];
  for (const h of plan.hosts) {
    ssh.push(
      `Host ${h.name}`,
      `  HostName ${h.address}`,
      '  User root',
      `  IdentityFile ${paths.identityFile}`,
      '  IdentitiesOnly yes',
      `  UserKnownHostsFile ${paths.knownHosts}`,
      '  GlobalKnownHostsFile /dev/null',
      '  StrictHostKeyChecking yes',
      '  LogLevel ERROR',
      '',
    );
  }
  writeIfChanged(paths.sshConfig, ssh.join('\n'));

  // The WAN address too: lb sees the client's connections come from it, and root causes name the client by it.
  const hosts = plan.hosts.map((h) => ({ name: h.name, address: h.address, ...(h.wanAddress ? { addresses: [h.wanAddress] } : {}), port: 22, user: 'root', roles: h.roles }));
  const agentCommand = [process.execPath, `${paths.root}/bin/kdrift.js`];
  writeIfChanged(
    paths.inventoryFile,
    `# kdrift lab ${plan.name} inventory, written by kdrift lab up\n` +
      YAML.stringify({ hosts, knownHosts: paths.knownHosts, identityFile: paths.identityFile, agentCommand }),
  );
  if (opts.writePulumiStack) {
    writeIfChanged(
      paths.pulumiStack,
      `# Pulumi stack config for the embedded lab (written by kdrift lab up; removed by kdrift lab down)\n` +
        YAML.stringify({
          config: {
            'kdrift:hosts': hosts,
            'kdrift:knownHosts': paths.knownHosts,
            'kdrift:identityFile': paths.identityFile,
            'kdrift:agentCommand': agentCommand,
          },
        }),
    );
  }
}

/** Removes Pulumi.lab.yaml only if it is this lab's (it names this lab's known_hosts). */
export function removePulumiStack(paths: LabPaths): void {
  try {
    if (readFileSync(paths.pulumiStack, 'utf8').includes(paths.knownHosts)) rmSync(paths.pulumiStack, { force: true });
  } catch {
    // not there
  }
}
