/**
 * The two backends for the contract tests of the run journal, idempotency keys and plans: SQLite in a fresh data
 * dir, and PostgreSQL in a fresh database when `B24FLOW_TEST_DATABASE_URL` is set (each `open()` is then a pool of
 * its own, like another process).
 */
import { afterAll } from 'vitest';
import { openStore, type Store } from '../../src/store/index.js';
import { freshDatabase, postgresUrl } from '../support/postgres.js';
import { testDir } from '../support/testRoot.js';

/** A backend: opens a store on one database (the same each call). */
export interface Backend {
  name: string;
  open(): Promise<Store>;
}

/** SQLite always; PostgreSQL when configured. Every store opened is closed (and the database dropped) at the end. */
export function backends(prefix: string): Backend[] {
  const opened: Store[] = [];
  const out: Backend[] = [];
  const dir = testDir(`${prefix}-`);
  out.push({
    name: 'sqlite',
    open: async () => {
      const s = await openStore({ dataDir: dir });
      opened.push(s);
      return s;
    },
  });
  let pgDb: ReturnType<typeof freshDatabase> | undefined;
  if (postgresUrl)
    out.push({
      name: 'postgres',
      open: async () => {
        pgDb ??= freshDatabase();
        const s = await openStore({ dataDir: testDir(`${prefix}-pg-`), url: (await pgDb).url, poolSize: 4 });
        opened.push(s);
        return s;
      },
    });
  afterAll(async () => {
    for (const s of opened) await s.close().catch(() => {});
    await (await pgDb)?.drop();
  });
  return out;
}
