/**
 * Stored plans in the store (see src/pipeline/run/planStore.ts): table `plans` (the sealed content as JSON, its
 * expiry and when it was used). The seal key is the `settings` row `plan-key` (32 random bytes, base64), shared by
 * every process and machine on the store: created race-free (insert that does nothing on conflict, then read — every
 * process reads the one row that won). Single use is race-free across processes: `claim` is an update conditioned on
 * `used_ms IS NULL`, and only the process whose update changed the row applies the plan.
 */
import {
  newPlanKey,
  PLAN_ID,
  PLAN_KEY_BYTES,
  type Plan,
  type PlanStore,
  planNonce,
  type StoredPlan,
  sealedPlanId,
  verifySeal,
} from '../pipeline/index.js';
import type { Store } from './db.js';

/** Name of the settings row holding the plan seal key. */
export const PLAN_KEY_SETTING = 'plan-key';

/**
 * The plan seal key of the store, created on first use (see module doc).
 * @throws Error when the stored key is damaged (not 32 bytes)
 */
export async function planKeyOf(store: Store): Promise<Buffer> {
  const read = async () =>
    (await store.db.selectFrom('settings').select('value').where('name', '=', PLAN_KEY_SETTING).executeTakeFirst())
      ?.value;
  let value = await read();
  if (value === undefined) {
    await store.db
      .insertInto('settings')
      .values({ name: PLAN_KEY_SETTING, value: newPlanKey().toString('base64'), updated_ms: Date.now() })
      .onConflict((oc) => oc.column('name').doNothing())
      .execute();
    value = await read();
  }
  const key = Buffer.from(value ?? '', 'base64');
  if (key.length !== PLAN_KEY_BYTES)
    throw new Error(
      `the plan key in the store is damaged (${key.length} bytes, expected ${PLAN_KEY_BYTES}); delete the settings row '${PLAN_KEY_SETTING}' and make the plans again`,
    );
  return key;
}

/** The plan store on the store's `plans` and `settings` tables (see module doc). */
export class SqlPlanStore implements PlanStore {
  private key: Promise<Buffer> | undefined;
  constructor(readonly store: Store) {}

  private keyOf(): Promise<Buffer> {
    this.key ??= planKeyOf(this.store);
    this.key.catch(() => {
      this.key = undefined;
    });
    return this.key;
  }

  async save(plan: Plan, extra: { pipeline: unknown; file?: string; path?: string }): Promise<string> {
    const stored: StoredPlan = { plan, ...extra, nonce: planNonce() };
    plan.id = sealedPlanId(await this.keyOf(), stored);
    const created = Date.parse(plan.createdAt);
    const expires = Date.parse(plan.expiresAt);
    await this.store.db
      .insertInto('plans')
      .values({
        plan_id: plan.id,
        body_json: JSON.stringify(stored),
        created_ms: Number.isFinite(created) ? created : Date.now(),
        expires_ms: Number.isFinite(expires) ? expires : Date.now(),
        used_ms: null,
      })
      .execute();
    return plan.id;
  }

  async verify(id: string, stored: StoredPlan): Promise<boolean> {
    return typeof stored?.plan === 'object' && stored.plan?.id === id && verifySeal(await this.keyOf(), id, stored);
  }

  async get(id: string): Promise<StoredPlan | undefined> {
    if (!PLAN_ID.test(id)) return undefined;
    const row = await this.store.db
      .selectFrom('plans')
      .select('body_json')
      .where('plan_id', '=', id)
      .executeTakeFirst();
    if (!row) return undefined;
    try {
      return JSON.parse(row.body_json) as StoredPlan;
    } catch {
      return undefined;
    }
  }

  async claim(id: string): Promise<boolean> {
    const r = await this.store.db
      .updateTable('plans')
      .set({ used_ms: Date.now() })
      .where('plan_id', '=', id)
      .where('used_ms', 'is', null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  async isUsed(id: string): Promise<boolean> {
    const row = await this.store.db.selectFrom('plans').select('used_ms').where('plan_id', '=', id).executeTakeFirst();
    return row?.used_ms !== null && row?.used_ms !== undefined;
  }
}
