/**
 * Kysely over `node:sqlite` (built into Node ≥ 22.13; no native add-on to compile, nothing to download at install —
 * which is why it was picked over better-sqlite3, whose prebuilt binaries come from GitHub and whose fallback build
 * needs a compiler and Node's headers).
 *
 * Kysely's SQLite dialect expects better-sqlite3's shape (`prepare(sql)` → statement with `reader`, and parameters
 * as one array); this adapter maps `node:sqlite`'s `StatementSync` (spread parameters, `columns()`) onto it. Write
 * transactions start with `BEGIN IMMEDIATE`, so two processes never both hold a read snapshot they then try to
 * upgrade (SQLITE_BUSY that no busy timeout can resolve); `busy_timeout` makes a second writer wait instead of fail.
 */
import { closeSync, openSync } from 'node:fs';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import {
  CompiledQuery,
  type DatabaseConnection,
  type DialectAdapter,
  type Driver,
  SqliteAdapter,
  type SqliteDatabase,
  SqliteDialect,
  SqliteDriver,
  type SqliteStatement,
} from 'kysely';

/** A `node:sqlite` statement seen as a better-sqlite3 one. */
class Statement implements SqliteStatement {
  readonly reader: boolean;
  constructor(private readonly s: StatementSync) {
    this.reader = s.columns().length > 0;
  }
  all(parameters: ReadonlyArray<unknown>): unknown[] {
    return this.s.all(...(parameters as never[]));
  }
  run(parameters: ReadonlyArray<unknown>): { changes: number | bigint; lastInsertRowid: number | bigint } {
    return this.s.run(...(parameters as never[]));
  }
  iterate(parameters: ReadonlyArray<unknown>): IterableIterator<unknown> {
    return this.s.iterate(...(parameters as never[])) as IterableIterator<unknown>;
  }
}

/** Options of {@link openSqlite}. */
export interface SqliteOptions {
  /** Database file (created 0600 under the process umask the CLI sets), or `:memory:`. */
  file: string;
  /** How long a writer waits for another process's write transaction, ms (default 10 000). */
  busyTimeoutMs?: number;
}

/**
 * Opens the database file in WAL mode (readers never block the writer; several processes on one machine share it)
 * with `synchronous=NORMAL` in WAL (a commit survives a process crash; the last commits may be lost on power loss
 * only), foreign keys on, and the busy timeout.
 */
export function openSqlite(o: SqliteOptions): DatabaseSync {
  // created private whatever the umask (SQLite gives its -wal and -shm files the database file's permissions)
  if (o.file !== ':memory:') closeSync(openSync(o.file, 'a', 0o600));
  const db = new DatabaseSync(o.file);
  db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(o.busyTimeoutMs ?? 10_000))}`);
  db.exec('PRAGMA journal_mode = WAL');
  db.exec('PRAGMA synchronous = NORMAL');
  db.exec('PRAGMA foreign_keys = ON');
  return db;
}

/** Kysely's SQLite driver with `BEGIN IMMEDIATE` transactions (see module doc). */
class ImmediateDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

/**
 * SQLite runs DDL inside transactions: telling Kysely so makes the migrator run every pending migration in one
 * `BEGIN IMMEDIATE` transaction, which is what serialises two processes migrating one file at once (Kysely's own
 * migration lock is a no-op on SQLite, which it assumes has a single connection).
 */
class TransactionalDdlAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

/** The Kysely dialect for a `node:sqlite` database (see module doc). */
export class NodeSqliteDialect extends SqliteDialect {
  private readonly database: SqliteDatabase;
  constructor(db: DatabaseSync) {
    const database: SqliteDatabase = {
      close: () => db.close(),
      prepare: (sql: string) => new Statement(db.prepare(sql)),
    };
    super({ database });
    this.database = database;
  }

  override createDriver(): Driver {
    return new ImmediateDriver({ database: this.database });
  }

  override createAdapter(): DialectAdapter {
    return new TransactionalDdlAdapter();
  }
}
