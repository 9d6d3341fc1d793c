/**
 * Cross-run idempotency: a write whose step declares `idempotency_key` happens once per key, per portal and
 * pipeline step, even across runs (a re-run the same day, an event delivered twice, the same pipeline started in two
 * processes or on two machines at once). Within one run the journal already guarantees it; this store extends it
 * across runs. Scope = portal id + pipeline name + step id.
 *
 * The durable implementation is the store's (src/store/idempotency.ts), passed in by the composition root; this
 * module holds the interface and {@link MemoryIdempotencyStore} (unit tests, the in-memory embedded sandbox).
 */

/**
 * What {@link IdempotencyStore.claim} says about one key: `mine` (this run holds it: send the write), `done` (a run
 * completed it: its result), `held` (another run that is still running holds it: wait), `orphaned` (this run took it
 * over from a run that stopped without an outcome: the write may or may not have happened — reconcile before any
 * send).
 */
export type KeyClaim =
  | { state: 'mine' }
  | { state: 'done'; result: unknown }
  | { state: 'held'; holder: string }
  | { state: 'orphaned'; holder: string };

/** Remembers completed keyed writes: key → compact result (new id, true). */
export interface IdempotencyStore {
  /** Results of completed writes of a scope (only of `keys` when given). */
  load(scope: string, keys?: readonly string[]): Promise<Map<string, unknown>>;
  /** Marks keys completed with their results (durable when it resolves). */
  record(scope: string, entries: { key: string; result: unknown }[]): Promise<void>;
  /**
   * Claims keys for the run `holder` before their writes are sent, so that two runs at once never both send the
   * same key (race-free across processes when the store is shared). Optional: a store without it only remembers
   * completed keys.
   */
  claim?(scope: string, keys: readonly string[], holder: string): Promise<Map<string, KeyClaim>>;
  /** Gives back claims of `holder` whose writes were not sent or failed (another run may then send them). */
  release?(scope: string, keys: readonly string[], holder: string): Promise<void>;
}

/** In-memory store (tests; runs against the embedded in-memory sandbox): one process, so every claim is granted. */
export class MemoryIdempotencyStore implements IdempotencyStore {
  private m = new Map<string, Map<string, unknown>>();
  async load(scope: string, keys?: readonly string[]) {
    let s = this.m.get(scope);
    if (!s) {
      s = new Map();
      this.m.set(scope, s);
    }
    if (!keys) return s;
    const out = new Map<string, unknown>();
    for (const k of keys) if (s.has(k)) out.set(k, s.get(k));
    return out;
  }
  async record(scope: string, entries: { key: string; result: unknown }[]) {
    const s = await this.load(scope);
    for (const e of entries) s.set(e.key, e.result);
  }
}
