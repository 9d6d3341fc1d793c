/**
 * The dead-letter queue on the store (table dead_letters, one row per event key): the {@link DeadLetterStore} of
 * src/triggers/dlq.ts. `add` is one indexed lookup and one write in a transaction (an O(1) upsert by event key);
 * `body_json` holds the whole entry, the other columns are copies for ordering and lookups. A row whose body is not
 * a dead letter (hand-edited, imported from a damaged file) is reported as malformed, never dropped silently.
 * Dead letters are never deleted by retention: only `b24flow dlq drop` or a successful replay removes one.
 */
import type { Kysely, Transaction } from 'kysely';
import {
  type DeadLetter,
  type DeadLetterInfo,
  type DeadLetterScan,
  type DeadLetterStore,
  deadLetterShapeError,
  type MalformedDeadLetter,
  mergeDeadLetter,
} from '../triggers/dlq.js';
import type { B24Event } from '../triggers/types.js';
import type { Store } from './db.js';
import type { DeadLettersTable, StoreSchema } from './schema.js';

type Db = Kysely<StoreSchema> | Transaction<StoreSchema>;

/** A row parsed: the entry, or why it is not one. */
function parseRow(
  row: Pick<DeadLettersTable, 'letter_id' | 'body_json'>,
  where: string,
): { entry: DeadLetter } | { bad: MalformedDeadLetter } {
  const file = `${where}#dead_letters/${row.letter_id}`;
  let v: unknown;
  try {
    v = JSON.parse(row.body_json);
  } catch (err) {
    return { bad: { id: row.letter_id, file, error: (err as Error).message, text: row.body_json } };
  }
  const shape = deadLetterShapeError(v);
  if (shape) return { bad: { id: row.letter_id, file, error: shape, text: row.body_json } };
  if ((v as DeadLetter).id !== row.letter_id)
    return {
      bad: { id: row.letter_id, file, error: `its id ${(v as DeadLetter).id} is not its row id`, text: row.body_json },
    };
  return { entry: v as DeadLetter };
}

/** The columns of a row for an entry. */
function rowOf(d: DeadLetter): DeadLettersTable {
  return {
    letter_id: d.id,
    event_key: d.key,
    body_json: JSON.stringify(d),
    attempts: d.attempts,
    error: d.error,
    first_seen_ms: Date.parse(d.firstSeen) || Date.now(),
    last_seen_ms: Date.parse(d.lastSeen) || Date.now(),
  };
}

/**
 * Upserts the dead letter of a failed event in `db` (a transaction): the row of the same event key merged (`mergeDeadLetter`), or
 * a new row. A malformed row of that key is replaced, keeping its id. Run it through {@link withKeyRetry}: on
 * PostgreSQL the existing row is locked (`FOR UPDATE`, so two workers' failures of one event both count), and two
 * first failures of one key at once make the second insert hit the key's unique index — retried, it updates.
 * (SQLite's `BEGIN IMMEDIATE` serialises writers: neither case arises there.)
 */
export async function upsertDeadLetter(
  db: Db,
  store: Pick<Store, 'where' | 'dialect'>,
  ev: B24Event,
  info: DeadLetterInfo,
): Promise<DeadLetter> {
  const where = store.where;
  const q = db.selectFrom('dead_letters').select(['letter_id', 'body_json']).where('event_key', '=', ev.key);
  const row = await (store.dialect === 'postgres' ? q.forUpdate() : q).executeTakeFirst();
  const parsed = row ? parseRow(row, where) : undefined;
  const existing = parsed && 'entry' in parsed ? parsed.entry : undefined;
  let entry = mergeDeadLetter(existing, ev, info);
  if (row && !existing) entry = { ...entry, id: row.letter_id };
  const values = rowOf(entry);
  if (row) {
    const { letter_id: _, ...set } = values;
    await db.updateTable('dead_letters').set(set).where('letter_id', '=', row.letter_id).execute();
  } else {
    await db.insertInto('dead_letters').values(values).execute();
  }
  return entry;
}

/** True for PostgreSQL's unique violation (SQLSTATE 23505). */
function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: unknown } | undefined)?.code === '23505';
}

/**
 * Runs a transaction that upserts a dead letter, again (up to 3 times) when a concurrent first insert of the same
 * event key won (see {@link upsertDeadLetter}).
 */
export async function withKeyRetry<T>(run: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await run();
    } catch (err) {
      if (i >= 2 || !isUniqueViolation(err)) throw err;
    }
  }
}

/** Inserts an entry as it is unless its id or key is there already (the importer); true when inserted. */
export async function insertDeadLetterIfAbsent(db: Db, d: DeadLetter): Promise<boolean> {
  const r = await db
    .insertInto('dead_letters')
    .values(rowOf(d))
    .onConflict((oc) => oc.doNothing())
    .executeTakeFirst();
  return Number(r.numInsertedOrUpdatedRows ?? 0) > 0;
}

/** The dead-letter queue on a {@link Store} (see module doc). */
export class StoreDeadLetters implements DeadLetterStore {
  constructor(private readonly store: Store) {}

  add(ev: B24Event, info: DeadLetterInfo): Promise<DeadLetter> {
    return withKeyRetry(() =>
      this.store.db.transaction().execute((trx) => upsertDeadLetter(trx, this.store, ev, info)),
    );
  }

  async scan(): Promise<DeadLetterScan> {
    const rows = await this.store.db
      .selectFrom('dead_letters')
      .select(['letter_id', 'body_json'])
      .orderBy('first_seen_ms')
      .orderBy('letter_id')
      .execute();
    const entries: DeadLetter[] = [];
    const malformed: MalformedDeadLetter[] = [];
    for (const row of rows) {
      const p = parseRow(row, this.store.where);
      if ('entry' in p) entries.push(p.entry);
      else malformed.push(p.bad);
    }
    // the documents' times decide (the columns are copies; an imported entry keeps its own)
    entries.sort((a, b) => a.firstSeen.localeCompare(b.firstSeen) || a.id.localeCompare(b.id));
    malformed.sort((a, b) => a.id.localeCompare(b.id));
    return { entries, malformed };
  }

  async list(): Promise<DeadLetter[]> {
    return (await this.scan()).entries;
  }

  /** The row of id `id`, else the one row whose id starts with it (ids are `[a-z0-9-]`, compared exactly). */
  private async byId(id: string): Promise<{ entry: DeadLetter } | { bad: MalformedDeadLetter } | undefined> {
    const q = this.store.db.selectFrom('dead_letters').select(['letter_id', 'body_json']);
    const exact = await q.where('letter_id', '=', id).executeTakeFirst();
    if (exact) return parseRow(exact, this.store.where);
    if (!id) return undefined;
    // a prefix match in JS over the ids (a CLI lookup): LIKE's escaping and case rules, and text ranges under a
    // locale collation, differ between SQLite and PostgreSQL
    const ids = await this.store.db.selectFrom('dead_letters').select('letter_id').execute();
    const mine = ids.filter((r) => r.letter_id.startsWith(id));
    if (mine.length !== 1) return undefined;
    const row = await q.where('letter_id', '=', mine[0]!.letter_id).executeTakeFirst();
    return row ? parseRow(row, this.store.where) : undefined;
  }

  async get(id: string): Promise<DeadLetter | undefined> {
    const p = await this.byId(id);
    return p && 'entry' in p ? p.entry : undefined;
  }

  async getMalformed(id: string): Promise<MalformedDeadLetter | undefined> {
    const p = await this.byId(id);
    return p && 'bad' in p ? p.bad : undefined;
  }

  async size(): Promise<number> {
    const r = await this.store.db
      .selectFrom('dead_letters')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }

  async drop(id: string): Promise<boolean> {
    const r = await this.store.db.deleteFrom('dead_letters').where('letter_id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
}
