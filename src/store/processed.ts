/**
 * Processed-event keys on the store (table processed_events): the {@link ProcessedKeys} of src/triggers. `add` is an
 * insert … on conflict do nothing, so of many processes recording one key at once exactly one is told it recorded
 * it. Old keys are removed by the store's garbage collection (`at_ms`, `retention:`).
 */
import type { Kysely, Transaction } from 'kysely';
import type { ProcessedKeys } from '../triggers/processed.js';
import type { Store } from './db.js';
import type { StoreSchema } from './schema.js';

/** Records processed keys in `db` (insert … on conflict do nothing); resolves to how many were new. */
export async function insertProcessedKeys(
  db: Kysely<StoreSchema> | Transaction<StoreSchema>,
  keys: string[],
  atMs = Date.now(),
): Promise<number> {
  if (!keys.length) return 0;
  const r = await db
    .insertInto('processed_events')
    .values(keys.map((event_key) => ({ event_key, at_ms: atMs })))
    .onConflict((oc) => oc.column('event_key').doNothing())
    .executeTakeFirst();
  return Number(r.numInsertedOrUpdatedRows ?? 0);
}

/** Processed keys on a {@link Store} (see module doc). */
export class StoreProcessedKeys implements ProcessedKeys {
  constructor(private readonly store: Store) {}

  async has(key: string): Promise<boolean> {
    const row = await this.store.db
      .selectFrom('processed_events')
      .select('event_key')
      .where('event_key', '=', key)
      .executeTakeFirst();
    return row !== undefined;
  }

  async hasAny(keys: string[]): Promise<boolean> {
    if (!keys.length) return false;
    const row = await this.store.db
      .selectFrom('processed_events')
      .select('event_key')
      .where('event_key', 'in', keys)
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  }

  async add(key: string): Promise<boolean> {
    return (await insertProcessedKeys(this.store.db, [key])) === 1;
  }
}
