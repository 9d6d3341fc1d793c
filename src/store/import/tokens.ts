/**
 * One-time import of the old OAuth token file (`<dataDir>/tokens.json`, `{version: 1, portals: {member_id: tokens}}`,
 * written by the removed FileTokenStore) into the store's encrypted `tokens` rows. Idempotent: a portal that already
 * has a row is skipped (the store's record is newer than the file's: refreshes rotate it there), so running it twice
 * imports nothing new. The old file is left in place (the caller says so; delete it once the import is checked — it
 * holds the tokens in clear).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PortalTokens } from '../../bitrix/auth/tokenStore.js';
import type { Store } from '../db.js';
import { loadStoreKey, StoreTokenStore } from '../tokens.js';

/** Options of {@link importTokens}. */
export interface ImportTokensOptions {
  /** The store key (src/cli passes `B24FLOW_STORE_KEY` when set); default `<dataDir>/store-key`, created if missing. */
  key?: Buffer;
  /** The old token file (the former `B24_TOKEN_FILE`); default `<dataDir>/tokens.json`. */
  file?: string;
}

/**
 * Imports the portals of the old token file that the store does not have yet.
 * @returns portals imported, and portals skipped (already in the store, or records without a member_id / tokens)
 * @throws when the file exists but is not JSON; the database's error
 */
export async function importTokens(
  store: Store,
  dataDir: string,
  opts: ImportTokensOptions = {},
): Promise<{ imported: number; skipped: number }> {
  let text: string;
  try {
    text = await readFile(opts.file ?? join(dataDir, 'tokens.json'), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { imported: 0, skipped: 0 };
    throw err;
  }
  const data = JSON.parse(text) as { portals?: Record<string, PortalTokens> };
  const portals = Object.entries(data?.portals ?? {});
  if (!portals.length) return { imported: 0, skipped: 0 };
  const tokens = new StoreTokenStore(store, opts.key ?? (await loadStoreKey(dataDir)));
  const have = new Set((await store.db.selectFrom('tokens').select('member_id').execute()).map((r) => r.member_id));
  let imported = 0;
  let skipped = 0;
  for (const [memberId, t] of portals) {
    if (!memberId || have.has(memberId) || !t?.access_token || !t.refresh_token || t.member_id !== memberId) {
      skipped++;
      continue;
    }
    await tokens.set(memberId, t);
    imported++;
  }
  return { imported, skipped };
}
