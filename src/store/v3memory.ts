/**
 * Which portals have no REST 3.0 route for which methods, kept in the store (table `settings`, one row per portal and
 * method named `rest-v3-missing|<portal>|<method>`), so that the v3 → v2 fallback is learned once per portal for every
 * process and machine on the store, not once per process (issue 13, item 3). Read once when a process opens the store
 * (the client asks synchronously before each call); a fallback found later by another process reaches this one at its
 * next start, and meanwhile costs this process one refused REST 3.0 call per method. Entries are tried again after
 * {@link V3_MEMORY_MS}, so a portal that gains REST 3.0 is used over it within a week.
 * Source: apidocs.bitrix24.com/api-reference/rest-v3.md (a method without a REST 3.0 route answers 404).
 */
import type { V3Memory } from '../bitrix/index.js';
import type { Store } from './db.js';

const PREFIX = 'rest-v3-missing|';
/** An entry older than this is tried again (the portal may have gained REST 3.0 since): 7 days, ms. */
export const V3_MEMORY_MS = 7 * 24 * 3600 * 1000;

/**
 * Loads the store's memory.
 * @param onError told when a new entry cannot be written (the process still remembers it)
 * @throws the store's error when the rows cannot be read
 */
export async function loadV3Memory(store: Store, onError?: (err: unknown) => void): Promise<V3Memory> {
  const rows = await store.db
    .selectFrom('settings')
    .select('name')
    .where('name', 'like', `${PREFIX}%`)
    .where('updated_ms', '>', Date.now() - V3_MEMORY_MS)
    .execute();
  const known = new Set(rows.map((r) => r.name));
  const nameOf = (portal: string, method: string) => `${PREFIX}${portal}|${method.toLowerCase()}`;
  return {
    isV2Only: (portal, method) => known.has(nameOf(portal, method)),
    rememberV2Only: (portal, method) => {
      const name = nameOf(portal, method);
      if (known.has(name)) return;
      known.add(name);
      store.db
        .insertInto('settings')
        .values({ name, value: '1', updated_ms: Date.now() })
        .onConflict((oc) => oc.column('name').doUpdateSet({ updated_ms: Date.now() }))
        .execute()
        .catch((err: unknown) => onError?.(err));
    },
  };
}
