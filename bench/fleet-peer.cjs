/**
 * bench/fleet-scale.ts's peers that are not kdrift, as a plain CommonJS script (no tsx, no kdrift module loaded: the
 * process costs what the peer costs):
 *   node bench/fleet-peer.cjs ssh2    JOB.json   bare ssh2: one connection + one exec per host, N at once
 *   node bench/fleet-peer.cjs openssh JOB.json   one OpenSSH `ssh host head ...` process per host, N at once
 * JOB.json: { hosts: [{address, port}], user, key, knownHosts, hostKeyBase64, argv, expected, concurrency, ssh2Path }.
 * Every answer is compared with `expected` (the same reads done on this machine), so a failing peer cannot look fast.
 * Prints one JSON line: { ok, failed: [first errors] }.
 */
'use strict';
const { readFileSync } = require('node:fs');
const { spawn } = require('node:child_process');

const [mode, jobFile] = process.argv.slice(2);
const job = JSON.parse(readFileSync(jobFile, 'utf8'));
const { Client } = require(job.ssh2Path);
const privateKey = readFileSync(job.key);
const hostKey = Buffer.from(job.hostKeyBase64, 'base64');
// The command as a shell line: the paths are fixed names without metacharacters (checked by the bench).
const command = job.argv.join(' ');

function viaSsh2(h) {
  return new Promise((resolve, reject) => {
    const c = new Client();
    let out = '';
    c.on('ready', () => {
      c.exec(command, (err, stream) => {
        if (err) return reject(err);
        stream.on('data', (d) => (out += d));
        stream.stderr.resume();
        stream.on('close', () => {
          c.end();
          resolve(out);
        });
      });
    });
    c.on('error', reject);
    c.connect({
      host: h.address,
      port: h.port,
      username: job.user,
      privateKey,
      // the same verification kdrift does: the host's key must be the known one
      hostVerifier: (key) => key.equals(hostKey),
      readyTimeout: 60000,
    });
  });
}

function viaOpenssh(h) {
  return new Promise((resolve, reject) => {
    const child = spawn('ssh', [
      '-F', '/dev/null', '-i', job.key, '-p', String(h.port), '-l', job.user,
      '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${job.knownHosts}`,
      '-o', 'GlobalKnownHostsFile=/dev/null', '-o', 'IdentitiesOnly=yes', '-o', 'ControlMaster=no',
      h.address, command,
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`ssh exit ${code}: ${err.trim()}`))));
  });
}

async function main() {
  const run = mode === 'ssh2' ? viaSsh2 : mode === 'openssh' ? viaOpenssh : null;
  if (!run) throw new Error(`unknown mode ${mode}`);
  const failed = [];
  let ok = 0;
  let next = 0;
  const worker = async () => {
    while (next < job.hosts.length) {
      const h = job.hosts[next++];
      try {
        const out = await run(h);
        if (out === job.expected) ok++;
        else failed.push(`${h.address}:${h.port}: wrong answer ${JSON.stringify(out.slice(0, 60))}`);
      } catch (e) {
        failed.push(`${h.address}:${h.port}: ${e.message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: job.concurrency }, worker));
  process.stdout.write(`${JSON.stringify({ ok, failed: failed.slice(0, 5), failedCount: failed.length })}\n`);
}

main().catch((e) => {
  process.stderr.write(`${e.message}\n`);
  process.exitCode = 1;
});
