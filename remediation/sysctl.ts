/**
 * The sysctl remediation kind: runtime values through /proc/sys, persistence in /etc/sysctl.d/90-kdrift.conf, and
 * conflicting sysctl.d lines neutralised (decisions in remediation/sysctl-plan.ts). This file is the I/O around the
 * pure planner: collect (one exec), exact reads (one exec), backups, writes, undo with a byte-for-byte proof.
 */
import type { HostSession } from '../core/session.js';
import { HostError } from '../core/errors.js';
import { sysctlProcPath } from '../core/sysctl-key.js';
import { collectSysctlState } from '../checks/index.js';
import { planSysctlFix, declaredKeys, type KeyDecision } from './sysctl-plan.js';
import { snapshot, isFile, isAbsent, type FileState } from './host-files.js';
import { writeRuntime } from './runtime-write.js';
import { sameSysctlValue } from './target.js';
import { StalePlanError, type KindPlan, type PlanContext, type RemediationKind } from './kind.js';
import type { JournalKindRecord } from './journal.js';

/** Per key, what the plan saw and decided: for printing the plan next to its diff. */
export interface SysctlKeyDetail {
  key: string;
  expected: string;
  target: string;
  runtime: string | null;
  persisted: { value: string; source: string } | null;
  runtimeChanges: boolean;
  persistedChanges: boolean;
  neutralised: { file: string; line: number; text: string }[];
}

export interface SysctlPlan extends KindPlan {
  kind: 'sysctl';
  details: SysctlKeyDetail[];
}

function detailOf(k: KeyDecision): SysctlKeyDetail {
  return {
    key: k.key,
    expected: k.expected,
    target: k.target,
    runtime: k.runtimeFrom,
    persisted: k.persistedFrom,
    runtimeChanges: k.runtimeDrift,
    persistedChanges: k.persistedDrift,
    neutralised: k.neutralise.map((n) => ({ file: n.file, line: n.line, text: n.text })),
  };
}

export const sysctlRemediation: RemediationKind<SysctlPlan> = {
  kind: 'sysctl',

  async plan(session: HostSession, ctx: PlanContext): Promise<SysctlPlan> {
    const declared = declaredKeys(ctx.host, ctx.baseline);
    const keys = [...declared.keys()];
    const state = await collectSysctlState(session, keys);
    const { plan, decisions } = planSysctlFix(
      {
        declared,
        state,
        host: ctx.host.name,
        ...(ctx.includeManual !== undefined ? { includeManual: ctx.includeManual } : {}),
        ...(ctx.onlyKeys ? { onlyKeys: ctx.onlyKeys } : {}),
        ...(ctx.findings ? { findings: ctx.findings } : {}),
      },
      ctx.now ?? new Date(),
    );
    const planned = new Set(plan.keys);
    return { ...plan, kind: 'sysctl', details: decisions.filter((k) => planned.has(k.key)).map(detailOf) };
  },

  async backup(session: HostSession, plan: SysctlPlan): Promise<JournalKindRecord> {
    const procPaths = plan.runtime.map((c) => sysctlProcPath(c.key));
    const snap = await snapshot(session, procPaths, plan.files.map((f) => f.path));
    const runtime = plan.runtime.map((c, i) => {
      const now = snap.runtime.get(procPaths[i] as string) ?? null;
      if (!sameSysctlValue(now, c.from)) throw new StalePlanError(`${c.key} is ${now ?? 'unreadable'} now, the plan was made when it was ${c.from ?? 'unreadable'}`);
      return { key: c.key, before: now, after: c.to };
    });
    const files = plan.files.map((f) => {
      const s = snap.files.get(f.path);
      const after = Buffer.from(f.after, 'utf8').toString('base64');
      if (f.before === null) {
        if (!isAbsent(s)) throw new StalePlanError(`${f.path} exists now; the plan was made when it did not`);
        return { path: f.path, existed: false, after };
      }
      if (!isFile(s)) throw new StalePlanError(`${f.path} is ${describeState(s)} now; the plan was made from a regular file`);
      if (s.bytes.toString('utf8') !== f.before) throw new StalePlanError(`${f.path} changed since the plan was made`);
      return { path: f.path, existed: true, before: s.bytes.toString('base64'), mode: s.mode, uid: s.uid, gid: s.gid, after };
    });
    return { kind: 'sysctl', runtime, files };
  },

  async apply(session: HostSession, plan: SysctlPlan): Promise<void> {
    // Runtime first: a value the kernel refuses stops the fix before any file is touched.
    const failed = await writeRuntime(session, plan.runtime.map((c) => ({ key: c.key, value: c.to })), true);
    if (failed.length > 0) {
      const f = failed[0] as (typeof failed)[number];
      throw new HostError(session.host, `${f.key} = ${f.value}: ${f.error}`);
    }
    for (const f of plan.files) await writeFile(session, f.path, Buffer.from(f.after, 'utf8'), 0o644);
  },

  async undo(session: HostSession, record: JournalKindRecord): Promise<string[]> {
    const problems: string[] = [];
    const procPaths = record.runtime.map((r) => sysctlProcPath(r.key));
    // Only what differs from the backup is touched: an item kdrift never got to change (a failed apply) is left alone,
    // which also keeps an undo working on a read-only directory it could not write in the first place.
    let current: Awaited<ReturnType<typeof snapshot>> | undefined;
    try {
      current = await snapshot(session, procPaths, record.files.map((f) => f.path));
    } catch (err) {
      problems.push(`could not read the current state before undo: ${(err as Error).message}`);
    }
    const writes = record.runtime
      .filter((r, i) => r.before !== null && (!current || !sameSysctlValue(current.runtime.get(procPaths[i] as string) ?? null, r.before)))
      .map((r) => ({ key: r.key, value: r.before as string }));
    try {
      for (const f of await writeRuntime(session, writes, false)) problems.push(`${f.key} could not be set back to ${f.value}: ${f.error}`);
    } catch (err) {
      problems.push((err as Error).message);
    }
    // Files in reverse order of writing; each restored byte for byte, then its mode and owner.
    for (const f of [...record.files].reverse()) {
      const now = current?.files.get(f.path);
      try {
        if (!f.existed) {
          if (current && isAbsent(now)) continue;
          const rm = await session.exec(['rm', '-f', '--', f.path]);
          if (rm.code !== 0) problems.push(`${f.path} (created by kdrift) could not be removed: ${rm.stderr.toString('utf8').trim()}`);
          continue;
        }
        const before = Buffer.from(f.before ?? '', 'base64');
        const bytesOk = current !== undefined && isFile(now) && now.bytes.equals(before);
        const metaOk = bytesOk && isFile(now) && now.mode === f.mode && now.uid === f.uid && now.gid === f.gid;
        if (!bytesOk) await writeFile(session, f.path, before, f.mode ?? 0o644);
        if (!metaOk) {
          const own = await session.exec(['chown', '--', `${f.uid ?? 0}:${f.gid ?? 0}`, f.path]);
          const mod = await session.exec(['chmod', '--', (f.mode ?? 0o644).toString(8), f.path]);
          if (own.code !== 0 || mod.code !== 0) problems.push(`${f.path}: restoring owner/mode failed: ${(own.stderr.toString('utf8') + mod.stderr.toString('utf8')).trim()}`);
        }
      } catch (err) {
        problems.push(`${f.path} could not be restored: ${(err as Error).message}`);
      }
    }
    // Proof: read everything back and compare with the journal.
    try {
      const procPaths = record.runtime.map((r) => sysctlProcPath(r.key));
      const snap = await snapshot(session, procPaths, record.files.map((f) => f.path));
      record.runtime.forEach((r, i) => {
        const now = snap.runtime.get(procPaths[i] as string) ?? null;
        if (r.before !== null && !sameSysctlValue(now, r.before)) problems.push(`${r.key} is ${now ?? 'unreadable'} after undo, was ${r.before}`);
      });
      for (const f of record.files) {
        const s = snap.files.get(f.path);
        if (!f.existed) {
          if (!isAbsent(s)) problems.push(`${f.path} still exists after undo`);
        } else if (!isFile(s)) problems.push(`${f.path} is ${describeState(s)} after undo`);
        else {
          if (!s.bytes.equals(Buffer.from(f.before ?? '', 'base64'))) problems.push(`${f.path} content differs from the backup after undo`);
          if (s.mode !== f.mode || s.uid !== f.uid || s.gid !== f.gid) problems.push(`${f.path} mode/owner ${s.mode.toString(8)} ${s.uid}:${s.gid} differ from the backup ${f.mode?.toString(8)} ${f.uid}:${f.gid}`);
        }
      }
    } catch (err) {
      problems.push(`could not read back the restored state: ${(err as Error).message}`);
    }
    return problems;
  },

  changedSince(session: HostSession, record: JournalKindRecord): Promise<string[]> {
    return journalItemsUntouched(session, record);
  },
};

function describeState(s: FileState | undefined): string {
  if (s === undefined) return 'unknown';
  if ('absent' in s) return 'absent';
  if ('other' in s) return `a ${s.other}`;
  return 'a regular file';
}

/**
 * Atomic write (temp + fsync + rename). A file bind-mounted on its own (containers, the lab's /etc/sysctl.conf) cannot
 * be renamed over (EBUSY, which SFTP reports as a bare failure): when the atomic write fails on a path that is itself a
 * mount point, and only then, the bytes are written in place — the journal holds the backup.
 */
async function writeFile(session: HostSession, path: string, data: Buffer, mode: number): Promise<void> {
  try {
    await session.writeFileAtomic(path, data, { mode });
  } catch (err) {
    const msg = (err as Error).message;
    // Only on failure, so the common path costs no extra exec.
    if (!(await isMountPoint(session, path))) {
      throw new HostError(session.host, `cannot write ${path}: ${msg.replace(/^host [^:]+: /, '')}${await whyNotWritable(session, path)}`);
    }
    // Never through a link (the path was checked when planned; this closes the gap to the write as far as sh can).
    const res = await session.exec(['sh', '-c', '[ -L "$1" ] && { echo "it is a symlink" >&2; exit 1; }; cat > "$1"', 'sh', path], { stdin: data });
    if (res.code !== 0) throw new HostError(session.host, `cannot write ${path} (in place, it is a mount point): ${res.stderr.toString('utf8').trim()}`);
  }
}

/** Is `path` itself a mount point in the session's mount namespace (field 5 of /proc/self/mountinfo)? */
async function isMountPoint(session: HostSession, path: string): Promise<boolean> {
  const res = await session.exec(['awk', '-v', `p=${path}`, '$5 == p { found = 1 } END { exit !found }', '/proc/self/mountinfo']);
  return res.code === 0;
}

/**
 * SFTP reports most failures as a bare "failure" (EIO): ask the host's shell why the directory cannot be written, so
 * the reason says "Read-only file system" or "Permission denied".
 */
async function whyNotWritable(session: HostSession, path: string): Promise<string> {
  // mktemp: an exclusive create (O_EXCL) with an unpredictable name, so a planted file or link is never written.
  const probe = 'd=$(dirname -- "$1"); if t=$(mktemp -p "$d" .kdrift-write-test.XXXXXXXXXX 2>/dev/null); then rm -f -- "$t"; exit 0; fi; mktemp -p "$d" .kdrift-write-test.XXXXXXXXXX 2>&1 | sed "s/^.*: //"; exit 1';
  try {
    const res = await session.exec(['sh', '-c', probe, 'sh', path]);
    const why = res.stdout.toString('utf8').trim();
    return res.code !== 0 && why ? ` (${why}${/permission denied/i.test(why) ? ': kdrift fix needs root on the host' : ''})` : '';
  } catch {
    return '';
  }
}

/** Snapshot states of the journal's items now, to tell "as kdrift left it / as it was" from "changed by someone since". */
export async function journalItemsUntouched(session: HostSession, record: JournalKindRecord): Promise<string[]> {
  const procPaths = record.runtime.map((r) => sysctlProcPath(r.key));
  const snap = await snapshot(session, procPaths, record.files.map((f) => f.path));
  const changed: string[] = [];
  record.runtime.forEach((r, i) => {
    const now = snap.runtime.get(procPaths[i] as string) ?? null;
    if (!sameSysctlValue(now, r.before) && !sameSysctlValue(now, r.after)) changed.push(`${r.key} is ${now ?? 'unreadable'} (kdrift set ${r.after}, it was ${r.before ?? 'unreadable'})`);
  });
  for (const f of record.files) {
    const s = snap.files.get(f.path);
    const after = Buffer.from(f.after, 'base64');
    const asBefore = f.existed ? isFile(s) && s.bytes.equals(Buffer.from(f.before ?? '', 'base64')) : isAbsent(s);
    const asAfter = isFile(s) && s.bytes.equals(after);
    if (!asBefore && !asAfter) changed.push(`${f.path} was changed by someone else since`);
  }
  return changed;
}
