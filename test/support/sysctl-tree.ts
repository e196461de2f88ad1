/** Builds a SysctlTree (core/sysctl-rules) from paths and texts, as the collection would give it. Test helper. */
import path from 'node:path';
import { bytesFromText, type EntryKind, type SysctlEntry, type SysctlTree } from '../../core/sysctl-rules/index.js';

export interface TreeFile {
  path: string;
  content: string;
  /** A symlink's resolved target ('/dev/null' = masked). */
  target?: string;
  kind?: EntryKind;
}

export function treeOf(files: readonly TreeFile[]): SysctlTree {
  const entries: SysctlEntry[] = [];
  let sysctlConf: SysctlEntry | null = null;
  for (const f of files) {
    const kind: EntryKind = f.kind ?? (f.target === '/dev/null' ? 'masked' : 'file');
    const e: SysctlEntry = {
      dir: path.dirname(f.path),
      name: bytesFromText(path.basename(f.path)),
      kind,
      ...(f.target !== undefined ? { target: bytesFromText(f.target) } : {}),
      ...(kind === 'file' ? { content: bytesFromText(f.content), mode: 0o644, uid: 0, gid: 0 } : {}),
    };
    if (f.path === '/etc/sysctl.conf') sysctlConf = e;
    else entries.push(e);
  }
  return { entries, sysctlConf };
}
