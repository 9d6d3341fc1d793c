/**
 * `b24flow plan` → `b24flow apply <id>` as real processes against the sandbox: confirmation required, single use,
 * refused on drift and after the TTL; `b24flow runs` lists the journal.
 */
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/index.js';
import { all, cli, startPortal, type TestPortal } from './helpers.js';

let p: TestPortal;
beforeAll(async () => {
  p = await startPortal({ size: 80, seed: 3 });
});
afterAll(async () => {
  await p?.close();
});

const stageIds = async (s: string) =>
  (await all<{ ID: string }>(p.client, 'crm.deal.list', { filter: { STAGE_ID: s }, select: ['ID'] }))
    .map((d) => d.ID)
    .sort();

async function plan(from: string, to: string, env = p.env) {
  const r = await cli(
    ['plan', 'pipelines/bulk-stage-move.yaml', '--input', `from=${from}`, '--input', `to=${to}`, '--json'],
    env,
  );
  expect(r.stderr + r.code).toBe('0');
  return JSON.parse(r.stdout) as {
    id: string;
    writes: { diff: { field: string; before: unknown; after: unknown }[] }[];
    risk: string;
  };
}

describe('plan and apply', () => {
  it('applies once with confirmation, then refuses reuse', async () => {
    const moving = await stageIds('NEW');
    expect(moving.length).toBeGreaterThan(0);
    const pl = await plan('NEW', 'EXECUTING');
    expect(pl.risk).toBe('write');
    expect(pl.writes).toHaveLength(moving.length);
    expect(pl.writes[0]!.diff).toEqual([{ field: 'STAGE_ID', before: 'NEW', after: 'EXECUTING' }]);
    expect(await stageIds('NEW')).toEqual(moving);

    const unconfirmed = await cli(['apply', pl.id], p.env);
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.stderr).toContain('--confirm-write');
    expect(await stageIds('NEW')).toEqual(moving);

    const ok = await cli(['apply', pl.id, '--confirm-write'], p.env);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain(`Updated ${moving.length} deal`);
    expect(await stageIds('NEW')).toEqual([]);

    const reuse = await cli(['apply', pl.id, '--confirm-write'], p.env);
    expect(reuse.code).toBe(2);
    expect(reuse.stderr).toContain('already used');
  });

  it('refuses when the data drifted since the plan', async () => {
    const moving = await stageIds('PREPARATION');
    expect(moving.length).toBeGreaterThan(0);
    const pl = await plan('PREPARATION', 'FINAL_INVOICE');
    await p.client.call('crm.deal.update', { id: moving[0], fields: { TITLE: 'changed behind the plan' } });
    const r = await cli(['apply', pl.id, '--confirm-write'], p.env);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('drifted');
    expect(await stageIds('PREPARATION')).toEqual(moving);
  });

  it('refuses an expired plan', async () => {
    const env = { ...p.env, B24FLOW_PLAN_TTL_MS: '1' };
    const pl = await plan('EXECUTING', 'NEW', env);
    await new Promise((r) => setTimeout(r, 20));
    const r = await cli(['apply', pl.id, '--confirm-write'], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('expired');
  });

  it('lists runs from the journal', async () => {
    const r = await cli(['runs', '--json'], p.env);
    expect(r.code).toBe(0);
    const runs = JSON.parse(r.stdout) as { pipeline: string; status: string; mode: string }[];
    expect(runs.some((x) => x.pipeline === 'bulk-stage-move' && x.status === 'completed' && x.mode === 'full')).toBe(
      true,
    );
    const text = await cli(['runs'], p.env);
    expect(text.stdout).toMatch(/bulk-stage-move\s+full\s+completed\s+\d+ writes/);
  });
});

/**
 * The approval is bound to the plan's content: the id is a keyed hash of what `apply` acts on, so an edited plan
 * file, a forged id or the id of a plan that was never stored are refused, and the drift refusal names a plan that
 * `apply` accepts. A portal of its own, so that the stages above do not matter.
 */
describe('a plan is bound to its content', () => {
  let q: TestPortal;
  let store: Store | undefined;
  beforeAll(async () => {
    q = await startPortal({ size: 60, seed: 11 });
  });
  afterAll(async () => {
    await store?.close();
    await q?.close();
  });

  /** Stage of every deal, by id: nothing was written when this is unchanged. */
  const stages = async () =>
    Object.fromEntries(
      (await all<{ ID: string; STAGE_ID: string }>(q.client, 'crm.deal.list', { select: ['ID', 'STAGE_ID'] })).map(
        (d) => [d.ID, d.STAGE_ID],
      ),
    );
  /** The stage with most deals (`from`), a stage with other deals, a target stage and another one. */
  const twoStages = async () => {
    const by = new Map<string, string[]>();
    for (const [id, s] of Object.entries(await stages())) by.set(s, [...(by.get(s) ?? []), id]);
    const [[from, moving], [other, others]] = [...by].sort((a, b) => b[1].length - a[1].length) as [
      [string, string[]],
      [string, string[]],
    ];
    const [to, evil] = ['WON', 'LOSE', 'PREPARATION'].filter((x) => x !== from) as [string, string];
    return { from, moving, other, others, to, evil };
  };
  // the plans as stored (the store's `plans` table), edited behind b24flow's back as a file could be
  const db = async () => {
    store ??= await openStore({ dataDir: q.dataDir });
    return store.db;
  };
  type StoredFile = {
    plan: { id: string; inputs: Record<string, unknown>; writes: { params: { id: unknown } }[] };
  };
  const readPlan = async (id: string) =>
    JSON.parse(
      (await (await db()).selectFrom('plans').select('body_json').where('plan_id', '=', id).executeTakeFirstOrThrow())
        .body_json,
    ) as StoredFile;
  const writePlan = async (id: string, s: StoredFile) => {
    const body_json = JSON.stringify(s);
    await (await db())
      .insertInto('plans')
      .values({ plan_id: id, body_json, created_ms: Date.now(), expires_ms: Date.now() + 600_000, used_ms: null })
      .onConflict((oc) => oc.column('plan_id').doUpdateSet({ body_json }))
      .execute();
  };
  const makePlan = async (from: string, to: string) => {
    const r = await cli(
      ['plan', 'pipelines/bulk-stage-move.yaml', '--input', `from=${from}`, '--input', `to=${to}`, '--json'],
      q.env,
    );
    expect(r.stderr + r.code).toBe('0');
    return JSON.parse(r.stdout) as { id: string; writes: unknown[] };
  };

  it('refuses a plan whose writes were edited (another record id); nothing is written', async () => {
    const { from, moving, other, others, to } = await twoStages();
    const pl = await makePlan(from, to);
    expect(pl.writes).toHaveLength(moving.length);
    const before = await stages();
    const s = await readPlan(pl.id);
    s.plan.writes[0]!.params.id = others[0];
    await writePlan(pl.id, s);
    const r = await cli(['apply', pl.id, '--confirm-write'], q.env);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`plan ${pl.id} was changed after it was made`);
    expect(await stages()).toEqual(before);
    expect(before[others[0]!]).toBe(other);
  });

  it('refuses an edited plan under the id the drift message names, and a forged id', async () => {
    const { from, to, evil } = await twoStages();
    const pl = await makePlan(from, to);
    const before = await stages();
    const s = await readPlan(pl.id);
    s.plan.inputs.to = evil;
    await writePlan(pl.id, s);
    const first = await cli(['apply', pl.id, '--confirm-write'], q.env);
    expect(first.code).toBe(2);
    // before the seal, the drift message printed the id of the edited plan: writing it into the file applied it
    const named = /new plan (p[0-9a-f]+)/.exec(first.stderr)?.[1];
    if (named) await writePlan(pl.id, { ...s, plan: { ...s.plan, id: named } });
    const second = await cli(['apply', pl.id, '--confirm-write'], q.env);
    expect(second.code).toBe(2);
    expect(second.stderr).toContain('was changed after it was made');
    expect(await stages()).toEqual(before);

    // a plan file under an id of the attacker's choosing, with content that was planned honestly
    const honest = await makePlan(from, to);
    const forged = `p${randomBytes(16).toString('hex')}`;
    const h = await readPlan(honest.id);
    await writePlan(forged, { ...h, plan: { ...h.plan, id: forged } });
    const r = await cli(['apply', forged, '--confirm-write'], q.env);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`plan ${forged} was changed after it was made`);
    expect(await stages()).toEqual(before);
  });

  it('on drift names a new plan that apply accepts', async () => {
    const { from, moving, to } = await twoStages();
    const pl = await makePlan(from, to);
    await q.client.call('crm.deal.update', { id: moving[0], fields: { TITLE: 'changed behind the plan' } });
    const drift = await cli(['apply', pl.id, '--confirm-write'], q.env);
    expect(drift.code).toBe(2);
    expect(drift.stderr).toContain('drifted');
    const named = /new plan (p[0-9a-f]+)/.exec(drift.stderr)?.[1];
    expect(named).toBeDefined();
    const before = await stages();
    expect(moving.every((id) => before[id] === from)).toBe(true);

    const ok = await cli(['apply', named!, '--confirm-write'], q.env);
    expect(ok.stderr + ok.code).toBe('0');
    const after = await stages();
    expect(moving.map((id) => after[id])).toEqual(moving.map(() => to));
    // the refusal printed the new plan for review
    expect(drift.stdout).toContain(`Plan ${named} — bulk-stage-move`);
  });

  it('keeps the plan key in the store (settings row plan-key, 32 bytes), the store file 0600', async () => {
    const row = await (await db())
      .selectFrom('settings')
      .select('value')
      .where('name', '=', 'plan-key')
      .executeTakeFirstOrThrow();
    expect(Buffer.from(row.value, 'base64')).toHaveLength(32);
    expect(statSync(join(q.dataDir, 'b24flow.db')).mode & 0o777).toBe(0o600);
  });
});
