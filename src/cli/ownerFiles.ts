/**
 * Owner files of the shared embedded sandbox (src/cli/sandboxHost.ts): a lock that names the process holding it
 * (created atomically, broken only when its owner is gone, one breaker at a time) and leases, one per process using
 * the sandbox. An owner is a {@link RunOwner} — host name, pid and process start time — checked like the journal
 * checks the owner of a running run (`ownerGone` in src/pipeline/journal.ts), plus zombies.
 */
import { linkSync, mkdirSync, readdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { currentOwner, ownerGone, type RunOwner } from '../pipeline/journal.js';

/** Creates the lock with this process as owner, atomically with its content; false when it exists. */
export function takeLock(lockPath: string): boolean {
  return linkNew(lockPath, JSON.stringify(currentOwner()));
}

/** Writes `content` to a temporary file and links it to `path`: all or nothing, and only when `path` is absent. */
function linkNew(path: string, content: string): boolean {
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  writeFileSync(tmp, content, { mode: 0o600 });
  try {
    linkSync(tmp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    try {
      unlinkSync(tmp);
    } catch {}
  }
}

/** Removes the lock when it is still ours. */
export function releaseLock(lockPath: string): void {
  const lock = readOwner(lockPath);
  if (lock && sameOwner(lock, currentOwner())) {
    try {
      unlinkSync(lockPath);
    } catch {}
  }
}

/**
 * Removes a stale lock (`seen`: the owner read from it, null for an unreadable one), one remover at a time: the
 * remover holds `<lock>.break` and removes the lock only when it still names `seen`. A break lock left by a
 * crashed remover is old after a few seconds and removed.
 */
export function breakStale(lockPath: string, seen: RunOwner | null): void {
  const breakPath = `${lockPath}.break`;
  if (!linkNew(breakPath, JSON.stringify(currentOwner()))) {
    if (!lockFresh(breakPath, 5000)) {
      try {
        unlinkSync(breakPath);
      } catch {}
    }
    return;
  }
  try {
    const now = readOwner(lockPath);
    const same = seen ? now !== null && sameOwner(now, seen) : now === null && existsFile(lockPath);
    if (same) unlinkSync(lockPath);
  } catch {
  } finally {
    try {
      unlinkSync(breakPath);
    } catch {}
  }
}

let leaseSeq = 0;

/**
 * Announces that this process uses (or is about to use) a shared resource: `<clients>/<pid>-<n>.json` holding its
 * owner; the caller removes it when done. Leases of processes that are gone are ignored and removed.
 * @returns the lease's path
 */
export function writeLease(clients: string): string {
  mkdirSync(clients, { recursive: true, mode: 0o700 });
  const path = join(clients, `${process.pid}-${++leaseSeq}.json`);
  writeFileSync(path, JSON.stringify(currentOwner()), { mode: 0o600 });
  return path;
}

/** Whether a live process other than the holder of `own` has a lease in `clients`. */
export function othersUsing(clients: string, own: string): boolean {
  let names: string[];
  try {
    names = readdirSync(clients);
  } catch {
    return false;
  }
  let others = false;
  for (const n of names) {
    const path = join(clients, n);
    if (path === own || !n.endsWith('.json')) continue;
    const owner = readOwner(path);
    if (owner && !hostGone(owner)) others = true;
    else if (owner) removeFile(path);
  }
  return others;
}

/** Removes a file; absent is fine. */
export function removeFile(path: string): void {
  try {
    unlinkSync(path);
  } catch {}
}

/** The owner a lock or lease file names, or null when absent or unreadable. */
export function readOwner(path: string): RunOwner | null {
  try {
    const o = JSON.parse(readFileSync(path, 'utf8')) as RunOwner;
    return typeof o?.pid === 'number' && typeof o.host === 'string' ? o : null;
  } catch {
    return null;
  }
}

/** Whether a file (or anything) exists at `path`. */
export function existsFile(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Whether the file exists and changed within `ms` (default 2 s). */
export function lockFresh(path: string, ms = 2000): boolean {
  try {
    return Date.now() - statSync(path).mtimeMs < ms;
  } catch {
    return false;
  }
}

/**
 * Whether the process a lock or lease names is gone: `ownerGone` (src/pipeline/journal.ts), or a zombie (ended,
 * not yet reaped by its parent: it still has a pid but serves nothing).
 */
export function hostGone(owner: RunOwner): boolean {
  if (ownerGone(owner)) return true;
  if (owner.host !== hostname()) return false;
  try {
    const stat = readFileSync(`/proc/${owner.pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return false;
  }
}

/** Same host, pid and process start time. */
export function sameOwner(a: RunOwner, b: RunOwner): boolean {
  return a.host === b.host && a.pid === b.pid && a.start === b.start;
}
