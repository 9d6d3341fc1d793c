/**
 * The two backends the store's contract tests run on: SQLite in a fresh data dir, and PostgreSQL (a fresh database
 * on `B24FLOW_TEST_DATABASE_URL`, skipped locally without it). `open()` gives one more handle on the same database
 * (on SQLite the process's one connection, on PostgreSQL a new pool: a second "process").
 */
import { openStore, type Store } from '../../src/store/index.js';
import { freshDatabase, postgresUrl } from '../support/postgres.js';
import { testDir } from '../support/testRoot.js';

/** One backend of the contract tests. */
export interface Backend {
  name: string;
  open(): Promise<Store>;
  cleanup(): Promise<void>;
}

/** The backends for a test file (`prefix` names its data dirs). */
export function backends(prefix: string): Backend[] {
  const out: Backend[] = [];
  const dir = testDir(`${prefix}-sqlite-`);
  out.push({ name: 'sqlite', open: () => openStore({ dataDir: dir }), cleanup: async () => {} });
  if (postgresUrl) {
    let db: ReturnType<typeof freshDatabase> | undefined;
    out.push({
      name: 'postgres',
      open: async () => {
        db ??= freshDatabase();
        return openStore({ dataDir: testDir(`${prefix}-pg-`), url: (await db).url });
      },
      cleanup: async () => (await db)?.drop(),
    });
  }
  return out;
}
