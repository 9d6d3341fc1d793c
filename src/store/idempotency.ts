/**
 * Cross-run idempotency in the store (see src/pipeline/idempotency.ts): table `idempotency`, one row per (scope,
 * key). A run claims its keys before sending their writes (`claimed`, with the run id as holder), then records them
 * `done` with the result. Every process and machine on one store sees the same rows, so the same keyed pipeline
 * started twice at once writes each key once: the second run waits for the first one's outcome.
 *
 * Claims are race-free: a claim is an insert that does nothing on conflict (the database's unique key decides), a
 * take-over of a dead holder's claim an update conditioned on that holder (one winner). A holder is dead when its run
 * is no longer `running` (finished, failed, or its owner process is gone: `ownerGone`, on another host when its run's
 * heartbeat stopped), or — for a holder with no
 * run row (a run without journal) — when its claim is older than {@link ORPHAN_AFTER_MS}.
 */
import { type IdempotencyStore, type KeyClaim, ownerGone, type RunOwner } from '../pipeline/index.js';
import type { Store } from './db.js';
import { chunks } from './journal.js';

/** A claim whose holder has no run row is taken as abandoned after this long, ms (10 minutes). */
export const ORPHAN_AFTER_MS = 10 * 60_000;

/** The idempotency store on the store's `idempotency` table (see module doc). */
export class SqlIdempotencyStore implements IdempotencyStore {
  constructor(readonly store: Store) {}

  private get db() {
    return this.store.db;
  }

  async load(scope: string, keys?: readonly string[]): Promise<Map<string, unknown>> {
    const out = new Map<string, unknown>();
    const base = this.db
      .selectFrom('idempotency')
      .select(['idem_key', 'result_json'])
      .where('scope', '=', scope)
      .where('state', '=', 'done');
    const rows = keys
      ? (
          await Promise.all(chunks([...new Set(keys)]).map((part) => base.where('idem_key', 'in', part).execute()))
        ).flat()
      : await base.execute();
    for (const r of rows) out.set(r.idem_key, r.result_json === null ? null : JSON.parse(r.result_json));
    return out;
  }

  /** Marks keys done (committed before this resolves); a key already done keeps its first result. */
  async record(scope: string, entries: { key: string; result: unknown }[]): Promise<void> {
    if (!entries.length) return;
    const at = Date.now();
    const latest = new Map(entries.map((e) => [e.key, e.result]));
    // sorted, as in claim(): one lock order for concurrent upserts
    const rows = [...latest]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, result]) => ({
        scope,
        idem_key: key,
        state: 'done',
        holder: null,
        result_json: JSON.stringify(result ?? null),
        at_ms: at,
      }));
    await this.db.transaction().execute(async (tx) => {
      for (const part of chunks(rows))
        await tx
          .insertInto('idempotency')
          .values(part)
          .onConflict((oc) =>
            oc
              .columns(['scope', 'idem_key'])
              .doUpdateSet((eb) => ({
                state: 'done',
                result_json: eb.ref('excluded.result_json'),
                at_ms: eb.ref('excluded.at_ms'),
              }))
              .where('idempotency.state', '<>', 'done'),
          )
          .execute();
    });
  }

  async claim(scope: string, keys: readonly string[], holder: string): Promise<Map<string, KeyClaim>> {
    const out = new Map<string, KeyClaim>();
    // sorted: concurrent multi-row inserts over overlapping keys take their row locks in one order (PostgreSQL
    // detects a deadlock when two inserts wait on each other's uncommitted rows in opposite orders)
    const unique = [...new Set(keys)].sort();
    if (!unique.length) return out;
    const now = Date.now();
    for (const part of chunks(unique))
      await this.db
        .insertInto('idempotency')
        .values(part.map((k) => ({ scope, idem_key: k, state: 'claimed', holder, result_json: null, at_ms: now })))
        .onConflict((oc) => oc.columns(['scope', 'idem_key']).doNothing())
        .execute();
    const rows = await this.rows(scope, unique);
    // claims of other runs: take over those whose holder is dead
    const others = new Map<string, { at: number; keys: string[] }>();
    for (const r of rows) {
      if (r.state === 'done') out.set(r.idem_key, { state: 'done', result: parse(r.result_json) });
      else if (r.holder === holder) out.set(r.idem_key, { state: 'mine' });
      else {
        const h = r.holder ?? '';
        const o = others.get(h) ?? { at: 0, keys: [] };
        o.at = Math.max(o.at, r.at_ms);
        o.keys.push(r.idem_key);
        others.set(h, o);
      }
    }
    if (!others.size) return out;
    const dead = await this.deadHolders(others, now);
    for (const [h, o] of others) {
      o.keys.sort();
      if (!dead.has(h)) {
        for (const k of o.keys) out.set(k, { state: 'held', holder: h });
        continue;
      }
      for (const part of chunks(o.keys))
        await this.db
          .updateTable('idempotency')
          .set({ holder, at_ms: now })
          .where('scope', '=', scope)
          .where('idem_key', 'in', part)
          .where('state', '=', 'claimed')
          .where(h ? (eb) => eb('holder', '=', h) : (eb) => eb('holder', 'is', null))
          .execute();
      for (const r of await this.rows(scope, o.keys))
        out.set(
          r.idem_key,
          r.state === 'done'
            ? { state: 'done', result: parse(r.result_json) }
            : r.holder === holder
              ? { state: 'orphaned', holder: h }
              : { state: 'held', holder: r.holder ?? '' },
        );
    }
    return out;
  }

  async release(scope: string, keys: readonly string[], holder: string): Promise<void> {
    for (const part of chunks([...new Set(keys)]))
      await this.db
        .deleteFrom('idempotency')
        .where('scope', '=', scope)
        .where('idem_key', 'in', part)
        .where('state', '=', 'claimed')
        .where('holder', '=', holder)
        .execute();
  }

  private async rows(scope: string, keys: string[]) {
    return (
      await Promise.all(
        chunks(keys).map((part) =>
          this.db
            .selectFrom('idempotency')
            .select(['idem_key', 'state', 'holder', 'result_json', 'at_ms'])
            .where('scope', '=', scope)
            .where('idem_key', 'in', part)
            .execute(),
        ),
      )
    ).flat();
  }

  /** Holders (run ids) that no longer run: see module doc. */
  private async deadHolders(others: Map<string, { at: number }>, now: number): Promise<Set<string>> {
    const ids = [...others.keys()].filter(Boolean);
    const runs = new Map<string, { status: string; owner_json: string | null; updated_ms: number }>();
    for (const part of chunks(ids))
      for (const r of await this.db
        .selectFrom('runs')
        .select(['run_id', 'status', 'owner_json', 'updated_ms'])
        .where('run_id', 'in', part)
        .execute())
        runs.set(r.run_id, r);
    const dead = new Set<string>();
    for (const [h, o] of others) {
      const run = runs.get(h);
      if (!run) {
        if (now - o.at > ORPHAN_AFTER_MS) dead.add(h);
      } else if (
        run.status !== 'running' ||
        ownerGone(parse(run.owner_json) as RunOwner | undefined, Number(run.updated_ms))
      )
        dead.add(h);
    }
    return dead;
  }
}

function parse(json: string | null): unknown {
  return json === null ? undefined : JSON.parse(json);
}
