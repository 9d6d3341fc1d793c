/**
 * The shared request bucket of every portal (issue 12, item 3): one `limiter` row per portal (the limiter key,
 * `webhook:<host>` or `oauth:<member_id>`), read and written in one transaction per lease, so every CLI run, worker and
 * machine on the store draws from the same bucket. The lease protocol and why it keeps the aggregate rate within the
 * portal's bound are in src/bitrix/limiter/shared.ts.
 *
 * Row: `tokens` = the shared level (requests in the portal's leaky bucket, as granted) at `updated_ms` (wall Unix ms);
 * `state_json` = learned limits ({@link RowState}). Atomicity: PostgreSQL locks the row (`SELECT … FOR UPDATE`);
 * SQLite transactions start with `BEGIN IMMEDIATE` (src/store/sqlite.ts), which already excludes every other writer —
 * and SQLite has no `FOR UPDATE`, hence the one dialect branch in {@link lockRow}. Wall clocks of several machines are
 * assumed NTP-close; a writer whose clock is behind the row's `updated_ms` simply drains nothing.
 */
import type { Transaction } from 'kysely';
import type {
  LeaseGrant,
  LeaseRequest,
  LimiterEvent,
  PlanName,
  SharedLearned,
  SharedLimiterState,
} from '../bitrix/limiter/index.js';
import type { Store } from './db.js';
import type { LimiterTable, StoreSchema } from './schema.js';

/** Learned limits kept in `state_json`. */
interface RowState {
  /** The smallest plan a process learned from a 503, and when (Unix ms): honoured for {@link PLAN_MEMORY_MS}. */
  plan?: PlanName;
  planAtMs?: number;
  backoffUntilMs?: number;
  /** method (lower case) → portal Unix s it is parked until (429). */
  parked?: Record<string, number>;
}

/** How long a plan learned from a 503 is trusted (a portal may be upgraded). */
const PLAN_MEMORY_MS = 3_600_000;

function parseState(json: string): RowState {
  try {
    const s = JSON.parse(json) as RowState;
    return s && typeof s === 'object' ? s : {};
  } catch {
    return {};
  }
}

/** The state without expired entries (written back, so the row does not grow). */
function prune(s: RowState, nowMs: number): RowState {
  const out: RowState = {};
  if (s.plan && (s.planAtMs ?? 0) + PLAN_MEMORY_MS > nowMs) {
    out.plan = s.plan;
    out.planAtMs = s.planAtMs ?? nowMs;
  }
  if (s.backoffUntilMs && s.backoffUntilMs > nowMs) out.backoffUntilMs = s.backoffUntilMs;
  const nowSec = nowMs / 1000;
  if (s.parked) {
    // portal clocks may run fast (sandbox): keep an entry for an hour of wall time after it was written at the latest
    const live = Object.entries(s.parked).filter(([, until]) => until > nowSec - 3600);
    if (live.length) out.parked = Object.fromEntries(live);
  }
  return out;
}

function learnedOf(s: RowState): SharedLearned {
  return {
    ...(s.plan ? { plan: s.plan } : {}),
    ...(s.backoffUntilMs ? { backoffUntilMs: s.backoffUntilMs } : {}),
    ...(s.parked ? { parked: s.parked } : {}),
  };
}

/** The shared bucket on the store (see module doc). One object per store is enough for every portal. */
export class StoreLimiterState implements SharedLimiterState {
  /** Transactions run (takes and reports), for benchmarks. */
  roundTrips = 0;

  constructor(private readonly store: Store) {}

  /** Reads the portal's row for update, creating it (empty bucket) when missing. */
  private async lockRow(trx: Transaction<StoreSchema>, portal: string): Promise<LimiterTable> {
    const select = () => {
      const q = trx.selectFrom('limiter').selectAll().where('portal', '=', portal);
      return (this.store.dialect === 'postgres' ? q.forUpdate() : q).executeTakeFirst();
    };
    let row = await select();
    if (!row) {
      await trx
        .insertInto('limiter')
        .values({ portal, tokens: 0, updated_ms: Date.now(), state_json: '{}' })
        .onConflict((oc) => oc.column('portal').doNothing())
        .execute();
      row = await select();
      if (!row) throw new Error(`limiter row of ${portal} vanished`);
    }
    return row;
  }

  async take(portal: string, req: LeaseRequest): Promise<LeaseGrant> {
    this.roundTrips++;
    return this.store.db.transaction().execute(async (trx) => {
      const row = await this.lockRow(trx, portal);
      const now = Math.max(Date.now(), Number(row.updated_ms));
      const state = prune(parseState(row.state_json), now);
      const drainPerMs = (Math.max(1e-9, req.drain) * Math.max(1e-9, req.clockFactor)) / 1000;
      let level = Math.max(0, Number(row.tokens) - (now - Number(row.updated_ms)) * drainPerMs);
      // a misconfigured reserve (≥ burst) must slow a process down, never stop it: one slot stays grantable
      const room = Math.max(1, req.burst - req.reserve);
      let granted = 0;
      let retryMs = 0;
      if (state.backoffUntilMs && state.backoffUntilMs > now) {
        retryMs = state.backoffUntilMs - now;
      } else {
        granted = Math.max(0, Math.min(req.want, Math.floor(room - level + 1e-9)));
        level += granted;
        // wait until what is still wanted has drained (jittered, so that waiting processes do not all wake at once)
        if (granted < req.want)
          retryMs = Math.ceil(((level + (req.want - granted) - room) / drainPerMs) * (1 + Math.random() * 0.2));
      }
      await trx
        .updateTable('limiter')
        .set({ tokens: level, updated_ms: now, state_json: JSON.stringify(state) })
        .where('portal', '=', portal)
        .execute();
      return { granted, retryMs: Math.max(0, retryMs), level, learned: learnedOf(state) };
    });
  }

  async report(portal: string, event: LimiterEvent): Promise<void> {
    this.roundTrips++;
    await this.store.db.transaction().execute(async (trx) => {
      const row = await this.lockRow(trx, portal);
      const now = Math.max(Date.now(), Number(row.updated_ms));
      const state = prune(parseState(row.state_json), now);
      let tokens = Number(row.tokens);
      let updated = Number(row.updated_ms);
      if (event.kind === 'query-limit') {
        // the portal's bucket is full now: so is the shared level, for every process
        tokens = event.burst;
        updated = now;
        state.backoffUntilMs = Math.max(state.backoffUntilMs ?? 0, event.backoffUntilMs);
        if (event.plan === 'standard') {
          state.plan = 'standard';
          state.planAtMs = now;
        }
      } else {
        const method = event.method.toLowerCase();
        state.parked = { ...(state.parked ?? {}), [method]: Math.max(state.parked?.[method] ?? 0, event.until) };
      }
      await trx
        .updateTable('limiter')
        .set({ tokens, updated_ms: updated, state_json: JSON.stringify(state) })
        .where('portal', '=', portal)
        .execute();
    });
  }

  /** The row of a portal (diagnostics, tests): level as stored and the learned state. */
  async read(portal: string): Promise<{ tokens: number; updatedMs: number; learned: SharedLearned } | undefined> {
    const row = await this.store.db.selectFrom('limiter').selectAll().where('portal', '=', portal).executeTakeFirst();
    if (!row) return undefined;
    return {
      tokens: Number(row.tokens),
      updatedMs: Number(row.updated_ms),
      learned: learnedOf(parseState(row.state_json)),
    };
  }
}
