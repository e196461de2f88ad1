/** `kdrift check`: one host of the inventory (--host) or this machine (--local), same report as `kdrift report`. */
import type { Command } from '../main.js';
import { hostOptionsUsage, parseCommandArgs } from '../args.js';
import { KdriftError, UsageError } from '../../core/errors.js';
import { loadInventory, selectHosts } from '../../core/inventory.js';
import { sessionOptionsFromArgs } from '../../core/sessions.js';
import { inventorySelector, localHost, reportOptions, reportOptionsUsage, runReportCommand } from './report.js';

const usage = `Usage: kdrift check --host NAME (--stack NAME | --inventory FILE) [options]
       kdrift check --local --role ROLE [--role ROLE ...] [options]

Checks one host against its roles' declared kernel state: runtime values (/proc/sys) and the values a boot would apply
(the sysctl.d family with systemd-sysctl precedence, naming the file:line responsible).

  --host NAME               the inventory host to check
  --local                   check this machine, without SSH (host name = this machine's hostname)
  --role ROLE               with --local: the roles this machine has (required, repeatable);
                            with --host: must be one of the host's roles (checks only that role's declarations)

${reportOptionsUsage}
${hostOptionsUsage}`;

export const command: Command = {
  usage,
  async run(args) {
    const { values } = parseCommandArgs(args, { ...reportOptions, host: { type: 'string', multiple: true }, local: { type: 'boolean' } });
    const roles = values.role ?? [];
    if (values.local) {
      if (values.host?.length || values.stack || values.inventory) throw new UsageError('--local checks this machine: give no --host, --stack or --inventory');
      if (roles.length === 0) throw new UsageError('--local needs --role ROLE (the roles this machine has)');
      const host = localHost(roles);
      return runReportCommand({ values, hosts: [host], inventory: undefined, sessionOptions: sessionOptionsFromArgs(values, {}) });
    }
    if (!values.host?.length) throw new UsageError('give --host NAME (one inventory host) or --local (this machine)');
    if (values.host.length > 1) throw new UsageError('kdrift check takes one --host; use kdrift report --host A --host B for several');
    const inventory = await loadInventory({ ...(values.stack ? { stack: values.stack } : {}), ...(values.inventory ? { inventory: values.inventory } : {}) });
    let [host] = selectHosts(inventory, { host: values.host[0] as string });
    if (!host) throw new KdriftError(`no host named "${values.host[0]}"`, inventory.source);
    if (roles.length > 0) {
      const missing = roles.filter((r) => !host?.roles.includes(r));
      if (missing.length > 0) throw new KdriftError(`host ${host.name} has no role ${missing.join(', ')} (roles: ${host.roles.join(', ')})`, inventory.source);
      host = { ...host, roles };
    }
    return runReportCommand({ values, hosts: [host], inventory, sessionOptions: sessionOptionsFromArgs(values, inventory), selector: inventorySelector(values) });
  },
};
