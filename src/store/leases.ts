/**
 * Named leases in the store (table `leases`): one holder at a time per name, for a bounded time the holder renews.
 * `b24flow serve` on the embedded SQLite store takes the lease `serve`, so a second `serve` on the same data
 * directory refuses to start (naming the first one's pid and host); when the holder dies without releasing (SIGKILL,
 * power loss) the lease expires after its time-to-live and the next `serve` takes it over.
 *
 * A holder on this host whose pid no longer exists is known dead at once (the SQLite store is a local file, so its
 * holder is nearly always on this host): {@link acquireLease} takes its lease over without waiting for the expiry.
 *
 * Acquire and renew are one upsert: insert the row, or update it only when it is ours or expired (`on conflict …
 * do update … where`), so two processes racing for an expired lease cannot both win: the database serialises the
 * two statements and the second one's `where` no longer matches.
 */
import { hostname } from 'node:os';
import type { Store } from './db.js';

/** Who holds a lease: `pid`, `host`, and a random tag (a reused pid is not the same holder). */
export interface LeaseHolder {
  pid: number;
  host: string;
  tag: string;
}

/** The holder of this process, with a fresh tag. */
export function thisProcessHolder(): LeaseHolder {
  return { pid: process.pid, host: hostname(), tag: Math.random().toString(36).slice(2, 10) };
}

/** True when `h` is a process of this host that no longer exists (a pid reused since reads as alive: safe side). */
function deadHere(h: LeaseHolder | undefined): boolean {
  if (!h || h.host !== hostname() || h.pid === process.pid) return false;
  try {
    process.kill(h.pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** Result of {@link acquireLease}: taken, or held by someone else until `untilMs`. */
export type LeaseResult = { ok: true } | { ok: false; holder: LeaseHolder | undefined; untilMs: number };

/**
 * Takes (or renews) the lease `name` for `ttlMs` from now, when it is free, expired or already ours.
 * @throws the database's error
 */
export async function acquireLease(store: Store, name: string, me: LeaseHolder, ttlMs: number): Promise<LeaseResult> {
  const now = Date.now();
  const holder = JSON.stringify(me);
  const r = await store.db
    .insertInto('leases')
    .values({ name, holder, until_ms: now + ttlMs })
    .onConflict((oc) =>
      oc
        .column('name')
        .doUpdateSet({ holder, until_ms: now + ttlMs })
        .where((eb) => eb.or([eb('leases.holder', '=', holder), eb('leases.until_ms', '<', now)])),
    )
    .executeTakeFirst();
  if (Number(r.numInsertedOrUpdatedRows ?? 0n) > 0) return { ok: true };
  const row = await store.db
    .selectFrom('leases')
    .select(['holder', 'until_ms'])
    .where('name', '=', name)
    .executeTakeFirst();
  let other: LeaseHolder | undefined;
  try {
    other = row ? (JSON.parse(row.holder) as LeaseHolder) : undefined;
  } catch {}
  if (row && deadHere(other)) {
    // compare-and-swap on the dead holder: of two successors racing, one wins
    const took = await store.db
      .updateTable('leases')
      .set({ holder, until_ms: now + ttlMs })
      .where('name', '=', name)
      .where('holder', '=', row.holder)
      .executeTakeFirst();
    if (Number(took.numUpdatedRows ?? 0n) > 0) return { ok: true };
    return acquireLease(store, name, me, ttlMs);
  }
  return { ok: false, holder: other, untilMs: row?.until_ms ?? now };
}

/** Gives the lease up (only when it is ours). */
export async function releaseLease(store: Store, name: string, me: LeaseHolder): Promise<void> {
  await store.db.deleteFrom('leases').where('name', '=', name).where('holder', '=', JSON.stringify(me)).execute();
}

/** A held lease renewed in the background every third of its time-to-live. */
export interface HeldLease {
  /** Stops renewing and releases the lease. */
  release(): Promise<void>;
}

/**
 * Holds a lease taken with {@link acquireLease}: renews it every `ttlMs / 3`; when a renewal finds it taken by another
 * holder (this process stalled longer than the time-to-live), `onLost` is called once and renewing stops.
 */
export function keepLease(
  store: Store,
  name: string,
  me: LeaseHolder,
  ttlMs: number,
  onLost: (reason: string) => void,
): HeldLease {
  let stopped = false;
  const timer = setInterval(
    () => {
      acquireLease(store, name, me, ttlMs)
        .then((r) => {
          if (!r.ok && !stopped) {
            stopped = true;
            clearInterval(timer);
            onLost(`the lease was taken over by pid ${r.holder?.pid ?? '?'} on ${r.holder?.host ?? '?'}`);
          }
        })
        // a failed renewal (database busy) is retried at the next interval; the lease outlives two misses
        .catch(() => {});
    },
    Math.max(50, Math.floor(ttlMs / 3)),
  );
  timer.unref?.();
  return {
    async release() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      await releaseLease(store, name, me).catch(() => {});
    },
  };
}
