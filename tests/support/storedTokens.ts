/**
 * Writes OAuth tokens where child processes of a data directory find them: the store of that directory (SQLite
 * `<dataDir>/b24flow.db`), sealed with its key file `<dataDir>/store-key` — what `b24flow` itself does at install.
 */
import type { PortalTokens } from '../../src/bitrix/auth/tokenStore.js';
import { openStore } from '../../src/store/index.js';
import { loadStoreKey, StoreTokenStore } from '../../src/store/tokens.js';

/** Stores `tokens` in the data directory's store (and closes it again). */
export async function storeTokens(dataDir: string, tokens: PortalTokens): Promise<void> {
  const store = await openStore({ dataDir });
  try {
    await new StoreTokenStore(store, await loadStoreKey(dataDir)).set(tokens.member_id, tokens);
  } finally {
    await store.close();
  }
}
