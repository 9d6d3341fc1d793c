/**
 * The store of this process, chosen by configuration: PostgreSQL when `B24FLOW_DATABASE_URL` is set
 * (`postgres://…`), else SQLite in the data directory (`<B24FLOW_DATA_DIR>/b24flow.db`). Opened once, lazily (light
 * commands such as `check` never load the database drivers), migrated on open, closed when the process ends its
 * command (`closeDataStore`).
 */
import type { Store } from '../store/index.js';
import type { Settings } from './compose.js';

let opened: { key: string; store: Promise<Store> } | undefined;

/** The database URL of the settings (`B24FLOW_DATABASE_URL`), or undefined for the embedded SQLite store. */
export function databaseUrlOf(s: Pick<Settings, 'env'>): string | undefined {
  return s.env.B24FLOW_DATABASE_URL?.trim() || undefined;
}

/**
 * The process's store (see module doc).
 * @throws Error naming the database (password redacted) when it cannot be opened or migrated
 */
export function openDataStore(s: Pick<Settings, 'env' | 'dataDir'>): Promise<Store> {
  const url = databaseUrlOf(s);
  const key = url ?? `sqlite:${s.dataDir}`;
  if (opened?.key === key) return opened.store;
  const store = import('../store/index.js').then((m) => m.openStore({ dataDir: s.dataDir, ...(url ? { url } : {}) }));
  opened = { key, store };
  store.catch(() => {
    if (opened?.store === store) opened = undefined;
  });
  return store;
}

/** Closes the process's store if one was opened (idempotent). */
export async function closeDataStore(): Promise<void> {
  const o = opened;
  opened = undefined;
  if (o) await (await o.store.catch(() => undefined))?.close();
}
