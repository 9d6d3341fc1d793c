/**
 * `b24flow plan` → `b24flow apply <id>` as real processes against the sandbox: confirmation required, single use,
 * refused on drift and after the TTL; `b24flow runs` lists the journal.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
