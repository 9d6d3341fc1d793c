/**
 * Writes OAuth tokens where child processes of a data directory find them: the store of that directory (SQLite
 * `<dataDir>/b24flow.db`), sealed with its key file `<dataDir>/store-key` — what `b24flow` itself does at install.
 */
import type { PortalTokens } from '../../src/bitrix/auth/tokenStore.js';
import { openStore } from '../../src/store/index.js';
import { loadStoreKey, StoreTokenStore } from '../../src/store/tokens.js';

/**
 * Stores `tokens` in the data directory's store (and closes it again); with `o.url`, in that PostgreSQL database,
 * sealed with `o.key` (the base64 `B24FLOW_STORE_KEY` the processes get) or the data directory's key file.
 */
export async function storeTokens(
  dataDir: string,
  tokens: PortalTokens,
  o: { url?: string; key?: string } = {},
): Promise<void> {
  const store = await openStore({ dataDir, ...(o.url ? { url: o.url } : {}) });
  try {
    await new StoreTokenStore(store, await loadStoreKey(dataDir, o.key)).set(tokens.member_id, tokens);
  } finally {
    await store.close();
  }
}
