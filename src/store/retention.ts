/**
 * Retention (`b24flow gc`, and `serve` once a day): deletes what the store no longer needs.
 * - runs finished (any status but `running`; a `running` run whose owner is gone counts as finished) more than
 *   `runsDays` ago, with their steps, step results and writes (foreign keys cascade);
 * - idempotency keys and processed event keys older than `keysDays` (by `at_ms`); a key still `claimed` by a run
 *   is kept while that run runs;
 * - plans used, or past their expiry;
 * - approval requests decided, applied, expired or superseded more than `runsDays` ago, with their decisions.
 * Each table is one statement (or a few, chunked), so that `gc` on a busy store holds no long write lock.
 */
import { ownerGone, type RunOwner } from '../pipeline/index.js';
import type { Store } from './db.js';
import { chunks } from './journal.js';

/** Options of {@link collectGarbage}. */
export interface RetentionOptions {
  /** Finished runs older than this many days are deleted (the CLI: `B24FLOW_RETENTION_DAYS`, default 30). */
  runsDays: number;
  /**
   * Idempotency keys and processed event keys older than this many days are deleted (the CLI:
   * `B24FLOW_KEYS_RETENTION_DAYS`, default 30).
   */
  keysDays: number;
  /** Schedule log rows older than this many days are deleted (the CLI: `B24FLOW_LOG_RETENTION_DAYS`, default 7). */
  logDays?: number;
  /** Now, ms since epoch (default `Date.now()`). */
  now?: number;
}

/** Rows deleted per table. */
export interface GarbageCollected {
  runs: number;
  idempotency: number;
  processed_events: number;
  plans: number;
  schedule_slots: number;
  schedule_log: number;
  limiter: number;
  approvals: number;
}

const DAY_MS = 86_400_000;

/**
 * Deletes what retention allows (see module doc).
 * @returns rows deleted per table (a run's steps, results and writes go with it and are not counted)
 * @throws the database's error
 */
export async function collectGarbage(store: Store, o: RetentionOptions): Promise<GarbageCollected> {
  const now = o.now ?? Date.now();
  const runsBefore = now - Math.max(0, o.runsDays) * DAY_MS;
  const keysBefore = now - Math.max(0, o.keysDays) * DAY_MS;
  const db = store.db;
  const out: GarbageCollected = {
    runs: 0,
    idempotency: 0,
    processed_events: 0,
    plans: 0,
    schedule_slots: 0,
    schedule_log: 0,
    limiter: 0,
    approvals: 0,
  };

  // finished runs: by the time they finished (the start time when an old record has none)
  const finished = await db
    .deleteFrom('runs')
    .where('status', '<>', 'running')
    .where((eb) =>
      eb.or([
        eb('finished_ms', '<', runsBefore),
        eb.and([eb('finished_ms', 'is', null), eb('started_ms', '<', runsBefore)]),
      ]),
    )
    .executeTakeFirst();
  out.runs += Number(finished.numDeletedRows);
  // `running` rows whose owner is gone (interrupted, never resumed) and that started before the cut-off
  const stale = await db
    .selectFrom('runs')
    .select(['run_id', 'owner_json', 'updated_ms'])
    .where('status', '=', 'running')
    .where('updated_ms', '<', runsBefore)
    .execute();
  const gone = stale
    .filter((r) => r.owner_json && ownerGone(JSON.parse(r.owner_json) as RunOwner, Number(r.updated_ms)))
    .map((r) => r.run_id);
  for (const part of chunks(gone))
    out.runs += Number((await db.deleteFrom('runs').where('run_id', 'in', part).executeTakeFirst()).numDeletedRows);

  out.idempotency = Number(
    (
      await db
        .deleteFrom('idempotency')
        .where('at_ms', '<', keysBefore)
        .where((eb) =>
          eb.or([
            eb('state', '=', 'done'),
            // a claim of a run that no longer runs (or has no row)
            eb.not(
              eb.exists(
                eb
                  .selectFrom('runs')
                  .select('runs.run_id')
                  .whereRef('runs.run_id', '=', 'idempotency.holder')
                  .where('runs.status', '=', 'running'),
              ),
            ),
          ]),
        )
        .executeTakeFirst()
    ).numDeletedRows,
  );
  out.processed_events = Number(
    (await db.deleteFrom('processed_events').where('at_ms', '<', keysBefore).executeTakeFirst()).numDeletedRows,
  );
  out.plans = Number(
    (
      await db
        .deleteFrom('plans')
        .where((eb) => eb.or([eb('used_ms', 'is not', null), eb('expires_ms', '<', now)]))
        .executeTakeFirst()
    ).numDeletedRows,
  );
  out.approvals = Number(
    (
      await db
        .deleteFrom('approvals')
        .where('state', 'in', ['applied', 'failed', 'rejected', 'expired', 'superseded'])
        .where('updated_ms', '<', runsBefore)
        .executeTakeFirst()
    ).numDeletedRows,
  );
  // claimed cron slots older than the keys window, except each schedule's newest (its last-fired time, which
  // `missed: catch-up-once` reads)
  out.schedule_slots = Number(
    (
      await db
        .deleteFrom('schedule_slots')
        .where('slot_ms', '<', keysBefore)
        .where((eb) =>
          eb(
            'slot_ms',
            '<',
            eb
              .selectFrom('schedule_slots as newest')
              .select((e) => e.fn.max('newest.slot_ms').as('m'))
              .whereRef('newest.schedule_id', '=', 'schedule_slots.schedule_id'),
          ),
        )
        .executeTakeFirst()
    ).numDeletedRows,
  );
  const logBefore = now - Math.max(0, o.logDays ?? 7) * DAY_MS;
  out.schedule_log = Number(
    (await db.deleteFrom('schedule_log').where('at_ms', '<', logBefore).executeTakeFirst()).numDeletedRows,
  );
  // limiter rows of portals no client used for a week (a sandbox's old ports; a portal's learned limits are stale
  // by then and are learned again)
  out.limiter = Number(
    (
      await db
        .deleteFrom('limiter')
        .where('updated_ms', '<', now - 7 * DAY_MS)
        .executeTakeFirst()
    ).numDeletedRows,
  );
  return out;
}
