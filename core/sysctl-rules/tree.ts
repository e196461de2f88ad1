/**
 * The sysctl.d family of one host as collected (bytes), and the order in which each boot applier reads it.
 *
 * systemd-sysctl (conf_files_list_strv with no flags): every entry whose name ends in `.conf` and does not start with
 * `.`, whatever it is — a regular file, a symlink (followed when opened), a /dev/null link (reads nothing: a mask), a
 * directory (fails to read: contributes nothing, and still hides the same name in later directories), a dangling
 * link (ENOENT, ignored). Per name the first directory wins; names sort bytewise (strcmp).
 * procps `sysctl --system`: every name of at least 5 bytes ending in `.conf` (hidden ones too), first directory wins,
 * sorted bytewise, each path expanded by glob(3) (`*`, `?`, `[`; brace expansion is not modelled); then
 * /etc/sysctl.conf when it is a regular file (after links).
 */
import type { Bytes } from './bytes.js';
import { displayBytes } from './bytes.js';
import { globMatchesPath } from './glob.js';
import { PROCPS_SYSCTL_DIRS, SYSTEMD_SYSCTL_DIRS, SYSCTL_CONF, type Applier } from './paths.js';

/**
 * file: readable content; masked: a link to /dev/null; directory; dangling: a link to nothing; other: a device, fifo or
 * socket (a boot may block on it); unreadable: exists but this session cannot read it (a boot, as root, can).
 */
export type EntryKind = 'file' | 'masked' | 'directory' | 'dangling' | 'other' | 'unreadable';

export interface SysctlEntry {
  /** The directory it was listed in ('/etc' for /etc/sysctl.conf). */
  dir: string;
  name: Bytes;
  kind: EntryKind;
  /** For a symlink: the path it resolves to. */
  target?: Bytes;
  content?: Bytes;
  mode?: number;
  uid?: number;
  gid?: number;
}

export interface SysctlTree {
  /** Entries of every directory in SYSCTL_DIRS (one listing per directory; /lib/sysctl.d left out when it is /usr/lib's). */
  entries: SysctlEntry[];
  /** /etc/sysctl.conf itself; null when absent. */
  sysctlConf: SysctlEntry | null;
}

export function entryPath(e: Pick<SysctlEntry, 'dir' | 'name'>): Bytes {
  return `${e.dir}/${e.name}`;
}

/** file:line-free name of an entry for reports, naming a symlink's target. */
export function describeEntry(e: SysctlEntry): string {
  return `${displayBytes(entryPath(e))}${e.target !== undefined ? ` (-> ${displayBytes(e.target)})` : ''}`;
}

const byBytes = (a: SysctlEntry, b: SysctlEntry) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

function firstPerName(tree: SysctlTree, dirs: readonly string[], accept: (name: Bytes) => boolean): SysctlEntry[] {
  const byName = new Map<Bytes, SysctlEntry>();
  for (const dir of dirs) {
    for (const e of tree.entries) {
      if (e.dir === dir && accept(e.name) && !byName.has(e.name)) byName.set(e.name, e);
    }
  }
  return [...byName.values()].sort(byBytes);
}

/** What an applier reads, in its order. */
export function sourcesOf(tree: SysctlTree, applier: Applier): SysctlEntry[] {
  if (applier === 'systemd-sysctl') return firstPerName(tree, SYSTEMD_SYSCTL_DIRS, (n) => n.endsWith('.conf') && !n.startsWith('.'));
  // Preload() hands each path to glob(3): a name with glob characters reads the names it matches in its directory
  // (bytewise order), or itself when it matches none.
  const files = firstPerName(tree, PROCPS_SYSCTL_DIRS, (n) => n.length >= 5 && n.endsWith('.conf')).flatMap((e) => {
    if (!/[*?[]/.test(e.name)) return [e];
    const matches = tree.entries.filter((o) => o.dir === e.dir && globMatchesPath(e.name, o.name)).sort(byBytes);
    return matches.length > 0 ? matches : [e];
  });
  const conf = tree.sysctlConf;
  if (conf && (conf.kind === 'file' || conf.kind === 'unreadable')) files.push(conf);
  return files;
}

export function isSysctlConf(e: SysctlEntry): boolean {
  return entryPath(e) === SYSCTL_CONF;
}

/**
 * The tree after writing files: an entry whose file (a link's target, else its path) is written reads the new bytes;
 * a written path no entry reads becomes a new entry of its directory.
 */
export function withFileContents(tree: SysctlTree, contents: ReadonlyMap<Bytes, Bytes>): SysctlTree {
  const patch = (e: SysctlEntry): SysctlEntry => {
    const c = contents.get(e.target ?? entryPath(e));
    return c === undefined ? e : { ...e, kind: 'file', content: c };
  };
  const entries = tree.entries.map(patch);
  for (const [p, content] of contents) {
    if (!entries.some((e) => (e.target ?? entryPath(e)) === p || entryPath(e) === p)) {
      const slash = p.lastIndexOf('/');
      entries.push({ dir: p.slice(0, slash), name: p.slice(slash + 1), kind: 'file', content });
    }
  }
  return { entries, sysctlConf: tree.sysctlConf ? patch(tree.sysctlConf) : null };
}
