/**
 * Sessions kept between runs (`kdrift report --every`): one open connection per host, reused by every rescan, so a
 * rescan costs one exec per host instead of a TCP + SSH handshake. A session that failed is dropped and the next use
 * reconnects; hosts that left the inventory are closed by `retain`.
 */
import type { HostEntry } from '../inventory.js';
import type { HostSession } from '../session.js';
import { openSession, type SessionOptions } from '../sessions.js';

export class KeptSessions {
  private readonly open = new Map<string, Promise<HostSession>>();

  constructor(private readonly options: SessionOptions) {}

  /** The host's kept session, connecting when there is none; `fresh` says whether this call connected. */
  async get(host: HostEntry): Promise<{ session: HostSession; fresh: boolean }> {
    const kept = this.open.get(host.name);
    if (kept) {
      try {
        return { session: await kept, fresh: false };
      } catch {
        // the earlier connect failed: connect again below
      }
    }
    const p = openSession(host, this.options);
    this.open.set(host.name, p);
    try {
      return { session: await p, fresh: true };
    } catch (err) {
      if (this.open.get(host.name) === p) this.open.delete(host.name);
      throw err;
    }
  }

  /** Closes and forgets the host's session (it failed: the next get reconnects). */
  async drop(hostName: string): Promise<void> {
    const p = this.open.get(hostName);
    this.open.delete(hostName);
    await p?.then((s) => s.close()).catch(() => undefined);
  }

  /** Closes sessions of hosts not in `names`. */
  async retain(names: ReadonlySet<string>): Promise<void> {
    await Promise.all([...this.open.keys()].filter((n) => !names.has(n)).map((n) => this.drop(n)));
  }

  get size(): number {
    return this.open.size;
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.open.keys()].map((n) => this.drop(n)));
  }
}
