/** Inventory validation: each kind of bad input is refused with an error naming the file, the field and what is wrong. */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { KdriftError } from '../../core/errors.js';
import { loadInventory, parseInventory, selectHosts } from '../../core/inventory.js';

const FILE = '/srv/fleet/inventory.yaml';
const host = (h: Record<string, unknown> = {}) => ({ name: 'lb1', address: '10.0.0.1', roles: ['load-balancer'], ...h });
const yaml = (doc: unknown) => JSON.stringify(doc); // JSON is YAML

function refused(fn: () => unknown, ...patterns: RegExp[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof KdriftError, `expected a KdriftError, got ${String(e)}`);
    for (const p of patterns) assert.match(e.message, p);
    return true;
  });
}
async function rejected(p: Promise<unknown>, ...patterns: RegExp[]): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof KdriftError, `expected a KdriftError, got ${String(e)}`);
    for (const pat of patterns) assert.match(e.message, pat);
    return true;
  });
}
const bad = (doc: unknown, ...patterns: RegExp[]) => refused(() => parseInventory(yaml(doc), FILE), new RegExp(`^${FILE.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: `), ...patterns);

describe('inventory validation: each bad input gives its clear error', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'kdrift-inventory-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('a_well_formed_inventory_resolves_relative_paths_against_its_directory_and_fills_defaults', () => {
    const inv = parseInventory(yaml({ hosts: [host()], knownHosts: 'kh', identityFile: 'keys/id', agentCommand: ['kdrift'] }), FILE);
    assert.equal(inv.knownHosts, '/srv/fleet/kh');
    assert.deepEqual(inv.hosts[0], { name: 'lb1', address: '10.0.0.1', port: 22, user: 'root', roles: ['load-balancer'], identityFile: '/srv/fleet/keys/id', agentCommand: ['kdrift'] });
  });
  it('missing_file_is_refused_naming_the_path', () => rejected(loadInventory({ inventory: path.join(dir, 'nope.yaml') }), /nope\.yaml: file not found/));
  it('missing_stack_config_is_refused_naming_the_pulumi_file', () => rejected(loadInventory({ stack: 'ghost', cwd: dir }), /Pulumi\.ghost\.yaml: file not found/));
  it('stack_and_inventory_together_are_refused', () => rejected(loadInventory({ stack: 'lab', inventory: 'x.yaml' }), /either --stack or --inventory, not both/));
  it('neither_stack_nor_inventory_is_refused_saying_how_to_give_hosts', () => rejected(loadInventory({}), /give --stack NAME .* or --inventory FILE/));
  it('stack_name_with_a_path_is_refused', () => rejected(loadInventory({ stack: '../etc/x' }), /stack name "\.\.\/etc\/x" is not valid/));
  it('unreadable_yaml_is_refused', () => refused(() => parseInventory('hosts: [\n  - {name: a', FILE), /inventory\.yaml: not valid YAML/));
  it('empty_host_list_is_refused', () => bad({ hosts: [] }, /hosts: no hosts/));
  it('missing_hosts_is_refused', () => bad({ knownHosts: 'kh' }, /hosts: Required/));
  it('unknown_top_level_field_is_refused_naming_it', () => bad({ hosts: [host()], hostz: [] }, /Unrecognized key.*hostz/));
  it('unknown_host_field_is_refused_naming_host_index_and_field', () => bad({ hosts: [host({ adress: 'x' })] }, /hosts\.0: Unrecognized key.*adress/));
  it('duplicate_host_name_is_refused', () => bad({ hosts: [host(), host({ address: '10.0.0.2' })] }, /hosts\.1\.name: duplicate host name lb1/));
  it('host_name_with_a_slash_is_refused', () => bad({ hosts: [host({ name: 'lb/1' })] }, /hosts\.0\.name: host names are letters/));
  it('address_with_shell_characters_is_refused', () => bad({ hosts: [host({ address: '10.0.0.1;reboot' })] }, /hosts\.0\.address: an address is a host name, IPv4 or IPv6 address/));
  it('port_out_of_range_is_refused', () => bad({ hosts: [host({ port: 70000 })] }, /hosts\.0\.port/));
  it('port_as_a_string_is_refused', () => bad({ hosts: [host({ port: '22' })] }, /hosts\.0\.port: Expected number/));
  it('bad_user_name_is_refused', () => bad({ hosts: [host({ user: 'Root Admin' })] }, /hosts\.0\.user: not a valid user name/));
  it('host_without_roles_is_refused', () => bad({ hosts: [host({ roles: [] })] }, /hosts\.0\.roles: a host needs at least one role/));
  it('role_name_not_lower_case_is_refused', () => bad({ hosts: [host({ roles: ['LB'] })] }, /hosts\.0\.roles\.0/));
  it('empty_agent_command_is_refused', () => bad({ hosts: [host({ agentCommand: [] })] }, /hosts\.0\.agentCommand/));
  it('pulumi_stack_config_without_config_section_is_refused', () => refused(() => parseInventory('encryptionsalt: x\n', '/p/Pulumi.lab.yaml', 'lab'), /Pulumi\.lab\.yaml: no "config:" section/));
  it('pulumi_stack_config_errors_name_the_config_key', () =>
    refused(() => parseInventory(yaml({ config: { 'kdrift:hosts': [host({ port: 0 })] } }), '/p/Pulumi.lab.yaml', 'lab'), /config\.kdrift:hosts\.0\.port/));
  it('pulumi_stack_config_is_read_from_the_kdrift_namespace', async () => {
    await writeFile(path.join(dir, 'Pulumi.t.yaml'), `config:\n  aws:region: x\n  kdrift:hosts:\n    - {name: a, address: 127.0.0.1, roles: [client]}\n  kdrift:knownHosts: kh\n`);
    const inv = await loadInventory({ stack: 't', cwd: dir });
    assert.equal(inv.stack, 't');
    assert.equal(inv.knownHosts, path.join(dir, 'kh'));
    assert.deepEqual(inv.hosts.map((h) => h.name), ['a']);
  });
  it('selecting_an_unknown_host_is_refused_listing_the_hosts', () =>
    refused(() => selectHosts(parseInventory(yaml({ hosts: [host()] }), FILE), { host: 'db1' }), /no host named "db1" \(hosts: lb1\)/));
  it('selecting_a_role_no_host_has_is_refused', () => refused(() => selectHosts(parseInventory(yaml({ hosts: [host()] }), FILE), { role: 'database' }), /no host has role "database"/));
});
