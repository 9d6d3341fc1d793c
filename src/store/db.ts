/**
 * Opening the store: SQLite in the data directory by default (`<dataDir>/b24flow.db`, WAL), PostgreSQL when a
 * `postgres://` URL is given (the CLI passes `B24FLOW_DATABASE_URL`). Both are migrated to the latest schema on open
 * (./migrations.ts). One query layer for both: Kysely.
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { Kysely, PostgresDialect, sql } from 'kysely';
import { Migrator } from 'kysely/migration';
import pg from 'pg';
import { redact } from '../lib/redact.js';
import { migrationProvider } from './migrations.js';
import type { StoreSchema } from './schema.js';
import { NodeSqliteDialect, openSqlite } from './sqlite.js';

/** Which database a store runs on. */
export type StoreDialect = 'sqlite' | 'postgres';

/** An open store: the typed query builder, its dialect, where it is (secrets redacted) and one `close()`. */
export interface Store {
  readonly db: Kysely<StoreSchema>;
  readonly dialect: StoreDialect;
  /** `sqlite:<file>` or the PostgreSQL URL with its password redacted: for messages. */
  readonly where: string;
  /** For PostgreSQL: the connection string (pg-boss shares the database). */
  readonly url?: string;
  close(): Promise<void>;
}

/** Options of {@link openStore}. */
export interface StoreOptions {
  /** The data directory (the SQLite file lives there): created 0700. */
  dataDir: string;
  /** `postgres://…` / `postgresql://…` to use PostgreSQL instead of SQLite. */
  url?: string;
  /** Connections in the PostgreSQL pool (default 10). */
  poolSize?: number;
  /** Run migrations on open (default true). */
  migrate?: boolean;
}

/** A database URL with its password replaced by `***` (for messages and logs). */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return redact(u.toString());
  } catch {
    return 'an unparsable database URL';
  }
}

/** PostgreSQL `bigint` (OID 20) as a JS number: the store keeps Unix ms and counters, far below 2^53. */
const pgTypes = {
  getTypeParser: (oid: number, format?: 'text' | 'binary') =>
    oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text'),
};

/**
 * Opens (and migrates) the store.
 * @throws Error naming the database (password redacted) when it cannot be reached or migrated
 */
export async function openStore(o: StoreOptions): Promise<Store> {
  let store: Store;
  if (o.url && /^postgres(ql)?:\/\//.test(o.url)) {
    const pool = new pg.Pool({ connectionString: o.url, max: o.poolSize ?? 10, types: pgTypes });
    // an idle connection dropped by the server (restart, failover) is replaced on the next query; without a listener
    // the pool's 'error' event would end the process
    pool.on('error', () => {});
    const db = new Kysely<StoreSchema>({ dialect: new PostgresDialect({ pool }) });
    let closing: Promise<void> | undefined;
    store = {
      db,
      dialect: 'postgres',
      where: safeUrl(o.url),
      url: o.url,
      close: () => {
        closing ??= db.destroy();
        return closing;
      },
    };
  } else if (o.url) {
    throw new Error(`B24FLOW_DATABASE_URL must be a postgres:// URL (got ${safeUrl(o.url)})`);
  } else {
    mkdirSync(o.dataDir, { recursive: true, mode: 0o700 });
    return openSqliteStore(resolve(o.dataDir, 'b24flow.db'), o.migrate !== false);
  }
  if (o.migrate !== false) {
    try {
      await migrateStore(store);
    } catch (err) {
      await store.close().catch(() => {});
      throw new Error(`cannot open the store at ${store.where}: ${redact((err as Error).message)}`);
    }
  }
  return store;
}

/** Open SQLite stores of this process by file: one connection per file per process (see {@link openSqliteStore}). */
const sqliteStores = new Map<string, { store: Promise<Store>; refs: number }>();

/**
 * One SQLite connection per file per process, shared by every opener and closed with the last `close()`.
 * `node:sqlite` is synchronous: a second connection of the same process waiting on the first one's write lock would
 * block the thread the first one needs to commit (a deadlock until the busy timeout). Kysely serialises the queries
 * of one connection; other processes wait on the file lock (busy timeout).
 */
function openSqliteStore(file: string, migrate: boolean): Promise<Store> {
  let entry = sqliteStores.get(file);
  if (entry) entry.refs++;
  else {
    const created = { refs: 1, store: Promise.resolve() as unknown as Promise<Store> };
    created.store = (async () => {
      const db = new Kysely<StoreSchema>({ dialect: new NodeSqliteDialect(openSqlite({ file })) });
      const store: Store = { db, dialect: 'sqlite', where: `sqlite:${file}`, close: () => db.destroy() };
      if (migrate)
        try {
          await migrateStore(store);
        } catch (err) {
          await db.destroy().catch(() => {});
          throw new Error(`cannot open the store at ${store.where}: ${redact((err as Error).message)}`);
        }
      return store;
    })();
    created.store.catch(() => sqliteStores.delete(file));
    sqliteStores.set(file, created);
    entry = created;
  }
  const shared = entry;
  // each opener gets its own handle: its close() releases its reference once, however often it is called
  return shared.store.then((base) => {
    let released = false;
    return {
      ...base,
      close: async () => {
        if (released) return;
        released = true;
        if (--shared.refs > 0) return;
        sqliteStores.delete(file);
        await base.close();
      },
    };
  });
}

/** Runs the pending migrations. @throws the migration's error */
export async function migrateStore(store: Store): Promise<string[]> {
  const migrator = new Migrator({ db: store.db, provider: migrationProvider });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error;
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/** A liveness query (used by /healthz). @throws when the database does not answer */
export async function pingStore(store: Store): Promise<void> {
  await sql`select 1`.execute(store.db);
}
