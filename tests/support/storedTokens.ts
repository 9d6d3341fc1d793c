/**
 * Writes OAuth tokens where child processes of a data directory find them: the store of that directory (SQLite
 * `<dataDir>/b24flow.db`), sealed with its key file `<dataDir>/store-key` — what `b24flow` itself does at install.
 */
import type { PortalTokens } from '../../src/bitrix/auth/tokenStore.js';
import { openStore } from '../../src/store/index.js';
import { loadStoreKey, StoreTokenStore } from '../../src/store/tokens.js';

/**
 * Stores `tokens` in the data directory's store (and closes it again); with `at.url`, in that PostgreSQL store,
 * sealed with `at.storeKey` (base64, what `B24FLOW_STORE_KEY` gives the child processes).
 */
export async function storeTokens(
  dataDir: string,
  tokens: PortalTokens,
  at: { url?: string; storeKey?: string } = {},
): Promise<void> {
  const store = await openStore({ dataDir, ...(at.url ? { url: at.url } : {}) });
  try {
    await new StoreTokenStore(store, await loadStoreKey(dataDir, at.storeKey)).set(tokens.member_id, tokens);
  } finally {
    await store.close();
  }
}
