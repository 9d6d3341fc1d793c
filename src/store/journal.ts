/**
 * The run journal in the store (see src/pipeline/journal.ts for the contract): tables `runs` (the record without its
 * steps, plus the columns history filters and sorts by), `run_steps` (one row per step, in order), `step_results`
 * (results kept for resume) and `run_writes` (the write log: latest state per `<step>#<key>`).
 *
 * Durability: every call is one committed statement or transaction before it resolves — in particular a batch of
 * `intent` entries is committed before `recordWrites` resolves, i.e. before the request goes out (SQLite in WAL mode:
 * durable against a process crash; PostgreSQL: durable on commit). Progress of a running run is written as it goes
 * (only the steps whose record changed since the last write), so `runs` shows live runs from any process.
 */

import type { Insertable, Transaction } from 'kysely';
import {
  asSeen,
  currentOwner,
  type Journal,
  type RunListOptions,
  type RunOwner,
  type RunRecord,
  type StepRecord,
  type WriteEntry,
} from '../pipeline/index.js';
import type { Store } from './db.js';
import type { StoreSchema } from './schema.js';

/** Rows per multi-row insert (well under SQLite's 32 766 bound parameters and PostgreSQL's 65 535). */
const CHUNK = 400;

/** Splits `xs` into chunks of {@link CHUNK}. */
export function chunks<T>(xs: readonly T[], n = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

const ms = (iso: string | undefined): number | null => {
  if (!iso) return null;
  const t = Date.parse(iso);
  return Number.isFinite(t) ? t : null;
};

/** The journal on the store's tables (see module doc). */
export class SqlJournal implements Journal {
  /** Per running run: the JSON of each step as last written (only changed steps are written again). */
  private written = new Map<string, Map<string, string>>();
  constructor(readonly store: Store) {}

  private get db() {
    return this.store.db;
  }

  async begin(run: RunRecord): Promise<void> {
    run.owner = currentOwner();
    const row = this.runRow(run);
    await this.db
      .transaction()
      .execute(async (tx) => {
        await tx
          .insertInto('runs')
          .values(row)
          .onConflict((oc) => oc.column('run_id').doUpdateSet(row))
          .execute();
        await this.writeSteps(tx, run);
      })
      .catch((err: unknown) => this.forget(run.runId, err));
  }

  async heartbeat(runId: string): Promise<void> {
    await this.db
      .updateTable('runs')
      .set({ updated_ms: Date.now() })
      .where('run_id', '=', runId)
      .where('status', '=', 'running')
      .execute();
  }

  async update(run: RunRecord): Promise<void> {
    // a resumed run is owned by the process that resumes it
    if (run.status === 'running') run.owner = currentOwner();
    const row = this.runRow(run);
    await this.db
      .transaction()
      .execute(async (tx) => {
        const { numUpdatedRows } = await tx
          .updateTable('runs')
          .set(row)
          .where('run_id', '=', run.runId)
          .executeTakeFirst();
        if (!Number(numUpdatedRows)) await tx.insertInto('runs').values(row).execute();
        await this.writeSteps(tx, run);
      })
      .catch((err: unknown) => this.forget(run.runId, err));
    if (run.status !== 'running') this.written.delete(run.runId);
  }

  /** After a failed transaction: the steps are written again in full next time; rethrows `err`. */
  private forget(runId: string, err: unknown): never {
    this.written.delete(runId);
    throw err;
  }

  /** The `runs` row of a record: its columns and the record without steps (they go to `run_steps`). */
  private runRow(run: RunRecord) {
    const { steps: _steps, ...rest } = run;
    const now = Date.now();
    return {
      run_id: run.runId,
      pipeline: run.pipeline.name,
      status: run.status,
      mode: run.mode,
      owner_json: run.owner ? JSON.stringify(run.owner) : null,
      started_ms: ms(run.startedAt) ?? now,
      updated_ms: now,
      finished_ms: run.status === 'running' ? null : (ms(run.finishedAt) ?? now),
      record_json: JSON.stringify(rest),
    };
  }

  /** Writes the steps whose record changed since the last write of this run (in the caller's transaction). */
  private async writeSteps(tx: Transaction<StoreSchema>, run: RunRecord): Promise<void> {
    let seen = this.written.get(run.runId);
    if (!seen) {
      seen = new Map();
      this.written.set(run.runId, seen);
    }
    const rows: Insertable<StoreSchema['run_steps']>[] = [];
    Object.values(run.steps).forEach((s, ord) => {
      const json = JSON.stringify(s);
      if (seen.get(s.id) === json) return;
      seen.set(s.id, json);
      rows.push({
        run_id: run.runId,
        step_id: s.id,
        ord,
        status: s.status,
        method: s.method ?? null,
        record_json: json,
      });
    });
    try {
      for (const part of chunks(rows))
        await tx
          .insertInto('run_steps')
          .values(part)
          .onConflict((oc) =>
            oc.columns(['run_id', 'step_id']).doUpdateSet((eb) => ({
              ord: eb.ref('excluded.ord'),
              status: eb.ref('excluded.status'),
              method: eb.ref('excluded.method'),
              record_json: eb.ref('excluded.record_json'),
            })),
          )
          .execute();
    } catch (err) {
      this.written.delete(run.runId); // not written: write every step next time
      throw err;
    }
  }

  /**
   * Writes a whole run as it was recorded elsewhere (`b24flow migrate`): the record as is (its owner kept), its step
   * results and its write log, in one transaction. A run already in the store is left alone.
   * @returns false when the run was already there
   */
  async importRun(run: RunRecord, results: Map<string, unknown>, writes: WriteEntry[]): Promise<boolean> {
    const row = this.runRow(run);
    return this.db.transaction().execute(async (tx) => {
      const r = await tx
        .insertInto('runs')
        .values(row)
        .onConflict((oc) => oc.column('run_id').doNothing())
        .executeTakeFirst();
      if (!Number(r.numInsertedOrUpdatedRows ?? 0)) return false;
      await this.writeSteps(tx, run);
      this.written.delete(run.runId);
      const res = [...results].map(([step, value]) => ({
        run_id: run.runId,
        step_id: step,
        value_json: JSON.stringify(value ?? null),
      }));
      for (const part of chunks(res)) await tx.insertInto('step_results').values(part).execute();
      const w = writes.map((e) => writeRow(run.runId, e));
      for (const part of chunks(w)) await tx.insertInto('run_writes').values(part).execute();
      return true;
    });
  }

  async get(runId: string): Promise<RunRecord | undefined> {
    const row = await this.db.selectFrom('runs').selectAll().where('run_id', '=', runId).executeTakeFirst();
    if (!row) return undefined;
    const steps = await this.db
      .selectFrom('run_steps')
      .select(['step_id', 'record_json'])
      .where('run_id', '=', runId)
      .orderBy('ord')
      .execute();
    return this.record(row.record_json, row.owner_json, steps, Number(row.updated_ms));
  }

  /** @param lastSeenMs when the row was last written or heartbeaten (another host's run is gone when it is stale) */
  private record(json: string, owner: string | null, steps: { record_json: string }[], lastSeenMs: number): RunRecord {
    const r = JSON.parse(json) as RunRecord;
    r.steps = {};
    for (const s of steps) {
      const rec = JSON.parse(s.record_json) as StepRecord;
      r.steps[rec.id] = rec;
    }
    if (owner) r.owner = JSON.parse(owner) as RunOwner;
    return asSeen(r, lastSeenMs);
  }

  /**
   * Runs newest first (by start time), filtered by pipeline name and status. One indexed query for the page of
   * runs and one for their steps: fast with any number of runs in the table when a `limit` is given.
   */
  async list(o: RunListOptions = {}): Promise<RunRecord[]> {
    let q = this.db.selectFrom('runs').select(['run_id', 'record_json', 'owner_json', 'status', 'updated_ms']);
    if (o.pipeline) q = q.where('pipeline', '=', o.pipeline);
    // interrupted is a running row whose owner is gone: filtered after reading
    if (o.status) q = q.where('status', '=', o.status === 'interrupted' ? 'running' : o.status);
    q = q.orderBy('started_ms', 'desc').orderBy('run_id', 'desc');
    const limit = o.limit;
    const rows = await (limit !== undefined && o.status !== 'interrupted' && o.status !== 'running'
      ? q.limit(Math.max(0, limit))
      : q
    ).execute();
    const ids = rows.map((r) => r.run_id);
    const stepsOf = new Map<string, { record_json: string }[]>();
    for (const part of chunks(ids)) {
      if (!part.length) continue;
      const steps = await this.db
        .selectFrom('run_steps')
        .select(['run_id', 'record_json'])
        .where('run_id', 'in', part)
        .orderBy('run_id')
        .orderBy('ord')
        .execute();
      for (const s of steps) {
        const l = stepsOf.get(s.run_id);
        if (l) l.push(s);
        else stepsOf.set(s.run_id, [s]);
      }
    }
    let out = rows.map((r) =>
      this.record(r.record_json, r.owner_json, stepsOf.get(r.run_id) ?? [], Number(r.updated_ms)),
    );
    if (o.status) out = out.filter((r) => r.status === o.status);
    return limit !== undefined ? out.slice(0, Math.max(0, limit)) : out;
  }

  async saveStepResult(runId: string, stepId: string, value: unknown): Promise<void> {
    const value_json = JSON.stringify(value ?? null);
    await this.db
      .insertInto('step_results')
      .values({ run_id: runId, step_id: stepId, value_json })
      .onConflict((oc) => oc.columns(['run_id', 'step_id']).doUpdateSet({ value_json }))
      .execute();
  }

  /** @throws Error when no result was saved for the step (resume then runs the step again) */
  async loadStepResult(runId: string, stepId: string): Promise<unknown> {
    const row = await this.db
      .selectFrom('step_results')
      .select('value_json')
      .where('run_id', '=', runId)
      .where('step_id', '=', stepId)
      .executeTakeFirst();
    if (!row) throw new Error(`no saved result for step "${stepId}" of run ${runId}`);
    return JSON.parse(row.value_json);
  }

  /**
   * Upserts the latest state per key, all entries in one transaction committed before this resolves. A `done`
   * entry is final: a later intent or failure (a resume re-checking) never downgrades it.
   */
  async recordWrites(runId: string, entries: WriteEntry[]): Promise<void> {
    if (!entries.length) return;
    // the latest entry per key of this batch (one row per key in a multi-row upsert)
    const latest = new Map<string, WriteEntry>();
    for (const e of entries) if (latest.get(e.key)?.state !== 'done') latest.set(e.key, e);
    const rows = [...latest.values()].map((e) => writeRow(runId, e));
    await this.db.transaction().execute(async (tx) => {
      for (const part of chunks(rows))
        await tx
          .insertInto('run_writes')
          .values(part)
          .onConflict((oc) =>
            oc
              .columns(['run_id', 'write_key'])
              .doUpdateSet((eb) => ({
                step_id: eb.ref('excluded.step_id'),
                state: eb.ref('excluded.state'),
                result_json: eb.ref('excluded.result_json'),
                error: eb.ref('excluded.error'),
                origin: eb.fn.coalesce(eb.ref('excluded.origin'), eb.ref('run_writes.origin')),
                at_ms: eb.ref('excluded.at_ms'),
              }))
              .where('run_writes.state', '<>', 'done'),
          )
          .execute();
    });
  }

  async loadWrites(runId: string): Promise<Map<string, WriteEntry>> {
    const rows = await this.db
      .selectFrom('run_writes')
      .selectAll()
      .where('run_id', '=', runId)
      .orderBy('at_ms')
      .execute();
    const out = new Map<string, WriteEntry>();
    for (const r of rows) out.set(r.write_key, writeEntry(r));
    return out;
  }
}

/** A write-log entry as a `run_writes` row. */
function writeRow(runId: string, e: WriteEntry) {
  return {
    run_id: runId,
    write_key: e.key,
    step_id: e.step,
    state: e.state,
    result_json: e.result === undefined ? null : JSON.stringify(e.result),
    error: e.error ?? null,
    origin: e.origin ?? null,
    at_ms: ms(e.at) ?? Date.now(),
  };
}

/** A `run_writes` row as a write-log entry. */
export function writeEntry(r: {
  write_key: string;
  step_id: string;
  state: string;
  result_json: string | null;
  error: string | null;
  origin: string | null;
  at_ms: number;
}): WriteEntry {
  return {
    key: r.write_key,
    step: r.step_id,
    state: r.state as WriteEntry['state'],
    ...(r.result_json !== null ? { result: JSON.parse(r.result_json) as unknown } : {}),
    ...(r.error !== null ? { error: r.error } : {}),
    ...(r.origin !== null ? { origin: r.origin } : {}),
    at: new Date(r.at_ms).toISOString(),
  };
}
