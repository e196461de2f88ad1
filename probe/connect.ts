import net from 'node:net';
import { KdriftError } from '../core/errors.js';

export interface ConnectTarget {
  host: string;
  port: number;
}

/** `HOST:PORT` or `[v6]:PORT`. */
export function parseConnectTarget(raw: string): ConnectTarget {
  const m = /^\[([0-9A-Fa-f:.]+)\]:(\d{1,5})$/.exec(raw) ?? /^([A-Za-z0-9][A-Za-z0-9_.-]*):(\d{1,5})$/.exec(raw);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !(port >= 1 && port <= 65535)) throw new KdriftError(`--connect "${raw}" is not HOST:PORT (e.g. 127.0.0.1:80 or [::1]:80)`);
  return { host: m[1] as string, port };
}

export interface DriveResult {
  target: string;
  attempted: number;
  succeeded: number;
  errors: string[];
}

/**
 * Called with the local port of each test connection before it connects: the probe tags it as its own (kernel map),
 * so a report judges real traffic only.
 */
export type MarkOwn = (localPort: number) => void;

/**
 * Opens `count` TCP connections to the target one after another and closes each once established, so a quiet host
 * still shows the probe a handshake. Failures are recorded, not thrown: "nothing listens there" is evidence too.
 */
export async function driveConnections(t: ConnectTarget, count: number, timeoutMs = 3000, markOwn?: MarkOwn): Promise<DriveResult> {
  const res: DriveResult = { target: t.host.includes(':') ? `[${t.host}]:${t.port}` : `${t.host}:${t.port}`, attempted: 0, succeeded: 0, errors: [] };
  for (let i = 0; i < count; i++) {
    res.attempted++;
    try {
      await connectOwn(t, timeoutMs, markOwn);
      res.succeeded++;
    } catch (err) {
      const msg = (err as Error).message;
      if (!res.errors.includes(msg)) res.errors.push(msg);
    }
  }
  return res;
}

/** A local port chosen here (not by the kernel at connect time) so the probe knows it before the handshake. */
async function connectOwn(t: ConnectTarget, timeoutMs: number, markOwn: MarkOwn | undefined): Promise<void> {
  if (!markOwn) return connectOnce(t, timeoutMs);
  for (let attempt = 0; ; attempt++) {
    const localPort = 20000 + Math.floor(Math.random() * 40000);
    markOwn(localPort);
    try {
      return await connectOnce(t, timeoutMs, localPort);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 20) throw err;
    }
  }
}

function connectOnce(t: ConnectTarget, timeoutMs: number, localPort?: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: t.host, port: t.port, ...(localPort !== undefined ? { localPort } : {}) });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`connect to ${t.host}:${t.port} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.end();
      sock.once('close', () => resolve());
      sock.resume();
    });
    sock.once('error', (err) => {
      clearTimeout(timer);
      sock.destroy();
      reject(err);
    });
  });
}
