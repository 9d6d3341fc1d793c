/**
 * The event side's durable state for the CLI (`serve`, `dlq`, the chat's `/dlq`): the store-backed
 * {@link TriggerStores} of the process's data store (src/cli/dataStore.ts: SQLite in the data dir, or PostgreSQL).
 */
import type { TriggerStores } from '../triggers/service.js';
import type { Settings } from './compose.js';
import { openDataStore } from './dataStore.js';

/**
 * Opens (once per process) the data store and returns the trigger stores on it.
 * @throws Error naming the database (password redacted) when it cannot be opened or migrated
 */
export async function openTriggerStores(s: Settings, o: { offlineName?: string } = {}): Promise<TriggerStores> {
  const store = await openDataStore(s);
  const { triggerStores } = await import('../store/triggers.js');
  return triggerStores(store, o);
}
