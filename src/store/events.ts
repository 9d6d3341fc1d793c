/**
 * The intake of accepted events (table events) and the offline worker's state (table offline_sync) on the store:
 * the {@link EventStore} and {@link OfflineStateStore} of src/triggers.
 *
 * Leases make the intake safe with several processes (and machines, on PostgreSQL) on one store: a claim is one
 * `UPDATE events SET leased_by = :holder, lease_until_ms = :now + :lease WHERE event_id = :id AND due_ms <= :now AND
 * (leased_by IS NULL OR lease_until_ms < :now)` whose affected-row count says whether this holder won it; settling
 * an event (processed keys recorded, or dead letter written) and removing it is one transaction.
 */
import { randomBytes } from 'node:crypto';
import type { ExpressionBuilder } from 'kysely';
import type { DeadLetter, DeadLetterInfo } from '../triggers/dlq.js';
import type { EventStore, HeldEvent, StoredEvent } from '../triggers/intake.js';
import type { OfflineStateStore, OfflineSyncState } from '../triggers/offlineSync.js';
import type { B24Event } from '../triggers/types.js';
import type { Store } from './db.js';
import { upsertDeadLetter, withKeyRetry } from './dlq.js';
import { insertProcessedKeys } from './processed.js';
import type { EventsTable, StoreSchema } from './schema.js';

let seq = 0;

/** A new event id: time-ordered (base36 ms, a per-process counter) and random, `[a-z0-9-]`. */
function newEventId(now: number): string {
  return `${now.toString(36).padStart(9, '0')}-${(seq++ % 1679616).toString(36).padStart(4, '0')}-${randomBytes(4).toString('hex')}`;
}

function toStored(row: Pick<EventsTable, 'event_id' | 'body_json' | 'attempts' | 'first_seen_ms'>): StoredEvent {
  return {
    id: row.event_id,
    event: JSON.parse(row.body_json) as B24Event,
    attempts: Number(row.attempts) || 0,
    firstSeen: new Date(Number(row.first_seen_ms)).toISOString(),
  };
}

/** The intake on a {@link Store} (see module doc). */
export class StoreEvents implements EventStore {
  constructor(
    private readonly store: Store,
    /** Wall clock, ms (tests). */
    private readonly now: () => number = Date.now,
  ) {}

  async add(event: B24Event, holder: string, leaseMs: number): Promise<StoredEvent> {
    const now = this.now();
    const row: EventsTable = {
      event_id: newEventId(now),
      event_key: event.key,
      body_json: JSON.stringify(event),
      attempts: 0,
      due_ms: now,
      leased_by: holder,
      lease_until_ms: now + leaseMs,
      last_error: null,
      first_seen_ms: now,
    };
    // one autocommit INSERT: committed (WAL on SQLite, durable against a process crash) when it resolves
    await this.store.db.insertInto('events').values(row).execute();
    return toStored(row);
  }

  async claimDue(limit: number, holder: string, leaseMs: number): Promise<StoredEvent[]> {
    if (limit <= 0) return [];
    const now = this.now();
    const free = (t: number) => (eb: ExpressionBuilder<StoreSchema, 'events'>) =>
      eb.or([eb('leased_by', 'is', null), eb('lease_until_ms', '<', t)]);
    // candidates first (a read), then one conditional UPDATE each: the affected-row count decides who won it. A
    // candidate another worker won meanwhile is leased now, so the next read skips it: read again until `limit` are
    // won or none is free (bounded, in case of a storm of claimers).
    const won: string[] = [];
    for (let round = 0; round < 8 && won.length < limit; round++) {
      const candidates = await this.store.db
        .selectFrom('events')
        .select('event_id')
        .where('due_ms', '<=', now)
        .where(free(now))
        .orderBy('due_ms')
        .orderBy('first_seen_ms')
        .limit(limit - won.length)
        .execute();
      if (!candidates.length) break;
      for (const { event_id } of candidates) {
        const r = await this.store.db
          .updateTable('events')
          .set({ leased_by: holder, lease_until_ms: now + leaseMs })
          .where('event_id', '=', event_id)
          .where('due_ms', '<=', now)
          .where(free(now))
          .executeTakeFirst();
        if (Number(r.numUpdatedRows) === 1) won.push(event_id);
      }
    }
    if (!won.length) return [];
    const rows = await this.store.db
      .selectFrom('events')
      .select(['event_id', 'body_json', 'attempts', 'first_seen_ms'])
      .where('event_id', 'in', won)
      .where('leased_by', '=', holder)
      .execute();
    return rows
      .sort((a, b) => Number(a.first_seen_ms) - Number(b.first_seen_ms) || a.event_id.localeCompare(b.event_id))
      .map(toStored);
  }

  async renew(id: string, holder: string, leaseMs: number): Promise<boolean> {
    const r = await this.store.db
      .updateTable('events')
      .set({ lease_until_ms: this.now() + leaseMs })
      .where('event_id', '=', id)
      .where('leased_by', '=', holder)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  async complete(id: string, processedKeys: string[] = []): Promise<void> {
    await this.store.db.transaction().execute(async (trx) => {
      await insertProcessedKeys(trx, processedKeys, this.now());
      await trx.deleteFrom('events').where('event_id', '=', id).execute();
    });
  }

  async fail(id: string, error: string, nextDueMs: number, hold?: { holder: string; leaseMs: number }): Promise<void> {
    await this.store.db
      .updateTable('events')
      .set((eb) => ({
        attempts: eb('attempts', '+', 1),
        last_error: error,
        due_ms: nextDueMs,
        leased_by: hold ? hold.holder : null,
        lease_until_ms: hold ? nextDueMs + hold.leaseMs : null,
      }))
      .where('event_id', '=', id)
      .execute();
  }

  deadLetter(id: string, ev: B24Event, info: DeadLetterInfo): Promise<DeadLetter> {
    return withKeyRetry(() =>
      this.store.db.transaction().execute(async (trx) => {
        const entry = await upsertDeadLetter(trx, this.store, ev, info);
        await trx.deleteFrom('events').where('event_id', '=', id).execute();
        return entry;
      }),
    );
  }

  async release(id: string, holder: string): Promise<void> {
    await this.store.db
      .updateTable('events')
      .set({ leased_by: null, lease_until_ms: null })
      .where('event_id', '=', id)
      .where('leased_by', '=', holder)
      .execute();
  }

  async count(): Promise<number> {
    const r = await this.store.db
      .selectFrom('events')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }

  async list(limit: number): Promise<HeldEvent[]> {
    const rows = await this.store.db
      .selectFrom('events')
      .selectAll()
      .orderBy('first_seen_ms')
      .orderBy('event_id')
      .limit(Math.max(0, limit))
      .execute();
    return rows.map((r) => ({
      ...toStored(r),
      dueMs: Number(r.due_ms),
      leasedBy: r.leased_by,
      leaseUntilMs: r.lease_until_ms === null ? null : Number(r.lease_until_ms),
      lastError: r.last_error,
    }));
  }
}

/**
 * The offline worker's state on a {@link Store}: one row of offline_sync per worker `name` (default `offline`; a
 * deployment with several offline workers gives each its own name).
 */
export class StoreOfflineState implements OfflineStateStore {
  constructor(
    private readonly store: Store,
    private readonly name = 'offline',
  ) {}

  /**
   * The saved state; a worker named per portal that has none yet starts from the unnamed `offline` row that
   * `b24flow migrate` imports from an old data dir (one portal per data dir then), so its reservations are read again.
   */
  async load(): Promise<OfflineSyncState | undefined> {
    const names = this.name === 'offline' ? ['offline'] : [this.name, 'offline'];
    const rows = await this.store.db
      .selectFrom('offline_sync')
      .select(['name', 'state_json'])
      .where('name', 'in', names)
      .execute();
    const row = rows.find((r) => r.name === this.name) ?? rows[0];
    if (!row) return undefined;
    try {
      return JSON.parse(row.state_json) as OfflineSyncState;
    } catch {
      return undefined;
    }
  }

  async save(state: OfflineSyncState): Promise<void> {
    const state_json = JSON.stringify(state);
    const updated_ms = Date.now();
    await this.store.db
      .insertInto('offline_sync')
      .values({ name: this.name, state_json, updated_ms })
      .onConflict((oc) => oc.column('name').doUpdateSet({ state_json, updated_ms }))
      .execute();
  }
}
