/**
 * OpenSSH known_hosts: parse, verify a presented host key, and record a new one (StrictHostKeyChecking=accept-new).
 *
 * Line format (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT"): `[@marker] hostpatterns keytype base64-key [comment]`.
 *  - hostpatterns: comma-separated; `host` means port 22, `[host]:port` any other port; `*` and `?` wildcards; a
 *    pattern starting with `!` that matches makes the whole line not apply. Or one hashed name `|1|salt|hash` with
 *    hash = HMAC-SHA1(key = salt, data = lookup name), both base64.
 *  - `@revoked`: this key is refused for the hosts it names. `@cert-authority`: a CA for host certificates; kdrift does
 *    not use host certificates, so these lines never vouch for a plain host key.
 * Keys are compared as the raw SSH wire blob (what the server sends in KEX), so no key parsing is needed.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, mkdir, open, stat } from 'node:fs/promises';
import { wildcardMatch } from './glob.js';
import { readInputFileBytes } from './input-file.js';
import path from 'node:path';
import { KdriftError } from './errors.js';

/** A known_hosts file of 100,000 hosts is ~60 MiB; larger is not a known_hosts file kdrift should parse. */
const DEV_NULL = '/dev/null';

export const MAX_KNOWN_HOSTS_BYTES = 64 * 1024 * 1024;

export type KnownHostsMarker = 'revoked' | 'cert-authority';

export type HostMatcher = { kind: 'hashed'; salt: Buffer; hash: Buffer } | { kind: 'patterns'; patterns: string[] };

export interface KnownHostsEntry {
  /** 1-based line number in the file. */
  line: number;
  marker?: KnownHostsMarker;
  hosts: HostMatcher;
  /** Key type from the line (e.g. ssh-ed25519); equals the type inside the blob. */
  keyType: string;
  /** Raw SSH public key blob. */
  key: Buffer;
}

export interface KnownHostsProblem {
  line: number;
  message: string;
}

export interface ParsedKnownHosts {
  entries: KnownHostsEntry[];
  /** Lines that were skipped (OpenSSH skips them too); kept so a caller can mention them. */
  problems: KnownHostsProblem[];
}

export function parseKnownHosts(text: string): ParsedKnownHosts {
  const entries: KnownHostsEntry[] = [];
  const problems: KnownHostsProblem[] = [];
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const line = i + 1;
    const trimmed = raw.replace(/\r$/, '').trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const fields = trimmed.split(/[ \t]+/);
    let marker: KnownHostsMarker | undefined;
    if (fields[0]?.startsWith('@')) {
      const m = fields.shift() as string;
      if (m === '@revoked') marker = 'revoked';
      else if (m === '@cert-authority') marker = 'cert-authority';
      else return void problems.push({ line, message: `unknown marker ${m}` });
    }
    const [hostField, keyType, b64] = fields;
    if (!hostField || !keyType || !b64) return void problems.push({ line, message: 'expected: hostpatterns keytype base64-key' });
    const hosts = parseHostField(hostField);
    if (typeof hosts === 'string') return void problems.push({ line, message: hosts });
    const key = decodeKeyBlob(b64, keyType);
    if (typeof key === 'string') return void problems.push({ line, message: key });
    entries.push({ line, ...(marker ? { marker } : {}), hosts, keyType, key });
  });
  return { entries, problems };
}

function parseHostField(field: string): HostMatcher | string {
  if (field.startsWith('|')) {
    const m = /^\|1\|([A-Za-z0-9+/=]+)\|([A-Za-z0-9+/=]+)$/.exec(field);
    if (!m) return 'hashed host name is not |1|salt|hash';
    const salt = Buffer.from(m[1] as string, 'base64');
    const hash = Buffer.from(m[2] as string, 'base64');
    if (salt.length !== 20 || hash.length !== 20) return 'hashed host name: salt and hash must be 20 bytes (HMAC-SHA1)';
    return { kind: 'hashed', salt, hash };
  }
  const patterns = field.split(',').filter((p) => p !== '');
  if (patterns.length === 0) return 'no host patterns';
  return { kind: 'patterns', patterns: patterns.map((p) => p.toLowerCase()) };
}

/** base64 → blob whose first SSH string is the key type; a mismatch means a corrupt or hand-edited line. */
function decodeKeyBlob(b64: string, keyType: string): Buffer | string {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return 'key is not base64';
  const blob = Buffer.from(b64, 'base64');
  const inner = blobKeyType(blob);
  if (inner === undefined) return 'key blob is truncated';
  if (inner !== keyType) return `key type field says ${keyType} but the key is ${inner}`;
  return blob;
}

/** The key type string at the start of an SSH public key blob (RFC 4253 §6.6). */
export function blobKeyType(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const len = blob.readUInt32BE(0);
  if (len === 0 || len > 64 || blob.length < 4 + len) return undefined;
  return blob.subarray(4, 4 + len).toString('latin1');
}

/** OpenSSH's fingerprint form: SHA256:<base64 without padding>. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** The name OpenSSH looks up: `host` for port 22, `[host]:port` otherwise; lower-cased. */
export function hostKeyLookupName(host: string, port: number): string {
  const h = host.toLowerCase();
  return port === 22 ? h : `[${h}]:${port}`;
}

/** OpenSSH match_pattern: `*` any run of characters, `?` exactly one; the whole name must match. */
export function matchWildcard(name: string, pattern: string): boolean {
  return wildcardMatch(pattern, name);
}

/** OpenSSH match_hostname: a matching negated pattern vetoes the line; otherwise any positive match applies it. */
export function hostMatches(hosts: HostMatcher, name: string): boolean {
  const lname = name.toLowerCase();
  if (hosts.kind === 'hashed') {
    const mac = createHmac('sha1', hosts.salt).update(lname).digest();
    return mac.length === hosts.hash.length && timingSafeEqual(mac, hosts.hash);
  }
  let positive = false;
  for (const p of hosts.patterns) {
    if (p.startsWith('!')) {
      if (matchWildcard(lname, p.slice(1))) return false;
    } else if (!positive && matchWildcard(lname, p)) {
      positive = true;
    }
  }
  return positive;
}

export type HostKeyCheck =
  | { status: 'ok'; entry: KnownHostsEntry }
  | { status: 'unknown' }
  /** An entry names this host with a different key of the same type. */
  | { status: 'changed'; entry: KnownHostsEntry }
  /**
   * The host's only known keys are of other types. OpenSSH would treat this as new; kdrift refuses it even with
   * accept-new, because kdrift asks for the known types first, so a host that no longer offers them is suspicious.
   */
  | { status: 'other-type'; entries: KnownHostsEntry[] }
  | { status: 'revoked'; entry: KnownHostsEntry };

/**
 * The lines that apply to a host known under any of `names` (plain and @revoked; @cert-authority lines never vouch
 * for a plain host key). Hashed lines cost one HMAC per name each, so callers filter once per connection and reuse.
 */
export function entriesForHost(entries: readonly KnownHostsEntry[], names: readonly string[]): KnownHostsEntry[] {
  return entries.filter((e) => e.marker !== 'cert-authority' && names.some((n) => hostMatches(e.hosts, n)));
}

/**
 * entriesForHost through an index built once per parsed file: lines whose patterns are all plain names (no wildcard,
 * no negation: what ssh and ssh-keyscan write) are found by name; hashed, wildcard and negated lines are still tried
 * one by one. Same lines, same (file) order as entriesForHost, which a fleet of 1,000 lines would run 1,000 times.
 */
export function indexedEntriesForHost(parsed: ParsedKnownHosts, names: readonly string[]): KnownHostsEntry[] {
  let index = indexes.get(parsed);
  if (!index) {
    index = { byName: new Map(), scanned: [] };
    for (const e of parsed.entries) {
      if (e.marker === 'cert-authority') continue;
      if (e.hosts.kind === 'patterns' && e.hosts.patterns.every((p) => !/[*?!]/.test(p))) {
        for (const p of new Set(e.hosts.patterns)) index.byName.set(p, [...(index.byName.get(p) ?? []), e]);
      } else index.scanned.push(e);
    }
    indexes.set(parsed, index);
  }
  const found = new Set<KnownHostsEntry>();
  for (const n of names) for (const e of index.byName.get(n.toLowerCase()) ?? []) found.add(e);
  for (const e of entriesForHost(index.scanned, names)) found.add(e);
  return [...found].sort((a, b) => a.line - b.line);
}

const indexes = new WeakMap<ParsedKnownHosts, { byName: Map<string, KnownHostsEntry[]>; scanned: KnownHostsEntry[] }>();

/** The verdict on `key` given the lines that apply to the host (from entriesForHost). */
export function judgeHostKey(forHost: readonly KnownHostsEntry[], key: Buffer): HostKeyCheck {
  const keyType = blobKeyType(key);
  const revoked = forHost.find((e) => e.marker === 'revoked' && e.key.equals(key));
  if (revoked) return { status: 'revoked', entry: revoked };
  const plain = forHost.filter((e) => e.marker === undefined);
  const match = plain.find((e) => e.key.equals(key));
  if (match) return { status: 'ok', entry: match };
  const sameType = plain.find((e) => e.keyType === keyType);
  if (sameType) return { status: 'changed', entry: sameType };
  if (plain.length > 0) return { status: 'other-type', entries: plain };
  return { status: 'unknown' };
}

/** Checks `key` for a host known under any of `names` (lookup names from hostKeyLookupName). */
export function checkHostKey(entries: readonly KnownHostsEntry[], names: readonly string[], key: Buffer): HostKeyCheck {
  return judgeHostKey(entriesForHost(entries, names), key);
}

/** Key types known for a host, in file order: used to ask the server for those host key algorithms first. */
export function knownKeyTypes(forHost: readonly KnownHostsEntry[]): string[] {
  const types: string[] = [];
  for (const e of forHost) if (e.marker === undefined && !types.includes(e.keyType)) types.push(e.keyType);
  return types;
}

export function formatKnownHostsLine(name: string, key: Buffer): string {
  const type = blobKeyType(key);
  if (type === undefined) throw new KdriftError('cannot record a malformed host key');
  return `${name} ${type} ${key.toString('base64')}\n`;
}

/**
 * One known_hosts file. Re-read when it changes on disk (another process or a person edited it), and appended to
 * through one in-process queue so concurrent accept-new connections never interleave or duplicate lines.
 */
export class KnownHostsFile {
  private cache?: { sig: string; parsed: ParsedKnownHosts };
  private appendQueue: Promise<unknown> = Promise.resolve();
  private hostCache?: { parsed: ParsedKnownHosts; byNames: Map<string, KnownHostsEntry[]> };
  /** The load in progress: connections that start together (a fleet run starts 50 at once) share one stat + parse. */
  private loading?: Promise<ParsedKnownHosts>;

  constructor(readonly path: string) {}

  load(): Promise<ParsedKnownHosts> {
    if (!this.loading) {
      const p = this.loadNow();
      this.loading = p;
      const clear = () => {
        if (this.loading === p) this.loading = undefined;
      };
      p.then(clear, clear);
    }
    return this.loading;
  }

  private async loadNow(): Promise<ParsedKnownHosts> {
    // OpenSSH's idiom for "remember nothing" (UserKnownHostsFile=/dev/null): an empty file.
    if (this.path === DEV_NULL) return { entries: [], problems: [] };
    let sig: string;
    try {
      const st = await stat(this.path);
      sig = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { entries: [], problems: [] };
      throw new KdriftError(`cannot read known_hosts: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, this.path);
    }
    if (this.cache?.sig === sig) return this.cache.parsed;
    const text = (await readInputFileBytes(this.path, this.path, MAX_KNOWN_HOSTS_BYTES)).toString('utf8');
    const parsed = parseKnownHosts(text);
    this.cache = { sig, parsed };
    return parsed;
  }

  async check(names: readonly string[], key: Buffer): Promise<HostKeyCheck> {
    return judgeHostKey(await this.forHost(names), key);
  }

  /**
   * entriesForHost over the current file, remembered per name set until the file changes: a connection asks twice
   * (to order host key algorithms, then to verify), and hashed lines make each ask cost one HMAC per line.
   */
  async forHost(names: readonly string[]): Promise<KnownHostsEntry[]> {
    const parsed = await this.load();
    if (this.hostCache?.parsed !== parsed) this.hostCache = { parsed, byNames: new Map() };
    const key = names.join('\n');
    let hit = this.hostCache.byNames.get(key);
    if (!hit) {
      hit = indexedEntriesForHost(parsed, names);
      this.hostCache.byNames.set(key, hit);
    }
    return hit;
  }

  /**
   * --accept-new-host-keys writes only into a known_hosts file: the path (as named, not followed) is absent, or a
   * regular file whose lines are mostly comments, blanks or known_hosts entries. An inventory's `knownHosts:` naming
   * /etc/passwd, or a symlink to anywhere, is refused before a byte is appended.
   */
  private async assertAppendable(): Promise<void> {
    let st;
    try {
      st = await lstat(this.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    const refuse = (why: string) => new KdriftError(`${why}; --accept-new-host-keys appends only to a regular known_hosts file (point knownHosts at one)`, this.path);
    if (st.isSymbolicLink()) throw refuse('is a symlink');
    if (!st.isFile()) throw refuse('is not a regular file');
    // A real known_hosts may hold the odd line kdrift cannot read (a key type it does not know, a hand edit); a file
    // most of whose lines are not known_hosts entries (/etc/passwd, a config) is not one.
    const parsed = parseKnownHosts((await readInputFileBytes(this.path, this.path, MAX_KNOWN_HOSTS_BYTES)).toString('utf8'));
    const bad = parsed.problems[0];
    if (bad && parsed.problems.length >= parsed.entries.length) {
      throw refuse(`${parsed.problems.length} of its ${parsed.problems.length + parsed.entries.length} lines are not known_hosts entries (line ${bad.line}: ${bad.message}), so it is not a known_hosts file`);
    }
  }

  /**
   * Records `key` for `name` unless an entry for it already exists (checked again under the queue, so two connections
   * to the same host record one line). One write(2) on an O_APPEND descriptor: another process appending at the same
   * time (a second kdrift, ssh) cannot interleave with it.
   */
  append(name: string, key: Buffer): Promise<void> {
    const run = async (): Promise<void> => {
      const current = await this.check([name], key);
      if (current.status === 'ok' || this.path === DEV_NULL) return;
      await mkdir(path.dirname(this.path), { recursive: true, mode: 0o700 });
      await this.assertAppendable();
      let line = formatKnownHostsLine(name, key);
      // O_NOFOLLOW: a symlink planted after the check above makes the open fail (ELOOP) instead of writing elsewhere.
      const fh = await open(this.path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK, 0o644);
      try {
        const st = await fh.stat();
        if (!st.isFile()) throw new KdriftError('not a regular file: kdrift records host keys only in a known_hosts file', this.path);
        const { size } = st;
        if (size > 0) {
          // A file whose last line has no newline would otherwise glue our line onto it.
          const last = Buffer.alloc(1);
          const rd = await open(this.path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
          try {
            await rd.read(last, 0, 1, size - 1);
          } finally {
            await rd.close();
          }
          if (last[0] !== 0x0a) line = `\n${line}`;
        }
        await fh.write(line);
        await fh.sync();
      } finally {
        await fh.close();
      }
    };
    const next = this.appendQueue.then(run, run);
    this.appendQueue = next.catch(() => undefined);
    return next.catch((err: unknown) => {
      if (err instanceof KdriftError) throw err;
      throw new KdriftError(`cannot append to known_hosts: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, this.path);
    });
  }
}

const files = new Map<string, KnownHostsFile>();

/** The process-wide KnownHostsFile for a path: every session shares it, so appends queue behind each other. */
export function knownHostsFile(file: string): KnownHostsFile {
  const abs = path.resolve(file);
  let f = files.get(abs);
  if (!f) {
    f = new KnownHostsFile(abs);
    files.set(abs, f);
  }
  return f;
}
