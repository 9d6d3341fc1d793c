/**
 * Contract of the store's plans (src/store/plans.ts) on SQLite and PostgreSQL: a saved plan verifies and is
 * claimed once even when many claim it at once; every store opener (process) gets the same seal key, created once;
 * an edited plan fails the seal; a damaged key is refused with a clear message.
 */
import { describe, expect, it } from 'vitest';
import type { Plan } from '../../src/pipeline/index.js';
import { PLAN_KEY_SETTING, planKeyOf, SqlPlanStore } from '../../src/store/plans.js';
import { backends } from './backends.js';

const plan = (): Plan => ({
  id: '',
  pipeline: { name: 'p', hash: 'h' },
  createdAt: new Date().toISOString(),
  expiresAt: new Date(Date.now() + 60_000).toISOString(),
  writes: [],
  risk: 'none',
  riskFields: [],
  cost: { text: '' } as Plan['cost'],
  stateHash: 's',
  checks: [],
  inputs: { a: 1 },
  now: 1,
});

describe.each(backends('b24flow-plans'))('SqlPlanStore on $name', (b) => {
  it('one seal key for every opener, created once even when they race', async () => {
    const stores = await Promise.all(Array.from({ length: 6 }, () => b.open()));
    const keys = await Promise.all(stores.map((s) => planKeyOf(s)));
    expect(keys[0]).toHaveLength(32);
    for (const k of keys) expect(k.equals(keys[0]!)).toBe(true);
  });

  it('saves, verifies, refuses an edited plan, and is claimed once by concurrent appliers', async () => {
    const stores = await Promise.all(Array.from({ length: 4 }, () => b.open()));
    const ps = new SqlPlanStore(stores[0]!);
    const p = plan();
    const id = await ps.save(p, { pipeline: { name: 'p' }, file: 'p.yaml' });
    expect(id).toMatch(/^p[0-9a-f]{32}$/);
    // the same plan saved again gets another id (fresh nonce)
    expect(await ps.save(plan(), { pipeline: { name: 'p' }, file: 'p.yaml' })).not.toBe(id);
    const other = new SqlPlanStore(stores[1]!);
    const stored = await other.get(id);
    expect(stored?.plan.inputs).toEqual({ a: 1 });
    expect(await other.verify(id, stored!)).toBe(true);
    expect(await other.verify(id, { ...stored!, plan: { ...stored!.plan, inputs: { a: 2 } } })).toBe(false);
    expect(await other.get('p0000000000')).toBeUndefined();
    expect(await other.get('../etc')).toBeUndefined();
    expect(await other.isUsed(id)).toBe(false);
    const claims = await Promise.all(
      stores.flatMap((s) => Array.from({ length: 3 }, () => new SqlPlanStore(s).claim(id))),
    );
    expect(claims.filter(Boolean)).toHaveLength(1);
    expect(await ps.isUsed(id)).toBe(true);
    expect(await ps.claim(id)).toBe(false);
  });

  it('refuses a damaged key with a clear message', async () => {
    const s = await b.open();
    await planKeyOf(s);
    const old = await s.db
      .selectFrom('settings')
      .select('value')
      .where('name', '=', PLAN_KEY_SETTING)
      .executeTakeFirst();
    await s.db.updateTable('settings').set({ value: 'AAAA' }).where('name', '=', PLAN_KEY_SETTING).execute();
    await expect(planKeyOf(s)).rejects.toThrow(/plan key in the store is damaged \(3 bytes, expected 32\)/);
    await s.db.updateTable('settings').set({ value: old!.value }).where('name', '=', PLAN_KEY_SETTING).execute();
  });
});
