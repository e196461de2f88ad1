/**
 * Opening one SSH connection for a host: credentials (identity file and/or ssh-agent), host key verification against
 * OpenSSH known_hosts (core/known-hosts.ts; accept-new records a key only after the key exchange proved the server
 * holds it), and a connect timeout that names the stage that stalled. Every failure is a HostError saying what failed.
 */
import { createPrivateKey, sign as cryptoSign } from 'node:crypto';
import { stat } from 'node:fs/promises';
import type { AgentAuthMethod, ConnectConfig, ParsedKey, PublicKeyAuthMethod } from 'ssh2';
import { HostError, KdriftError } from './errors.js';
import { lazyRequire } from './lazy-require.js';
import { readInputFileBytes } from './input-file.js';
import type { SessionTarget } from './session.js';
import { blobKeyType, fingerprint, hostKeyLookupName, knownHostsFile, knownKeyTypes, type HostKeyCheck } from './known-hosts.js';
import { DEFAULT_CONNECT_TIMEOUT_MS, formatMs, MAX_TIMER_MS } from './session-defaults.js';

type Ssh2 = typeof import('ssh2');
/** ssh2, loaded on the first connection (see lazy-require.ts). */
const ssh2 = lazyRequire<Ssh2>('ssh2');
export type SshClient = InstanceType<Ssh2['Client']>;

export interface SshConnectOptions {
  /** OpenSSH known_hosts file used to verify (and, with acceptNewHostKeys, record) host keys. */
  knownHostsPath: string;
  acceptNewHostKeys?: boolean;
  /** TCP connect + SSH handshake + authentication must finish within this (default 10 s). */
  connectTimeoutMs?: number;
  /** ssh-agent socket; default SSH_AUTH_SOCK. */
  agentSocket?: string;
  /**
   * A private key held in memory (the Pulumi provider gets it as a secret input and never writes it to disk); used
   * instead of the host's identityFile.
   */
  privateKey?: Buffer;
  /** SSH-level keepalive interval (default 10 s); 3 unanswered in a row close the connection. */
  keepaliveIntervalMs?: number;
}

/** Host key algorithms kdrift offers, strongest first; SHA-1 `ssh-rsa` signatures are left out as OpenSSH 8.8+ does. */
const HOST_KEY_ALGORITHMS = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256'];
const ALGORITHMS_FOR_KEY_TYPE: Record<string, string[]> = { 'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256'] };

/** Host address as OpenSSH prints it: 10.71.0.10:22, [::1]:2222. */
export function displayAddress(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

interface Credentials {
  privateKey?: Buffer;
  /** privateKey parsed once, signing with a key object (see fastSigner). */
  signer?: ParsedKey;
  agent?: string;
  tried: string[];
}

/** Default hash per key type when ssh2 names none (it names one for rsa-sha2-*). */
const DEFAULT_SIGN_HASH: Record<string, string | null> = {
  'ssh-ed25519': null,
  'ecdsa-sha2-nistp256': 'sha256',
  'ecdsa-sha2-nistp384': 'sha384',
  'ecdsa-sha2-nistp521': 'sha512',
  'ssh-rsa': 'sha1',
};

/**
 * ssh2 signs with the key's PEM text, which OpenSSL parses again for every signature (0.7 ms, more than the
 * signature); a fleet run signs once per host with the same key. This copy of the parsed key signs with a key object
 * made once, the same signature bytes.
 */
function fastSigner(parsed: ParsedKey): ParsedKey {
  const pem = parsed.getPrivatePEM();
  const defaultHash = DEFAULT_SIGN_HASH[parsed.type];
  if (!pem || defaultHash === undefined) return parsed;
  const keyObject = createPrivateKey(pem);
  const signer = Object.create(parsed) as ParsedKey;
  // ssh2 expects an Error returned, not thrown (its own sign does so); the typings say Buffer only.
  signer.sign = ((data: Buffer, algo?: string): Buffer | Error => {
    try {
      return cryptoSign(algo || defaultHash, data, keyObject);
    } catch (err) {
      return err as Error;
    }
  }) as ParsedKey['sign'];
  return signer;
}

/** Connects, verifies the host key and authenticates; rejects with a HostError saying which step failed. */
export async function connectSsh(entry: SessionTarget, opts: SshConnectOptions): Promise<SshClient> {
  const where = displayAddress(entry.address, entry.port);
  const creds = await loadCredentials(entry, opts);
  const known = knownHostsFile(opts.knownHostsPath);
  const lookupName = hostKeyLookupName(entry.address, entry.port);
  // The inventory name is also accepted as a known_hosts name (like OpenSSH's HostKeyAlias), so a file written with
  // `lb` or `[lb]:2222` works as well as one written with the address.
  const names = [lookupName, ...(entry.name.toLowerCase() !== entry.address.toLowerCase() ? [hostKeyLookupName(entry.name, entry.port)] : [])];
  const forHost = await known.forHost(names).catch((err: Error) => {
    throw new HostError(entry.name, err.message);
  });
  // Clamped to what a timer holds (a larger delay fires after 1 ms); ssh2's readyTimeout adds 5 s on top.
  const connectTimeoutMs = Math.min(opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS, MAX_TIMER_MS - 5000);

  const client = new (ssh2().Client)();
  let stage: 'tcp' | 'handshake' | 'auth' = 'tcp';
  let keyRefusal: string | undefined;
  let recordKey: Promise<void> | undefined;
  let pendingNewKey: Buffer | undefined;

  const hostVerifier = (key: Buffer, verify: (ok: boolean) => void): void => {
    known.check(names, key).then(
      (check) => {
        if (check.status === 'ok') return verify(true);
        if (check.status === 'unknown' && opts.acceptNewHostKeys) {
          pendingNewKey = key; // recorded after the key exchange proves the server holds the private key
          return verify(true);
        }
        keyRefusal = describeKeyRefusal(entry, where, key, check, known.path);
        verify(false);
      },
      (err: Error) => {
        keyRefusal = `cannot check the host key: ${err.message}`;
        verify(false);
      },
    );
  };

  const preferred = knownKeyTypes(forHost).flatMap((t) => ALGORITHMS_FOR_KEY_TYPE[t] ?? [t]);
  const serverHostKey = [...new Set([...preferred, ...HOST_KEY_ALGORITHMS])];

  const config: ConnectConfig = {
    host: entry.address,
    port: entry.port,
    username: entry.user,
    ...(creds.privateKey && !creds.signer ? { privateKey: creds.privateKey } : {}),
    ...(creds.agent ? { agent: creds.agent } : {}),
    // The key, then the agent: no `none` attempt first (a round trip and a logged failure on every host).
    authHandler: authMethods(entry.user, creds),
    // ssh2's own handshake timer is a backstop only; ours below names the stage that stalled.
    readyTimeout: connectTimeoutMs + 5000,
    keepaliveInterval: opts.keepaliveIntervalMs ?? 10_000,
    keepaliveCountMax: 3,
    hostVerifier,
    // KDRIFT_SSH_DEBUG=1 prints ssh2's protocol trace (for diagnosing a host; never on by default).
    ...(process.env.KDRIFT_SSH_DEBUG ? { debug: (msg: string) => process.stderr.write(`[ssh ${entry.name}] ${msg}\n`) } : {}),
    // ssh2 validates this list; every entry is one it supports.
    algorithms: { serverHostKey: serverHostKey as NonNullable<ConnectConfig['algorithms']>['serverHostKey'] },
  };

  await new Promise<void>((resolve, reject) => {
    let done = false;
    const onConnect = () => (stage = 'handshake');
    const onHandshake = () => {
      stage = 'auth';
      if (pendingNewKey) recordKey = known.append(lookupName, pendingNewKey);
    };
    const onReady = () => {
      if (done) return;
      (recordKey ?? Promise.resolve()).then(() => {
        if (done) return;
        done = true;
        detach();
        resolve();
      }, (err: Error) => fail(`host key accepted but not recorded: ${err.message}`));
    };
    const onError = (err: Error & { level?: string; code?: string }) => fail(keyRefusal ?? describeConnectError(entry, where, err, creds));
    const onClose = () => fail(keyRefusal ?? `connection to ${where} closed during ${stage === 'auth' ? 'authentication' : 'the SSH handshake'}`);
    const detach = () => {
      clearTimeout(timer);
      client.off('connect', onConnect).off('handshake', onHandshake).off('ready', onReady).off('error', onError).off('close', onClose);
    };
    const fail = (message: string) => {
      if (done) return;
      done = true;
      detach();
      client.on('error', () => undefined); // late errors from the torn-down socket
      client.destroy();
      reject(new HostError(entry.name, message));
    };
    const timer = setTimeout(() => {
      const why =
        stage === 'tcp'
          ? `no TCP connection to ${where}`
          : stage === 'handshake'
            ? `TCP connected to ${where} but no SSH handshake (is an SSH server listening there?)`
            : `SSH authentication as ${entry.user} at ${where} did not finish`;
      fail(`connect timeout after ${formatMs(connectTimeoutMs)}: ${why}`);
    }, connectTimeoutMs);
    client.on('connect', onConnect).on('handshake', onHandshake).on('ready', onReady).on('error', onError).on('close', onClose);
    try {
      client.connect(config);
      ignoreHostKeyAnnouncements(client);
    } catch (err) {
      fail(`cannot connect to ${where}: ${(err as Error).message}`);
    }
  });
  return client;
}

function authMethods(username: string, creds: Credentials): (PublicKeyAuthMethod | AgentAuthMethod)[] {
  const key = creds.signer ?? creds.privateKey;
  return [
    ...(key ? [{ type: 'publickey' as const, username, key }] : []),
    ...(creds.agent ? [{ type: 'agent' as const, username, agent: creds.agent }] : []),
  ];
}

/**
 * After authentication OpenSSH announces all its host keys (`hostkeys-00@openssh.com`, no reply wanted); ssh2 answers
 * by asking the server to prove each one (a signature there, a key parse + verify here, one more round trip: per
 * connection) only to emit a 'hostkeys' event kdrift never listens to. kdrift does not update known_hosts from it,
 * so the announcement is dropped. ssh2 1.x internals, checked at run time: without them ssh2 proves as before.
 */
function ignoreHostKeyAnnouncements(client: SshClient): void {
  type GlobalRequest = (p: unknown, name: string, wantReply: boolean, data: unknown) => void;
  const handlers = (client as unknown as { _protocol?: { _handlers?: { GLOBAL_REQUEST?: GlobalRequest } } })._protocol?._handlers;
  const original = handlers?.GLOBAL_REQUEST;
  if (!handlers || typeof original !== 'function') return;
  handlers.GLOBAL_REQUEST = (p, name, wantReply, data) => {
    if (name === 'hostkeys-00@openssh.com' && !wantReply) return;
    original(p, name, wantReply, data);
  };
}

interface Identity {
  raw: Buffer;
  parsed: ReturnType<Ssh2['utils']['parseKey']>;
  signer?: ParsedKey;
}

/**
 * Identity files read and parsed once per content: a fleet run uses one key for a thousand hosts, and parsing it is
 * asymmetric-key work. Keyed by path + (inode, size, mtime), so a replaced key is read again (report --every).
 */
const identities = new Map<string, { sig: string; identity: Promise<Identity> }>();

async function readIdentity(file: string): Promise<Identity> {
  const st = await stat(file);
  const sig = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
  const hit = identities.get(file);
  if (hit?.sig === sig) return hit.identity;
  // Regular files only, at most 1 MiB: a named pipe or a device as identityFile is an error, not a hang.
  const identity = readInputFileBytes(file, file, 1024 * 1024).then((raw): Identity => {
    const parsed = ssh2().utils.parseKey(raw);
    const one = Array.isArray(parsed) ? parsed[0] : parsed;
    return { raw, parsed, ...(one && !(one instanceof Error) ? { signer: fastSigner(one) } : {}) };
  });
  identities.set(file, { sig, identity });
  identity.catch(() => {
    if (identities.get(file)?.identity === identity) identities.delete(file);
  });
  return identity;
}

async function loadCredentials(entry: SessionTarget, opts: SshConnectOptions): Promise<Credentials> {
  const agent = opts.agentSocket ?? process.env.SSH_AUTH_SOCK ?? undefined;
  const tried: string[] = [];
  let privateKey: Buffer | undefined;
  let signer: ParsedKey | undefined;
  let encryptedNote: string | undefined;
  if (opts.privateKey) {
    const parsed = ssh2().utils.parseKey(opts.privateKey);
    if (parsed instanceof Error) {
      throw new HostError(entry.name, `the private key given is not one ssh2 can read${/encrypted|passphrase/i.test(parsed.message) ? ' (it is encrypted; give an unencrypted key or use ssh-agent)' : `: ${parsed.message}`}`);
    }
    privateKey = opts.privateKey;
    const one = Array.isArray(parsed) ? parsed[0] : parsed;
    if (one) signer = fastSigner(one);
    tried.push('the private key given');
  } else if (entry.identityFile) {
    let identity: Identity;
    try {
      identity = await readIdentity(entry.identityFile);
    } catch (err) {
      const why = err instanceof KdriftError ? err.message.replace(`${entry.identityFile}: `, '') : ((err as NodeJS.ErrnoException).code ?? String(err));
      throw new HostError(entry.name, `cannot read identity file ${entry.identityFile}: ${why === 'file not found' || why === 'ENOENT' ? 'no such file' : why}`);
    }
    const { raw, parsed } = identity;
    signer = identity.signer;
    if (parsed instanceof Error) {
      if (/encrypted|passphrase/i.test(parsed.message)) {
        encryptedNote = `identity file ${entry.identityFile} is encrypted and kdrift asks for no passphrase: load it into ssh-agent (ssh-add ${entry.identityFile}) and set SSH_AUTH_SOCK`;
      } else {
        throw new HostError(entry.name, `identity file ${entry.identityFile} is not a private key ssh2 can read: ${parsed.message}`);
      }
    } else {
      privateKey = raw;
      tried.push(`key file ${entry.identityFile}`);
    }
  }
  if (agent) tried.push(`ssh-agent at ${agent}`);
  if (!privateKey && !agent) {
    throw new HostError(entry.name, encryptedNote ?? 'no credentials: the host has no identityFile and no ssh-agent is available (SSH_AUTH_SOCK is not set)');
  }
  if (encryptedNote) tried.push(`(skipped encrypted key file ${entry.identityFile})`);
  return { ...(privateKey ? { privateKey } : {}), ...(signer ? { signer } : {}), ...(agent ? { agent } : {}), tried };
}

function describeConnectError(entry: SessionTarget, where: string, err: Error & { level?: string; code?: string }, creds: Credentials): string {
  switch (err.code) {
    case 'ECONNREFUSED':
      return `connection refused by ${where} (no SSH server listening?)`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `${where} is unreachable (${err.code})`;
    case 'ETIMEDOUT':
      return `TCP connect to ${where} timed out`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot resolve ${entry.address} (${err.code})`;
    case 'ECONNRESET':
      return `connection reset by ${where}`;
    default:
      break;
  }
  if (/connection lost before handshake/i.test(err.message)) {
    return `${where} closed the connection before the SSH handshake (sshd refusing: MaxStartups throttling, or a tcp wrapper / not an SSH server)`;
  }
  if (err.level === 'client-authentication') {
    return `authentication refused for ${entry.user}@${where} (tried ${creds.tried.join(', ')})`;
  }
  if (err.level === 'client-timeout') return `connect timeout: no SSH handshake with ${where}`;
  if (err.level === 'handshake') return `SSH handshake with ${where} failed: ${err.message}`;
  if (/agent/i.test(err.message)) return `ssh-agent failed: ${err.message}`;
  return `cannot connect to ${where}: ${err.message}`;
}

function describeKeyRefusal(entry: SessionTarget, where: string, key: Buffer, check: HostKeyCheck, file: string): string {
  const presented = `${blobKeyType(key) ?? 'key'} ${fingerprint(key)}`;
  const head = `host key for ${entry.name} (${where})`;
  switch (check.status) {
    case 'changed':
      return (
        `${head} CHANGED: ${file} line ${check.entry.line} has ${check.entry.keyType} ${fingerprint(check.entry.key)}, the host presented ` +
        `${presented} — possible man-in-the-middle (or the host was reinstalled); if the new key is expected, remove the old line ` +
        `${check.entry.line} of ${file}`
      );
    case 'revoked':
      return `${head} is REVOKED (${presented}, @revoked at line ${check.entry.line} of ${file}); refusing to connect`;
    case 'other-type':
      return (
        `${head}: the host presented ${presented} but ${file} knows it only with ` +
        `${check.entries.map((e) => `${e.keyType} (line ${e.line})`).join(', ')}, which the host no longer offers — possible ` +
        `man-in-the-middle; if expected, remove those lines of ${file}`
      );
    case 'unknown':
    default:
      return (
        `${head} is unknown (${presented}, not in ${file}); verify the fingerprint and add it, or run with ` +
        `--accept-new-host-keys to record it on first use`
      );
  }
}
