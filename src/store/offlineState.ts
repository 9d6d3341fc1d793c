/**
 * The offline sync worker's state of one portal in the store ({@link OfflineStateStore} of
 * src/triggers/offlineSync.ts): the process ids holding our `event.offline.get` reservations, failed attempts and
 * dead-lettered rows, as one JSON row `offline-sync:<portal>` of the `settings` table. With `serve` on several
 * processes the portal's passes run one at a time (the `offline-fetch` job), and each pass starts from what the
 * previous one saved, wherever it ran.
 */
import type { OfflineStateStore, OfflineSyncState } from '../triggers/offlineSync.js';
import type { Store } from './db.js';

/** {@link OfflineStateStore} on the store (see module doc). */
export class StoreOfflineState implements OfflineStateStore {
  private readonly name: string;
  constructor(
    private readonly store: Store,
    portal: string,
  ) {
    this.name = `offline-sync:${portal}`;
  }

  async load(): Promise<OfflineSyncState | undefined> {
    const row = await this.store.db
      .selectFrom('settings')
      .select('value')
      .where('name', '=', this.name)
      .executeTakeFirst();
    if (!row) return undefined;
    try {
      return JSON.parse(row.value) as OfflineSyncState;
    } catch {
      return undefined;
    }
  }

  async save(state: OfflineSyncState): Promise<void> {
    const value = JSON.stringify(state);
    const now = Date.now();
    await this.store.db
      .insertInto('settings')
      .values({ name: this.name, value, updated_ms: now })
      .onConflict((oc) => oc.column('name').doUpdateSet({ value, updated_ms: now }))
      .execute();
  }
}
