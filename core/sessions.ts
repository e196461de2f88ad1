/**
 * Opening HostSessions: the one place that decides local vs SSH, and that turns the CLI's host options into
 * SessionOptions.
 */
import os from 'node:os';
import path from 'node:path';
import { parseDurationMs } from './duration.js';
import { KdriftError } from './errors.js';
import type { HostSession, SessionTarget } from './session.js';
import { LocalSession } from './session-local.js';
import { SshSession } from './session-ssh.js';

export interface SessionOptions {
  /** OpenSSH known_hosts file; default ~/.ssh/known_hosts. */
  knownHostsPath?: string;
  /** Trust and record unknown host keys (StrictHostKeyChecking=accept-new); changed keys are still refused. */
  acceptNewHostKeys?: boolean;
  connectTimeoutMs?: number;
  commandTimeoutMs?: number;
  /** ssh-agent socket; default SSH_AUTH_SOCK. */
  agentSocket?: string;
  /** A private key in memory (never written to disk), used instead of the host's identityFile. */
  privateKey?: Buffer;
}

export function defaultKnownHostsPath(): string {
  return path.join(os.homedir(), '.ssh', 'known_hosts');
}

/** A session for `host`: on this machine when host.local, else one SSH connection (verified, authenticated). */
export async function openSession(host: SessionTarget, opts: SessionOptions = {}): Promise<HostSession> {
  if (host.local) return new LocalSession(host.name, { ...(opts.commandTimeoutMs !== undefined ? { commandTimeoutMs: opts.commandTimeoutMs } : {}) });
  return SshSession.connect(host, {
    knownHostsPath: opts.knownHostsPath ?? defaultKnownHostsPath(),
    ...(opts.acceptNewHostKeys !== undefined ? { acceptNewHostKeys: opts.acceptNewHostKeys } : {}),
    ...(opts.connectTimeoutMs !== undefined ? { connectTimeoutMs: opts.connectTimeoutMs } : {}),
    ...(opts.commandTimeoutMs !== undefined ? { commandTimeoutMs: opts.commandTimeoutMs } : {}),
    ...(opts.agentSocket !== undefined ? { agentSocket: opts.agentSocket } : {}),
    ...(opts.privateKey !== undefined ? { privateKey: opts.privateKey } : {}),
  });
}

/** The subset of cli/args.ts hostOptions values this needs (parseArgs gives string | boolean | undefined). */
export interface HostOptionValues {
  'accept-new-host-keys'?: boolean | string;
  'connect-timeout'?: string | boolean;
  'command-timeout'?: string | boolean;
}

/** --accept-new-host-keys, --connect-timeout, --command-timeout + the inventory's knownHosts → SessionOptions. */
export function sessionOptionsFromArgs(values: HostOptionValues, inventory: { knownHosts?: string | undefined }): SessionOptions {
  const opts: SessionOptions = {
    knownHostsPath: inventory.knownHosts ?? defaultKnownHostsPath(),
    acceptNewHostKeys: values['accept-new-host-keys'] === true,
  };
  const connect = durationOption(values['connect-timeout'], 'connect-timeout');
  if (connect !== undefined) opts.connectTimeoutMs = connect;
  const command = durationOption(values['command-timeout'], 'command-timeout');
  if (command !== undefined) opts.commandTimeoutMs = command;
  return opts;
}

function durationOption(raw: string | boolean | undefined, name: string): number | undefined {
  if (raw === undefined) return undefined;
  const ms = typeof raw === 'string' ? parseDurationMs(raw) : undefined;
  if (ms === undefined || ms <= 0) throw new KdriftError(`--${name} must be a positive duration of at most 24h (e.g. 10s, 500ms, 2m), got "${String(raw)}"`);
  return ms;
}
