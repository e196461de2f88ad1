/**
 * bench/ssh-known-hosts.ts — known_hosts cost at fleet size: N hosts, each verified against an N-line file, plain
 * and hashed (`ssh-keygen -H`, so the hashing is OpenSSH's). `npx tsx bench/ssh-known-hosts.ts [--hosts 1000]`
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { checkHostKey, parseKnownHosts } from '../core/known-hosts.js';

const { values } = parseArgs({ options: { hosts: { type: 'string', default: '1000' } } });
const N = Number(values.hosts);
const dir = mkdtempSync(path.join(tmpdir(), 'kdrift-bench-kh-'));
try {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'k')]);
  const pub = readFileSync(path.join(dir, 'k.pub'), 'utf8').split(' ').slice(0, 2).join(' ');
  const blob = Buffer.from(pub.split(' ')[1] as string, 'base64');
  const names = Array.from({ length: N }, (_, i) => `[10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}]:22`);
  const file = path.join(dir, 'known_hosts');
  writeFileSync(file, names.map((n) => `${n} ${pub}\n`).join(''));
  for (const kind of ['plain', 'hashed']) {
    if (kind === 'hashed') execFileSync('ssh-keygen', ['-H', '-f', file], { stdio: 'ignore' });
    const t0 = performance.now();
    const { entries } = parseKnownHosts(readFileSync(file, 'utf8'));
    const t1 = performance.now();
    for (const n of names) if (checkHostKey(entries, [n], blob).status !== 'ok') throw new Error(`${n} not ok`);
    const t2 = performance.now();
    console.log(`${kind.padEnd(6)} ${N} lines: parse ${(t1 - t0).toFixed(1)} ms, verify ${N} hosts ${(t2 - t1).toFixed(0)} ms (${((t2 - t1) / N).toFixed(2)} ms/host)`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
