import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  checkHostKey,
  entriesForHost,
  fingerprint,
  hostKeyLookupName,
  indexedEntriesForHost,
  knownHostsFile,
  KnownHostsFile,
  knownKeyTypes,
  parseKnownHosts,
} from '../../core/known-hosts.js';

/** Real keys from ssh-keygen, as `type base64` and as the raw blob a server sends. */
interface TestKey {
  type: string;
  b64: string;
  blob: Buffer;
  pub: string;
}

describe('known-hosts', () => {
  let dir: string;
  let ed1: TestKey;
  let ed2: TestKey;
  let ecdsa: TestKey;
  let rsa: TestKey;

  function keygen(name: string, type: string, bits?: number): TestKey {
    const file = path.join(dir, name);
    execFileSync('ssh-keygen', ['-q', '-t', type, ...(bits ? ['-b', String(bits)] : []), '-N', '', '-C', '', '-f', file]);
    const [t, b64] = readFileSync(`${file}.pub`, 'utf8').trim().split(' ') as [string, string];
    return { type: t, b64, blob: Buffer.from(b64, 'base64'), pub: `${t} ${b64}` };
  }

  /** Writes plain lines, then lets OpenSSH hash them (`ssh-keygen -H`), so the hashing is OpenSSH's, not ours. */
  function hashedFile(name: string, lines: string[]): string {
    const file = path.join(dir, name);
    writeFileSync(file, lines.join('\n') + '\n');
    execFileSync('ssh-keygen', ['-H', '-f', file], { stdio: 'ignore' });
    rmSync(`${file}.old`, { force: true });
    return readFileSync(file, 'utf8');
  }

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'kdrift-kh-'));
    ed1 = keygen('ed1', 'ed25519');
    ed2 = keygen('ed2', 'ed25519');
    ecdsa = keygen('ec', 'ecdsa', 256);
    rsa = keygen('rsa', 'rsa', 2048);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  describe('parsing', () => {
    it('reads ed25519, ecdsa and rsa keys with their line numbers, skipping comments and blanks', () => {
      const text = `# comment\n\nlb ${ed1.pub}\napp1 ${ecdsa.pub} some comment here\napp2 ${rsa.pub}\n`;
      const { entries, problems } = parseKnownHosts(text);
      assert.deepEqual(problems, []);
      assert.deepEqual(
        entries.map((e) => [e.line, e.keyType]),
        [
          [3, 'ssh-ed25519'],
          [4, 'ecdsa-sha2-nistp256'],
          [5, 'ssh-rsa'],
        ],
      );
      assert.ok(entries[0]?.key.equals(ed1.blob));
    });

    it('skips a corrupt line (reported as a problem) and still reads the others', () => {
      const text = `lb ${ed1.type} !!!notbase64\nlb ssh-rsa ${ed1.b64}\nonlyonefield\n@weird lb ${ed1.pub}\napp ${ed2.pub}\n`;
      const { entries, problems } = parseKnownHosts(text);
      assert.deepEqual(entries.map((e) => e.line), [5]);
      assert.deepEqual(problems.map((p) => p.line), [1, 2, 3, 4]);
      assert.match(problems[1]?.message ?? '', /says ssh-rsa but the key is ssh-ed25519/);
    });

    it('tolerates CRLF line endings and tabs between fields', () => {
      const { entries } = parseKnownHosts(`lb\t${ed1.type}\t${ed1.b64}\r\n`);
      assert.equal(entries.length, 1);
      assert.ok(entries[0]?.key.equals(ed1.blob));
    });
  });

  describe('matching host names', () => {
    it('a plain name matches port 22 only; [host]:port matches that port only', () => {
      const { entries } = parseKnownHosts(`lb ${ed1.pub}\n[lb]:2222 ${ed2.pub}\n`);
      assert.equal(checkHostKey(entries, [hostKeyLookupName('lb', 22)], ed1.blob).status, 'ok');
      assert.equal(checkHostKey(entries, [hostKeyLookupName('lb', 2222)], ed2.blob).status, 'ok');
      assert.equal(checkHostKey(entries, [hostKeyLookupName('lb', 2223)], ed1.blob).status, 'unknown');
    });

    it('comma-separated names all match, case-insensitively', () => {
      const { entries } = parseKnownHosts(`lb,10.71.0.10,[10.71.0.10]:2222 ${ed1.pub}\n`);
      for (const n of ['LB', '10.71.0.10', '[10.71.0.10]:2222']) assert.equal(checkHostKey(entries, [n.toLowerCase()], ed1.blob).status, 'ok', n);
    });

    it('wildcards * and ? match; a matching !negation vetoes the line', () => {
      const { entries } = parseKnownHosts(`*.prod.example,!db?.prod.example ${ed1.pub}\n10.71.0.? ${ecdsa.pub}\n`);
      assert.equal(checkHostKey(entries, ['web1.prod.example'], ed1.blob).status, 'ok');
      assert.equal(checkHostKey(entries, ['db1.prod.example'], ed1.blob).status, 'unknown');
      assert.equal(checkHostKey(entries, ['10.71.0.7'], ecdsa.blob).status, 'ok');
      assert.equal(checkHostKey(entries, ['10.71.0.17'], ecdsa.blob).status, 'unknown');
    });

    it('hashed entries written by `ssh-keygen -H` match their names, including [host]:port', () => {
      const text = hashedFile('hashed', [`lb ${ed1.pub}`, `[127.0.0.1]:2222 ${ecdsa.pub}`]);
      // Only the name field is hashed; the key's base64 may contain "lb" by chance, so look at the first field only.
      const names = text.trim().split('\n').map((l) => l.split(' ')[0] ?? '');
      assert.equal(names.length, 2);
      for (const n of names) assert.match(n, /^\|1\|[A-Za-z0-9+/=]+\|[A-Za-z0-9+/=]+$/);
      const { entries, problems } = parseKnownHosts(text);
      assert.deepEqual(problems, []);
      assert.equal(checkHostKey(entries, ['lb'], ed1.blob).status, 'ok');
      assert.equal(checkHostKey(entries, ['[127.0.0.1]:2222'], ecdsa.blob).status, 'ok');
      assert.equal(checkHostKey(entries, ['127.0.0.1'], ecdsa.blob).status, 'unknown');
      assert.equal(checkHostKey(entries, ['lb2'], ed1.blob).status, 'unknown');
    });
  });

  describe('indexed lookup (once per file, for fleets)', () => {
    it('finds exactly the lines entriesForHost finds, in file order: plain, several names, case, wildcard, negation, hashed, markers', () => {
      const hashed = hashedFile('hashed-index', [`lb ${ed1.pub}`, `[10.0.0.1]:2222 ${ecdsa.pub}`]).trim().split('\n');
      const lines = [
        `lb,LB2,[10.0.0.1]:2222 ${ed1.pub}`,
        `*.prod.example,!db?.prod.example ${ed2.pub}`,
        hashed[0] as string,
        `@revoked lb ${ed2.pub}`,
        `@cert-authority lb ${ecdsa.pub}`,
        `10.0.0.? ${ecdsa.pub}`,
        `lb ${rsa.pub}`,
        hashed[1] as string,
        `[10.0.0.1]:2222,web1.prod.example ${ed2.pub}`,
        `lb,lb ${ed1.pub}`,
      ];
      const parsed = parseKnownHosts(`${lines.join('\n')}\n`);
      assert.equal(parsed.problems.length, 0);
      const names = [['lb'], ['lb2'], ['LB'], ['[10.0.0.1]:2222'], ['10.0.0.7'], ['web1.prod.example'], ['db1.prod.example'], ['nowhere'], ['lb', '[10.0.0.1]:2222'], ['web1.prod.example', 'lb']];
      for (const n of names) {
        assert.deepEqual(indexedEntriesForHost(parsed, n).map((e) => e.line), entriesForHost(parsed.entries, n).map((e) => e.line), n.join(' '));
      }
      assert.deepEqual(indexedEntriesForHost(parsed, ['lb']).map((e) => e.line), [1, 3, 4, 7, 10]);
    });
  });

  describe('verdicts', () => {
    it('a different key of the same type for the name is CHANGED, naming the old line', () => {
      const { entries } = parseKnownHosts(`other ${ed2.pub}\nlb ${ed1.pub}\n`);
      const res = checkHostKey(entries, ['lb'], ed2.blob);
      assert.equal(res.status, 'changed');
      assert.equal(res.status === 'changed' && res.entry.line, 2);
    });

    it('a hashed entry with a different key is CHANGED too', () => {
      const { entries } = parseKnownHosts(hashedFile('hashed-changed', [`lb ${ed1.pub}`]));
      assert.equal(checkHostKey(entries, ['lb'], ed2.blob).status, 'changed');
    });

    it('a key whose type is not among the known ones is refused as other-type, not treated as new', () => {
      const { entries } = parseKnownHosts(`lb ${ecdsa.pub}\n`);
      assert.equal(checkHostKey(entries, ['lb'], ed1.blob).status, 'other-type');
    });

    it('one matching key among several for the host is ok', () => {
      const { entries } = parseKnownHosts(`lb ${ecdsa.pub}\nlb ${rsa.pub}\nlb ${ed1.pub}\n`);
      assert.equal(checkHostKey(entries, ['lb'], ed1.blob).status, 'ok');
      assert.deepEqual(knownKeyTypes(entriesForHost(entries, ['lb'])), ['ecdsa-sha2-nistp256', 'ssh-rsa', 'ssh-ed25519']);
    });

    it('@revoked refuses the key even when a plain line also lists it', () => {
      const { entries } = parseKnownHosts(`lb ${ed1.pub}\n@revoked * ${ed1.pub}\n`);
      const res = checkHostKey(entries, ['lb'], ed1.blob);
      assert.equal(res.status, 'revoked');
      assert.equal(res.status === 'revoked' && res.entry.line, 2);
    });

    it('@cert-authority lines never vouch for (or against) a plain host key', () => {
      const { entries } = parseKnownHosts(`@cert-authority lb ${ed1.pub}\n@cert-authority * ${ed2.pub}\n`);
      assert.equal(checkHostKey(entries, ['lb'], ed1.blob).status, 'unknown');
      assert.equal(checkHostKey(entries, ['lb'], ed2.blob).status, 'unknown');
    });

    it('fingerprints match ssh-keygen -l', () => {
      const out = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', path.join(dir, 'ed1.pub')], { encoding: 'utf8' });
      assert.equal(out.split(' ')[1], fingerprint(ed1.blob));
    });
  });

  describe('appending (accept-new)', () => {
    it('a missing file is empty: every key is unknown', async () => {
      const f = new KnownHostsFile(path.join(dir, 'nope', 'known_hosts'));
      assert.equal((await f.check(['lb'], ed1.blob)).status, 'unknown');
    });

    it('records a new key as a plain line that OpenSSH itself finds (ssh-keygen -F), creating the file', async () => {
      const file = path.join(dir, 'sub', 'kh-new');
      const f = new KnownHostsFile(file);
      await f.append('[127.0.0.1]:2022', ed1.blob);
      assert.equal(readFileSync(file, 'utf8'), `[127.0.0.1]:2022 ${ed1.pub}\n`);
      const found = execFileSync('ssh-keygen', ['-F', '[127.0.0.1]:2022', '-f', file], { encoding: 'utf8' });
      assert.match(found, new RegExp(ed1.b64.replace(/[+/]/g, '\\$&')));
      assert.equal((await f.check(['[127.0.0.1]:2022'], ed1.blob)).status, 'ok');
    });

    it('adds the newline a hand-edited file lacks before appending', async () => {
      const file = path.join(dir, 'kh-nonl');
      writeFileSync(file, `lb ${ed1.pub}`);
      await new KnownHostsFile(file).append('app', ed2.blob);
      assert.equal(readFileSync(file, 'utf8'), `lb ${ed1.pub}\napp ${ed2.pub}\n`);
    });

    it('200 concurrent appends to one file give 200 whole lines, and a repeated host is recorded once', async () => {
      const file = path.join(dir, 'kh-many');
      const f = knownHostsFile(file);
      const names = Array.from({ length: 200 }, (_, i) => `[10.71.${i >> 8}.${i & 255}]:22`);
      await Promise.all([...names, ...names.slice(0, 20)].map((n, i) => f.append(n, i % 2 ? ed1.blob : ed2.blob)));
      const text = readFileSync(file, 'utf8');
      const { entries, problems } = parseKnownHosts(text);
      assert.deepEqual(problems, []);
      assert.equal(entries.length, 200);
      assert.deepEqual(new Set(entries.map((e) => (e.hosts.kind === 'patterns' ? e.hosts.patterns[0] : ''))), new Set(names));
    });

    it('sees edits made by others to the file (re-reads when it changes)', async () => {
      const file = path.join(dir, 'kh-edit');
      writeFileSync(file, `lb ${ed1.pub}\n`);
      const f = new KnownHostsFile(file);
      assert.equal((await f.check(['lb'], ed2.blob)).status, 'changed');
      writeFileSync(file, `lb ${ed2.pub}\n# now different size\n`);
      assert.equal((await f.check(['lb'], ed2.blob)).status, 'ok');
    });
  });
});
