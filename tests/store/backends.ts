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
  /** The environment a `b24flow` child process needs to use this database. */
  env(): Promise<Record<string, string>>;
  cleanup(): Promise<void>;
}

/** The backends for a test file (`prefix` names its data dirs). */
export function backends(prefix: string): Backend[] {
  const out: Backend[] = [];
  const dir = testDir(`${prefix}-sqlite-`);
  out.push({
    name: 'sqlite',
    open: () => openStore({ dataDir: dir }),
    env: async () => ({ B24FLOW_DATA_DIR: dir, B24FLOW_DATABASE_URL: '' }),
    cleanup: async () => {},
  });
  if (postgresUrl) {
    let db: ReturnType<typeof freshDatabase> | undefined;
    const pgDir = testDir(`${prefix}-pg-`);
    out.push({
      name: 'postgres',
      open: async () => {
        db ??= freshDatabase();
        return openStore({ dataDir: pgDir, url: (await db).url });
      },
      env: async () => {
        db ??= freshDatabase();
        return { B24FLOW_DATA_DIR: pgDir, B24FLOW_DATABASE_URL: (await db).url };
      },
      cleanup: async () => (await db)?.drop(),
    });
  }
  return out;
}
