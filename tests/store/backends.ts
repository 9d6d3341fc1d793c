/**
 * The two backends every contract test of the store runs on: SQLite in a fresh data dir, and PostgreSQL (a fresh
 * database on `B24FLOW_TEST_DATABASE_URL`, skipped locally without it). `open()` gives one more handle on the same
 * database (on SQLite a handle on the process's one connection, on PostgreSQL a pool of its own: a second
 * "process"). Every handle opened is closed, and the database dropped, after the file's tests (`cleanup()` does it
 * earlier; both are idempotent).
 */
import { afterAll } from 'vitest';
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
  const opened: Store[] = [];
  const track = async (s: Promise<Store>) => {
    const store = await s;
    opened.push(store);
    return store;
  };
  const closeAll = async () => {
    for (const s of opened.splice(0)) await s.close().catch(() => {});
  };
  const out: Backend[] = [];
  const dir = testDir(`${prefix}-sqlite-`);
  out.push({
    name: 'sqlite',
    open: () => track(openStore({ dataDir: dir })),
    env: async () => ({ B24FLOW_DATA_DIR: dir, B24FLOW_DATABASE_URL: '' }),
    cleanup: closeAll,
  });
  let db: ReturnType<typeof freshDatabase> | undefined;
  if (postgresUrl) {
    const pgDir = testDir(`${prefix}-pg-`);
    let dropped = false;
    out.push({
      name: 'postgres',
      open: async () => {
        db ??= freshDatabase();
        return track(openStore({ dataDir: pgDir, url: (await db).url, poolSize: 4 }));
      },
      env: async () => {
        db ??= freshDatabase();
        return { B24FLOW_DATA_DIR: pgDir, B24FLOW_DATABASE_URL: (await db).url };
      },
      cleanup: async () => {
        await closeAll();
        if (db && !dropped) {
          dropped = true;
          await (await db).drop();
        }
      },
    });
  }
  afterAll(async () => {
    for (const b of out) await b.cleanup();
  });
  return out;
}
