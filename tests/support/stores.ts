/**
 * The store-backed plan store, journal and idempotency store on a data directory's SQLite store (what src/cli passes
 * to the library), for tests that build engines or runs themselves.
 */

import { SqlIdempotencyStore } from '../../src/store/idempotency.js';
import { openStore } from '../../src/store/index.js';
import { SqlJournal } from '../../src/store/journal.js';
import { SqlPlanStore } from '../../src/store/plans.js';

/** Opens the store of `dataDir` (SQLite) and returns its plans, journal and idempotency keys. */
export async function storesOf(dataDir: string) {
  const store = await openStore({ dataDir });
  return {
    store,
    plans: new SqlPlanStore(store),
    journal: new SqlJournal(store),
    idempotency: new SqlIdempotencyStore(store),
  };
}
