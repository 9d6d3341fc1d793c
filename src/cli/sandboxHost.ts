/**
 * One embedded sandbox portal per data directory, shared by every b24flow process that has no portal configured.
 *
 * Why: each process used to start its own in-memory sandbox, so `chat` then `apply` in two processes saw two
 * different portals, and `events bind` while `serve` ran opened a second copy of the same data. Now the first
 * process starts the sandbox (its data persisted in the sandbox directory, `<data dir>/sandbox/` unless
 * `B24FLOW_SANDBOX_DIR` names another) and later processes use that one over HTTP.
 *
 * Mechanism, all in the sandbox directory (directory 0700, files 0600 — they hold the sandbox's credentials):
 * - `host.lock` — who hosts the sandbox: a {@link RunOwner} (host, pid, process start time). Created atomically
 *   with its content (written to a temporary file, then `link()`ed into place, which fails when the name exists),
 *   so of two processes starting at once exactly one becomes the host; the other waits and uses the winner's.
 *   The host holds it until it closes the sandbox; a lock whose owner is gone (dead pid, zombie, or a pid reused by
 *   a newer process; see `ownerGone` in src/pipeline/journal.ts) is stale and removed — by one process at a time,
 *   under `host.lock.break`, so that a remover never deletes a lock someone else has just taken.
 * - `host.json` — where the sandbox answers: base URL, webhook URL, OAuth app credentials, the pacing it was started
 *   with, and the owner again. Written atomically once the sandbox listens. A process uses it only when its owner is
 *   the lock's (live) owner AND the URL answers a cheap probe; else it waits (the host is still starting, or is
 *   closing) until the lock is free or stale, then takes over. Left behind on close: the next host reuses its port
 *   when free, so the URL, webhook code and tokens of a restarted sandbox stay the same.
 * - `clients/<pid>-<n>.json` — one lease per process using the sandbox (written before it looks for the host,
 *   removed on close), so that a closing host knows whether anyone else may be in the middle of a request.
 * - `portal.ndjson` / `portal.lock` — the sandbox's own snapshot and data-dir mark (src/sandbox/portal.ts).
 *
 * A short-lived host (e.g. `b24flow call`) does not wait for the processes using its sandbox to finish: on close it
 * marks `host.json` closing (nobody attaches any more), and when other live processes hold leases it waits until
 * no request is in flight and none came for 200 ms (5 s at most); then it stops, writes its state and releases the
 * lock. A process that uses the sandbox watches the lock and, when the host is gone, starts the sandbox itself from
 * the persisted data on the same port, so its client keeps working (a request refused meanwhile is resent: a
 * refused connection never reached the portal).
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomicSync } from '../lib/atomic.js';
import { RuntimeFailure } from '../lib/failures.js';
import { currentOwner, type RunOwner } from '../pipeline/journal.js';
import {
  type SandboxAddress,
  type SandboxEndpoint,
  type SandboxHandle,
  type SandboxOptions,
  sandboxEndpoint,
  startSandbox,
} from '../sandbox/index.js';
import {
  breakStale,
  existsFile,
  hostGone,
  lockFresh,
  othersUsing,
  readOwner,
  releaseLock,
  removeFile,
  sameOwner,
  takeLock,
  writeLease,
} from './ownerFiles.js';

/** The sandbox settings a client paces by (see `sandboxLimiter` in compose.ts). */
export type SandboxPacing = Pick<SandboxOptions, 'plan' | 'operatingLimit' | 'clockFactor'>;

/** Content of `host.json`. */
export interface HostRecord extends SandboxAddress {
  version: 1;
  owner: RunOwner;
  pacing: SandboxPacing;
  /** set when the host has begun to close: nobody attaches any more, the next process takes over */
  closing?: true;
}

/** The embedded sandbox as one process uses it. */
export interface SharedSandbox {
  /** the sandbox directory (snapshot, lock, host record) */
  dir: string;
  /** the sandbox's URLs, OAuth app and control client */
  endpoint: SandboxEndpoint;
  /** the process that hosts it when this process connected (this one, or another) */
  owner: RunOwner;
  /** true when this process started it */
  hosting: boolean;
  /** what the sandbox was started with, for the client's limiter */
  pacing: SandboxPacing;
  /** stops watching; stops the sandbox when this process hosts it (others take over from the persisted data) */
  close(): Promise<void>;
}

/** Options of {@link openSharedSandbox}. */
export interface SharedSandboxOptions {
  /** the sandbox directory */
  dir: string;
  /** start options when this process starts it (`dataDir` is always `dir`) */
  start: SandboxOptions;
  /** human notices (takeovers) */
  say: (line: string) => void;
  /** how long to wait for a host that is starting or closing, ms (default 20,000) */
  waitMs?: number;
}

const HOST_FILE = 'host.json';
const HOST_LOCK = 'host.lock';
const CLIENTS_DIR = 'clients';
/** a probe answers in a few ms on loopback; a sandbox busy encoding a large snapshot may take longer */
const PROBE_MS = 1500;
/** how long a closing host waits at most for the other processes using its sandbox, ms */
const CLOSE_GRACE_MS = 5000;
/** a process using the sandbox that sent nothing for this long is idle (long-lived, between runs), ms */
const IDLE_MS = 1000;
/** how often a process that uses another's sandbox checks that the host is still there */
const WATCH_MS = 200;

/**
 * Uses the data directory's embedded sandbox: the running one when its host is alive and answers, else starts it
 * (from the persisted data when there is some).
 * @throws RuntimeFailure when a live host does not answer within `waitMs`, or the sandbox cannot start
 */
export async function openSharedSandbox(o: SharedSandboxOptions): Promise<SharedSandbox> {
  mkdirSync(o.dir, { recursive: true, mode: 0o700 });
  // announced before looking for the host, so that a host closing meanwhile either sees it or is seen closing
  const lease = writeLease(join(o.dir, CLIENTS_DIR));
  let first: Hold;
  try {
    first = await acquire(o, undefined, lease);
  } catch (err) {
    removeFile(lease);
    throw err;
  }
  let current = first;
  let watching: Promise<void> | null = null;
  let closed = false;
  const watch = (): void => {
    if (closed || watching || current.hosted) return;
    watching = checkHost()
      .catch((err) => o.say(`b24flow: embedded sandbox: ${err instanceof Error ? err.message : String(err)}`))
      .finally(() => {
        watching = null;
      });
  };
  const checkHost = async (): Promise<void> => {
    const lock = readOwner(join(o.dir, HOST_LOCK));
    if (lock && !hostGone(lock) && sameOwner(lock, current.owner)) return;
    if (lock && !hostGone(lock)) {
      // another process took over (it reuses the port, so the URL usually stays the same); until its record is
      // written it is still starting
      const rec = readRecord(o.dir);
      if (!rec || !sameOwner(rec.owner, lock)) return;
      if (rec.baseUrl !== current.endpoint.baseUrl) movedNotice(rec.baseUrl);
      current = { ...current, owner: rec.owner };
      return;
    }
    // the host is gone: take over on the same port so this process's client keeps its URL
    const next = await acquire(o, portOf(current.endpoint.baseUrl), lease);
    if (closed) {
      await next.close();
      return;
    }
    if (next.endpoint.baseUrl !== current.endpoint.baseUrl) movedNotice(next.endpoint.baseUrl);
    else if (next.hosted)
      o.say(`b24flow: the process hosting the embedded sandbox ended; this process (${process.pid}) hosts it now`);
    const old = current;
    current = next;
    if (old.endpoint !== first.endpoint) await old.endpoint.close();
  };
  const movedNotice = (url: string): void =>
    o.say(`b24flow: the embedded sandbox moved to ${url}; this process still uses ${first.endpoint.baseUrl}`);
  const timer = first.hosted ? null : setInterval(watch, WATCH_MS);
  timer?.unref();
  return {
    dir: o.dir,
    endpoint: first.endpoint,
    owner: first.owner,
    hosting: !!first.hosted,
    pacing: first.pacing,
    close: async () => {
      closed = true;
      if (timer) clearInterval(timer);
      await watching;
      try {
        await current.close();
        if (current.endpoint !== first.endpoint) await first.endpoint.close();
      } finally {
        removeFile(lease);
      }
    },
  };
}

/** One hold on the sandbox: attached to another process's, or hosted here. */
interface Hold {
  endpoint: SandboxEndpoint;
  owner: RunOwner;
  pacing: SandboxPacing;
  hosted?: SandboxHandle;
  close(): Promise<void>;
}

/** Finds the live host and attaches to it, or becomes the host. `port`: the port to start on when free. */
async function acquire(o: SharedSandboxOptions, port: number | undefined, lease: string): Promise<Hold> {
  const lockPath = join(o.dir, HOST_LOCK);
  const deadline = Date.now() + (o.waitMs ?? 20_000);
  for (let round = 0; ; round++) {
    const lock = readOwner(lockPath);
    if (!lock) {
      if (lockFresh(lockPath)) {
        // being written or unreadable for a moment; an unreadable old one is stale
      } else if (existsFile(lockPath)) breakStale(lockPath, null);
      else if (takeLock(lockPath)) return host(o, port ?? portOf(readRecord(o.dir)?.baseUrl), lease);
    } else if (hostGone(lock)) breakStale(lockPath, lock);
    else {
      const rec = readRecord(o.dir);
      if (rec && sameOwner(rec.owner, lock) && !rec.closing) {
        const endpoint = await sandboxEndpoint(rec);
        if (await endpoint.ping(PROBE_MS)) {
          return { endpoint, owner: rec.owner, pacing: rec.pacing, close: () => endpoint.close() };
        }
        await endpoint.close();
      }
      if (Date.now() > deadline)
        throw new RuntimeFailure(
          `the embedded sandbox in ${o.dir} is held by process ${lock.pid} but does not answer; stop that process, or remove ${lockPath} if it is not a b24flow process`,
        );
    }
    // the host is starting or closing: a short pause, growing a little
    await new Promise((r) => setTimeout(r, Math.min(25 * (round + 1), 200)));
  }
}

/**
 * Starts the sandbox here (the lock is ours) and publishes `host.json`; releases the lock when it cannot start.
 * Its close marks the record closing, gives the requests of other processes using it (live leases other than
 * `lease`, this hold's own) a moment to end, stops the sandbox and releases the lock.
 */
async function host(o: SharedSandboxOptions, port: number | undefined, lease: string): Promise<Hold> {
  const lockPath = join(o.dir, HOST_LOCK);
  const opts: SandboxOptions = { ...o.start, dataDir: o.dir };
  let sb: SandboxHandle;
  try {
    try {
      sb = await startSandbox({ ...opts, ...(port ? { port } : {}) });
    } catch (err) {
      // the previous port is taken by now: any free one
      if (!port || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      sb = await startSandbox(opts);
    }
  } catch (err) {
    releaseLock(lockPath);
    throw err;
  }
  const me = currentOwner();
  const pacing: SandboxPacing = {
    ...(opts.plan ? { plan: opts.plan } : {}),
    ...(opts.operatingLimit !== undefined ? { operatingLimit: opts.operatingLimit } : {}),
    ...(opts.clockFactor !== undefined ? { clockFactor: opts.clockFactor } : {}),
  };
  const rec: HostRecord = {
    version: 1,
    owner: me,
    baseUrl: sb.baseUrl,
    webhookUrl: sb.webhookUrl,
    ...(sb.caFile ? { caFile: sb.caFile } : {}),
    oauthApp: {
      clientId: sb.oauthApp.clientId,
      clientSecret: sb.oauthApp.clientSecret,
      memberId: sb.oauthApp.memberId,
      domain: sb.oauthApp.domain,
      applicationToken: sb.oauthApp.applicationToken,
    },
    pacing,
  };
  writeRecord(o.dir, rec);
  return {
    endpoint: sb,
    owner: me,
    pacing,
    hosted: sb,
    close: async () => {
      try {
        writeRecord(o.dir, { ...rec, closing: true });
        const left = await othersDone(o.dir, lease, sb);
        await sb.close({ graceMs: left === null ? 0 : Math.max(left, 500) });
      } finally {
        releaseLock(lockPath);
      }
    },
  };
}

/**
 * Waits (at most {@link CLOSE_GRACE_MS}) while other live processes hold leases and keep using the sandbox (a
 * request within {@link IDLE_MS}): a short-lived command that attached is usually about to send its request or to
 * end. A long-lived one that is idle does not hold the host up; it takes the sandbox over when the host is gone.
 * @returns null when no other process holds a lease, else the ms left of the grace
 */
async function othersDone(dir: string, lease: string, sb: SandboxHandle): Promise<number | null> {
  if (!othersUsing(join(dir, CLIENTS_DIR), lease)) return null;
  const until = Date.now() + CLOSE_GRACE_MS;
  let seen = sb.portal.stats.requests;
  let quietSince = Date.now();
  while (Date.now() < until && othersUsing(join(dir, CLIENTS_DIR), lease)) {
    await new Promise((r) => setTimeout(r, 50));
    if (sb.portal.stats.requests !== seen) {
      seen = sb.portal.stats.requests;
      quietSince = Date.now();
    } else if (Date.now() - quietSince >= IDLE_MS) break;
  }
  return Math.max(0, until - Date.now());
}

function writeRecord(dir: string, rec: HostRecord): void {
  writeFileAtomicSync(join(dir, HOST_FILE), `${JSON.stringify(rec, null, 2)}\n`, 0o600);
}

function readRecord(dir: string): HostRecord | null {
  try {
    const r = JSON.parse(readFileSync(join(dir, HOST_FILE), 'utf8')) as HostRecord;
    return r?.version === 1 && r.owner && typeof r.baseUrl === 'string' ? r : null;
  } catch {
    return null;
  }
}

function portOf(url: string | undefined): number | undefined {
  if (!url) return undefined;
  const p = Number(new URL(url).port);
  return Number.isInteger(p) && p > 0 ? p : undefined;
}
