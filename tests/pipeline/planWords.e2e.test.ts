/**
 * Plans in plain words (src/pipeline/planWords.ts) against the sandbox over HTTP: a planned update shows the record's
 * title, the people and the stages by the names the portal gives them (read here through user.get and
 * crm.status.list, never written down), one batch per lookup round and none for a plan described again; an unknown
 * user shows as `user #id`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPipelineText } from '../../src/pipeline/load.js';
import { PlanNames } from '../../src/pipeline/planNames.js';
import { describeWrites } from '../../src/pipeline/planWords.js';
import { type PlannedWrite, planPipeline } from '../../src/pipeline/run/index.js';
import { all, startPortal, type TestPortal } from './helpers.js';

type Row = Record<string, string>;

let p: TestPortal;
beforeAll(async () => {
  p = await startPortal({ size: 20, seed: 5 });
});
afterAll(async () => {
  await p?.close();
});

const userName = (u: Row) => `${u.NAME} ${u.LAST_NAME}`.trim();
const stageNames = async (entityId: string) =>
  new Map(
    (await p.client.call<Row[]>('crm.status.list', { filter: { ENTITY_ID: entityId } })).result.map(
      (s) => [s.STATUS_ID!, s.NAME!] as const,
    ),
  );

describe('describeWrites', () => {
  it('names the people, stages and pipelines of a planned update, once per round', async () => {
    const users = await all<Row>(p.client, 'user.get', {});
    const deals = await all<Row>(p.client, 'crm.deal.list', {
      filter: { CATEGORY_ID: 0 },
      select: ['ID', 'TITLE', 'ASSIGNED_BY_ID', 'STAGE_ID'],
    });
    const deal = deals.find((d) => d.TITLE && d.STAGE_ID !== 'WON')!;
    const other = deals.find((d) => d.ID !== deal.ID && d.TITLE)!;
    const before = users.find((u) => u.ID === String(deal.ASSIGNED_BY_ID))!;
    const after = users.find((u) => u.ID !== before.ID && userName(u))!;
    expect(userName(before)).not.toBe('');
    const stages = await stageNames('DEAL_STAGE');
    const cat1 = await stageNames('DEAL_STAGE_1');
    const pipelines = (
      await p.client.call<{ categories: { id: number; name: string }[] }>('crm.category.list', {
        entityTypeId: 2,
      })
    ).result.categories;
    const pipeline1 = pipelines.find((c) => c.id === 1)!.name;

    const pipeline = loadPipelineText(
      `name: reassign
steps:
  - id: move
    method: crm.deal.update
    params: { id: ${deal.ID}, fields: { ASSIGNED_BY_ID: ${after.ID}, STAGE_ID: WON } }
  - id: other
    method: crm.deal.update
    params: { id: ${other.ID}, fields: { CATEGORY_ID: 1, STAGE_ID: "C1:PREPARATION", COMMENTS: "Duplicate of #${deal.ID}" } }
`,
      'reassign.yaml',
    );
    const plan = await planPipeline(pipeline, { client: p.client, store: false, journal: false });
    expect(plan.writes).toHaveLength(2);
    const otherBefore = (await p.client.call<Row>('crm.deal.get', { id: other.ID })).result;

    const names = new PlanNames(p.client);
    await p.sb.admin.resetStats();
    const lines = await describeWrites(plan.writes, names, 'en');
    expect(lines).toEqual([
      `Update deal “${deal.TITLE}” #${deal.ID}: Responsible: ${userName(before)} → ${userName(after)}; Stage: ${stages.get(deal.STAGE_ID!)} → ${stages.get('WON')}`,
      `Update deal “${other.TITLE}” #${other.ID}: Pipeline: ${pipelines.find((c) => String(c.id) === String(otherBefore.CATEGORY_ID))!.name} → ${pipeline1}; Stage: ${stages.get(otherBefore.STAGE_ID!) ?? otherBefore.STAGE_ID} → ${cat1.get('C1:PREPARATION')}; Comment: ${otherBefore.COMMENTS ? `"${otherBefore.COMMENTS}"` : '""'} → "Duplicate of #${deal.ID}"`,
    ]);
    const first = await p.sb.admin.stats();
    expect(first.requests).toBe(1);
    expect(first.byMethod).toEqual({ batch: 1 });

    const ru = await describeWrites(plan.writes, names, 'ru');
    expect(ru[0]).toBe(
      `Изменить сделку «${deal.TITLE}» #${deal.ID}: Ответственный: ${userName(before)} → ${userName(after)}; Стадия: ${stages.get(deal.STAGE_ID!)} → ${stages.get('WON')}`,
    );
    expect(ru[1]).toContain(`Воронка: `);
    expect((await p.sb.admin.stats()).requests).toBe(1);
  });

  it('falls back to the id for an unknown user, and names creates, deletes and tasks', async () => {
    const [deal] = await all<Row>(p.client, 'crm.deal.list', { select: ['ID', 'TITLE'], order: { ID: 'ASC' } });
    const [contact] = await all<Row>(p.client, 'crm.contact.list', {
      select: ['ID', 'NAME', 'LAST_NAME'],
      order: { ID: 'ASC' },
    });
    const [user] = (await p.client.call<Row[]>('user.get', { ID: 1 })).result;
    const write = (method: string, params: unknown): PlannedWrite => ({
      step: 's',
      key: 'k',
      method,
      entity: 'deal',
      risk: method.endsWith('.delete') ? 'destructive' : 'write',
      params,
      riskFields: [],
    });
    const names = new PlanNames(p.client, { ttlMs: 60_000 });
    await p.sb.admin.resetStats();
    const lines = await describeWrites(
      [
        write('crm.deal.update', { id: deal!.ID, fields: { ASSIGNED_BY_ID: 987654 } }),
        write('crm.deal.add', { fields: { TITLE: 'New one', OPPORTUNITY: 5000, ASSIGNED_BY_ID: 987654 } }),
        write('crm.deal.delete', { id: deal!.ID }),
        write('crm.deal.update', { id: 99999999, fields: { TITLE: 'x'.repeat(200) } }),
        write('tasks.task.update', { taskId: 5, fields: { RESPONSIBLE_ID: 1, AUDITORS: [1, 987654] } }),
        write('crm.contact.add', { fields: { NAME: 'Иван', LAST_NAME: 'Петров', PHONE: [{ VALUE: '+7 900' }] } }),
      ],
      names,
      'en',
    );
    expect(lines[0]).toBe(`Update deal “${deal!.TITLE}” #${deal!.ID}: Responsible → user #987654`);
    expect(lines[1]).toBe('Create deal “New one”: Amount 5000, Responsible user #987654');
    expect(lines[2]).toBe(`Delete deal “${deal!.TITLE}” #${deal!.ID}`);
    expect(lines[3]).toBe(`Update deal #99999999: Title → "${'x'.repeat(79)}…"`);
    expect(lines[4]).toBe(
      `Update task #5: Responsible → ${userName(user!)}; Observers → ${userName(user!)}, user #987654`,
    );
    expect(lines[5]).toBe('Create contact “Иван Петров”: Phone "+7 900"');
    expect((await p.sb.admin.stats()).requests).toBe(1);
    // the missing user and record were cached as missing: asking again sends nothing
    await describeWrites([write('crm.deal.update', { id: 99999999, fields: { ASSIGNED_BY_ID: 987654 } })], names, 'en');
    expect((await p.sb.admin.stats()).requests).toBe(1);
    const ru = await describeWrites([write('crm.contact.delete', { id: contact!.ID })], names, 'ru');
    expect(ru).toEqual([`Удалить контакт «${contact!.NAME} ${contact!.LAST_NAME}» #${contact!.ID}`]);
  });
});

describe('PlanNames', () => {
  it('names a smart-process item and its stages, and asks again after the TTL', async () => {
    const items = (
      await p.client.call<{ items: Record<string, unknown>[] }>('crm.item.list', {
        entityTypeId: 1100,
        select: ['id', 'title', 'categoryId', 'stageId', 'assignedById'],
      })
    ).result.items;
    const item = items.find((i) => i.title)!;
    const list = `DYNAMIC_1100_STAGE_${item.categoryId}`;
    const stages = await stageNames(list);
    const to = [...stages.keys()].find((s) => s !== item.stageId)!;
    const plan = await planPipeline(
      loadPipelineText(
        `name: item-move
steps:
  - id: move
    method: crm.item.update
    params: { entityTypeId: 1100, id: ${item.id}, fields: { stageId: "${to}" } }
`,
        'item-move.yaml',
      ),
      { client: p.client, store: false, journal: false },
    );
    let now = 1_000;
    const names = new PlanNames(p.client, { ttlMs: 500, now: () => now });
    await p.sb.admin.resetStats();
    const [line] = await describeWrites(plan.writes, names, 'en');
    expect(line).toBe(
      `Update item “${item.title}” #${item.id}: Stage: ${stages.get(String(item.stageId))} → ${stages.get(to)}`,
    );
    expect((await p.sb.admin.stats()).requests).toBe(1);
    now += 400;
    await describeWrites(plan.writes, names, 'en');
    expect((await p.sb.admin.stats()).requests).toBe(1);
    now += 200;
    await describeWrites(plan.writes, names, 'en');
    expect((await p.sb.admin.stats()).requests).toBe(2);
    // without a cache (TTL 0) the names of the round just made still show
    const uncached = new PlanNames(p.client, { ttlMs: 0 });
    expect(await describeWrites(plan.writes, uncached, 'en')).toEqual([line]);
  });
});
