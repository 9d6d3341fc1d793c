/**
 * CRM conformance: legacy crm.deal/contact/lead/company (string scalars), filters with every prefix, order,
 * select `*` / `UF_*`, paging with start / start=-1 / keyset, crm.item.* as a typed second view of the same rows,
 * categories, statuses, activities, timeline comments, user fields.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SandboxHandle, startSandbox } from '../../src/sandbox/index.js';
import { expectShape, get, ISO, postJson } from './helpers.js';

let sb: SandboxHandle;
let call: (method: string, params?: Record<string, unknown>) => Promise<any>;
beforeAll(async () => {
  sb = await startSandbox({ plan: 'unlimited', quiet: true, size: 500, seed: 7 });
  call = async (method, params = {}) => (await postJson(sb.webhookUrl + method, params)).body;
});
afterAll(() => sb.close());

/** crm.deal.get doc example: every scalar a string or null. */
const DEAL_SHAPE = {
  ID: 'string',
  TITLE: 'string',
  TYPE_ID: 'string|null',
  STAGE_ID: 'string',
  PROBABILITY: 'string|null',
  CURRENCY_ID: 'string',
  OPPORTUNITY: 'string',
  IS_MANUAL_OPPORTUNITY: 'string',
  TAX_VALUE: 'string|null',
  LEAD_ID: 'string|null',
  COMPANY_ID: 'string|null',
  CONTACT_ID: 'string|null',
  QUOTE_ID: 'string|null',
  BEGINDATE: 'string|null',
  CLOSEDATE: 'string|null',
  ASSIGNED_BY_ID: 'string',
  CREATED_BY_ID: 'string',
  MODIFY_BY_ID: 'string',
  DATE_CREATE: 'string',
  DATE_MODIFY: 'string',
  OPENED: 'string',
  CLOSED: 'string',
  COMMENTS: 'string|null',
  CATEGORY_ID: 'string',
  STAGE_SEMANTIC_ID: 'string',
  IS_NEW: 'string',
  IS_RECURRING: 'string',
  SOURCE_ID: 'string|null',
  MOVED_BY_ID: 'string|null',
  MOVED_TIME: 'string|null',
  UTM_SOURCE: 'string|null',
  LAST_ACTIVITY_TIME: 'string|null',
};

/** crm.item.get doc example (typed camelCase). */
const ITEM_SHAPE = {
  id: 'number',
  title: 'string',
  createdTime: 'string',
  updatedTime: 'string',
  createdBy: 'number',
  updatedBy: 'number',
  assignedById: 'number',
  opened: 'string',
  stageId: 'string',
  categoryId: 'number',
  opportunity: 'number',
  currencyId: 'string',
  contactIds: 'array',
  entityTypeId: 'number',
};

describe('legacy crm.deal.*', () => {
  it('get: the documented shape, all scalars strings, ISO dates, UF fields present', async () => {
    const r = await call('crm.deal.get', { id: 5 });
    expectShape(r.result, DEAL_SHAPE);
    expect(r.result.DATE_CREATE).toMatch(ISO);
    expect(Object.keys(r.result).some((k) => k.startsWith('UF_CRM_'))).toBe(true);
    expect(r.total).toBeUndefined();
  });

  it('fields: metadata with type/isRequired/isReadOnly/isImmutable/isMultiple/isDynamic/title (+statusType)', async () => {
    const r = await call('crm.deal.fields');
    expectShape(r.result.ID, {
      type: 'string',
      isRequired: 'boolean',
      isReadOnly: 'boolean',
      isImmutable: 'boolean',
      isMultiple: 'boolean',
      isDynamic: 'boolean',
      title: 'string',
    });
    expect(r.result.TYPE_ID).toMatchObject({ type: 'crm_status', statusType: 'DEAL_TYPE' });
    expect(r.result.UF_CRM_1700000000001.isDynamic).toBe(true);
  });

  it('add → update → get → delete round trip; defaults and stage semantics', async () => {
    const id = (await call('crm.deal.add', { fields: { TITLE: 'Round trip', OPPORTUNITY: 1000, ASSIGNED_BY_ID: 2 } }))
      .result;
    expect(Number.isInteger(id)).toBe(true);
    let d = (await call('crm.deal.get', { id })).result;
    expect(d).toMatchObject({
      TITLE: 'Round trip',
      OPPORTUNITY: '1000.00',
      CATEGORY_ID: '0',
      STAGE_ID: 'NEW',
      STAGE_SEMANTIC_ID: 'P',
      CLOSED: 'N',
      ASSIGNED_BY_ID: '2',
      CREATED_BY_ID: '1',
    });
    expect((await call('crm.deal.update', { id, fields: { STAGE_ID: 'WON' } })).result).toBe(true);
    d = (await call('crm.deal.get', { id })).result;
    expect(d).toMatchObject({ STAGE_ID: 'WON', STAGE_SEMANTIC_ID: 'S', CLOSED: 'Y' });
    const bad = await postJson(sb.webhookUrl + 'crm.deal.update', { id, fields: { STAGE_ID: 'C9:NOPE' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('');
    expect((await call('crm.deal.delete', { id })).result).toBe(true);
    expect((await call('crm.deal.get', { id })).error_description).toBe('Not found');
  });

  it('add without TITLE names the deal by its id', async () => {
    const id = (await call('crm.deal.add', { fields: {} })).result;
    expect((await call('crm.deal.get', { id })).result.TITLE).toMatch(new RegExp(`#${id}$`));
  });

  it('list: default select is * + UF_*, multifields only when selected', async () => {
    const r = await call('crm.contact.list', { filter: { '<=ID': 3 } });
    expect(r.result[0]).toHaveProperty('NAME');
    expect(r.result[0]).not.toHaveProperty('PHONE');
    expect(r.result[0]).toHaveProperty('UF_CRM_1700000000003');
    const s = await call('crm.contact.list', { filter: { '<=ID': 3 }, select: ['ID', 'PHONE', 'EMAIL'] });
    expect(Object.keys(s.result[0]).sort()).toEqual(['EMAIL', 'ID', 'PHONE']);
    const uf = await call('crm.deal.list', { filter: { ID: 1 }, select: ['UF_*'] });
    expect(Object.keys(uf.result[0]).every((k) => k === 'ID' || k.startsWith('UF_'))).toBe(true);
  });
});

describe('the crm.deal.list docs example (uppercase SELECT/FILTER/ORDER)', () => {
  it('answers the documented request with the documented shape', async () => {
    const mk = (TITLE: string, OPPORTUNITY: number, ASSIGNED_BY_ID: number) =>
      call('crm.deal.add', {
        fields: {
          TITLE,
          OPPORTUNITY,
          ASSIGNED_BY_ID,
          CATEGORY_ID: 1,
          STAGE_ID: 'C1:NEW',
          TYPE_ID: 'COMPLEX',
          IS_MANUAL_OPPORTUNITY: 'Y',
        },
      });
    await mk('[A] Docs example deal aa', 19999.99, 1);
    await mk('[B] Docs example deal ba', 12500, 6);
    await mk('[C] Docs example deal cb', 15000, 6); // title does not end with "a"
    await mk('[D] Docs example deal da', 25000, 1); // amount out of range
    const sixMonthsAgo = new Date(Date.now() - 182 * 86_400_000).toISOString().slice(0, 10);
    const r = await postJson(sb.webhookUrl + 'crm.deal.list', {
      SELECT: [
        'ID',
        'TITLE',
        'TYPE_ID',
        'CATEGORY_ID',
        'STAGE_ID',
        'OPPORTUNITY',
        'IS_MANUAL_OPPORTUNITY',
        'ASSIGNED_BY_ID',
        'DATE_CREATE',
      ],
      FILTER: {
        '=%TITLE': '%a',
        CATEGORY_ID: 1,
        TYPE_ID: 'COMPLEX',
        STAGE_ID: 'C1:NEW',
        '>OPPORTUNITY': 10000,
        '<=OPPORTUNITY': 20000,
        IS_MANUAL_OPPORTUNITY: 'Y',
        '@ASSIGNED_BY_ID': [1, 6],
        '>DATE_CREATE': sixMonthsAgo,
      },
      ORDER: { TITLE: 'ASC', OPPORTUNITY: 'ASC' },
    });
    expect(r.status).toBe(200);
    expect(r.body.result.map((d: any) => d.TITLE)).toEqual(['[A] Docs example deal aa', '[B] Docs example deal ba']);
    expect(r.body.total).toBe(2);
    expect(r.body.next).toBeUndefined();
    for (const d of r.body.result) {
      expect(Object.keys(d).sort()).toEqual([
        'ASSIGNED_BY_ID',
        'CATEGORY_ID',
        'DATE_CREATE',
        'ID',
        'IS_MANUAL_OPPORTUNITY',
        'OPPORTUNITY',
        'STAGE_ID',
        'TITLE',
        'TYPE_ID',
      ]);
      expect(Object.values(d).every((v) => typeof v === 'string')).toBe(true);
    }
    expect(r.body.result[0].OPPORTUNITY).toBe('19999.99');
    expect(r.body.result[1].OPPORTUNITY).toBe('12500.00');
    const bad = await postJson(sb.webhookUrl + 'crm.deal.list', { filter: 'oops' });
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({ error: '', error_description: "Parameter 'filter' must be array." });
  });
});

describe('filters, order and paging', () => {
  const ids = async (filter: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
    (
      await call('crm.deal.list', {
        filter,
        select: ['ID', 'TITLE', 'STAGE_ID', 'OPPORTUNITY', 'CATEGORY_ID'],
        order: { ID: 'ASC' },
        ...extra,
      })
    ).result;

  it('= ! != > >= < <= on ID', async () => {
    expect((await ids({ ID: 10 })).map((d: any) => d.ID)).toEqual(['10']);
    expect((await ids({ '=ID': 10 })).map((d: any) => d.ID)).toEqual(['10']);
    expect((await ids({ '>ID': 495, '<=ID': 500 })).map((d: any) => d.ID)).toEqual(['496', '497', '498', '499', '500']);
    expect((await ids({ '>=ID': 499, '<ID': 501 })).map((d: any) => d.ID)).toEqual(['499', '500']);
    expect((await ids({ '<ID': 3 })).map((d: any) => d.ID)).toEqual(['1', '2']);
    expect((await ids({ '<=ID': 2 })).map((d: any) => d.ID)).toEqual(['1', '2']);
    expect((await ids({ '<=ID': 3, '!ID': 2 })).map((d: any) => d.ID)).toEqual(['1', '3']);
    expect((await ids({ '<=ID': 3, '!=ID': 1 })).map((d: any) => d.ID)).toEqual(['2', '3']);
  });

  it('@ / !@ (IN / NOT IN) and array values', async () => {
    expect((await ids({ '@ID': [3, 7, 9] })).map((d: any) => d.ID)).toEqual(['3', '7', '9']);
    expect((await ids({ ID: [4, 5] })).map((d: any) => d.ID)).toEqual(['4', '5']);
    expect((await ids({ '<=ID': 5, '!@ID': [1, 2] })).map((d: any) => d.ID)).toEqual(['3', '4', '5']);
  });

  it('% =% %= !% !=% !%= (LIKE variants) on TITLE', async () => {
    const sample = (await call('crm.deal.get', { id: 12 })).result.TITLE as string;
    const word = sample.split(' ')[0]!;
    const like = await ids({ '%TITLE': word.toLowerCase() });
    expect(like.length).toBeGreaterThan(0);
    expect(like.every((d: any) => d.TITLE.toLowerCase().includes(word.toLowerCase()))).toBe(true);
    expect((await ids({ '=%TITLE': `%#12` })).map((d: any) => d.ID)).toEqual(['12']);
    expect((await ids({ '%=TITLE': `${word}%`, ID: 12 })).map((d: any) => d.ID)).toEqual(['12']);
    const notLike = await ids({ '!%TITLE': word, '<=ID': 50 });
    expect(notLike.every((d: any) => !d.TITLE.includes(word))).toBe(true);
    expect((await ids({ '!=%TITLE': '%#1', '<=ID': 2 })).map((d: any) => d.ID)).toEqual(['2']);
    expect((await ids({ '!%=TITLE': '%#2', '<=ID': 2 })).map((d: any) => d.ID)).toEqual(['1']);
  });

  it('filters on stage, category, amount and dates', async () => {
    const won = await ids({ STAGE_ID: 'WON' });
    expect(won.every((d: any) => d.STAGE_ID === 'WON')).toBe(true);
    const cat = await ids({ CATEGORY_ID: 1 });
    expect(cat.every((d: any) => d.CATEGORY_ID === '1' && d.STAGE_ID.startsWith('C1:'))).toBe(true);
    const big = await ids({ '>OPPORTUNITY': 900000 });
    expect(big.every((d: any) => Number(d.OPPORTUNITY) > 900000)).toBe(true);
    const recent = await call('crm.deal.list', {
      filter: { '>=DATE_CREATE': '2000-01-01T00:00:00+03:00' },
      select: ['ID'],
    });
    expect(recent.total).toBeGreaterThanOrEqual(500);
    const none = await call('crm.deal.list', { filter: { '<DATE_CREATE': '01.01.2000' }, select: ['ID'] });
    expect(none.total).toBe(0);
  });

  it('order by a non-id field, ASC and DESC', async () => {
    const asc = (
      await call('crm.deal.list', { order: { OPPORTUNITY: 'ASC' }, select: ['ID', 'OPPORTUNITY'] })
    ).result.map((d: any) => Number(d.OPPORTUNITY));
    expect(asc).toEqual([...asc].sort((a, b) => a - b));
    const desc = (await call('crm.deal.list', { order: { ID: 'DESC' }, select: ['ID'], filter: { '<=ID': 500 } }))
      .result;
    expect(desc.map((d: any) => d.ID).slice(0, 3)).toEqual(['500', '499', '498']);
  });

  it('start pages through 50 at a time; start=-1 skips the count (total 0, no next); keyset walk reads every row once', async () => {
    const p2 = await call('crm.deal.list', { select: ['ID'], start: 50, order: { ID: 'ASC' } });
    expect(p2.result[0].ID).toBe('51');
    expect(p2.next).toBe(100);
    const fast = await call('crm.deal.list', { select: ['ID'], start: -1, order: { ID: 'ASC' }, filter: { '>ID': 0 } });
    expect(fast.total).toBe(0);
    expect(fast.next).toBeUndefined();
    expect(fast.result).toHaveLength(50);
    let last = 0;
    let seen = 0;
    for (;;) {
      const page = await call('crm.deal.list', {
        select: ['ID'],
        start: -1,
        order: { ID: 'ASC' },
        filter: { '>ID': last },
      });
      seen += page.result.length;
      if (page.result.length < 50) break;
      last = Number(page.result[49].ID);
    }
    const total = (await call('crm.deal.list', { select: ['ID'] })).total;
    expect(seen).toBe(total);
  });
});

describe('crm.item.* is a second view of the same records', () => {
  it('get: typed camelCase item, same values as the legacy view', async () => {
    const legacy = (await call('crm.deal.get', { id: 20 })).result;
    const r = await call('crm.item.get', { entityTypeId: 2, id: 20 });
    expectShape(r.result.item, ITEM_SHAPE);
    expect(r.result.item.id).toBe(20);
    expect(r.result.item.title).toBe(legacy.TITLE);
    expect(r.result.item.stageId).toBe(legacy.STAGE_ID);
    expect(r.result.item.opportunity).toBe(Number(legacy.OPPORTUNITY));
    expect(r.result.item).toHaveProperty('ufCrm_1700000000001');
  });

  it('add via crm.item.add is visible in crm.deal.get; update and delete ([] result)', async () => {
    const add = await call('crm.item.add', {
      entityTypeId: 2,
      fields: { title: 'Item deal', opportunity: 999.99, categoryId: 1 },
    });
    expectShape(add.result.item, ITEM_SHAPE);
    expect(add.result.item.stageId).toBe('C1:NEW');
    const id = add.result.item.id;
    expect((await call('crm.deal.get', { id })).result).toMatchObject({
      TITLE: 'Item deal',
      OPPORTUNITY: '999.99',
      CATEGORY_ID: '1',
    });
    const up = await call('crm.item.update', { entityTypeId: 2, id, fields: { stageId: 'C1:WON' } });
    expect(up.result.item.stageId).toBe('C1:WON');
    const moved = await call('crm.item.update', { entityTypeId: 2, id, fields: { categoryId: 2 } });
    expect(moved.result.item).toMatchObject({ categoryId: 2, stageId: 'C2:NEW' });
    await call('crm.deal.update', { id, fields: { CATEGORY_ID: 0 } });
    expect((await call('crm.deal.get', { id })).result.CATEGORY_ID).toBe('2');
    const del = await call('crm.item.delete', { entityTypeId: 2, id });
    expect(del.result).toEqual([]);
  });

  it('list: {items} + total, filter with logic OR, select', async () => {
    const r = await call('crm.item.list', {
      entityTypeId: 2,
      select: ['id', 'stageId', 'opportunity'],
      filter: { logic: 'OR', '0': { stageId: 'WON' }, '1': { '>opportunity': 950000 } },
      order: { id: 'ASC' },
    });
    expect(Array.isArray(r.result.items)).toBe(true);
    expect(typeof r.total).toBe('number');
    expect(r.result.items.length).toBeGreaterThan(0);
    for (const it of r.result.items) {
      expect(Object.keys(it).sort()).toEqual(['entityTypeId', 'id', 'opportunity', 'stageId']);
      expect(it.stageId === 'WON' || it.opportunity > 950000).toBe(true);
    }
  });

  it('contacts (3), companies (4) and leads (1) with fm multifields', async () => {
    const c = await call('crm.item.get', { entityTypeId: 3, id: 1 });
    expect(c.result.item.entityTypeId).toBe(3);
    expect(Array.isArray(c.result.item.fm)).toBe(true);
    expect(c.result.item.fm[0]).toMatchObject({
      typeId: 'PHONE',
      valueType: expect.any(String),
      value: expect.any(String),
    });
    expect((await call('crm.item.get', { entityTypeId: 4, id: 1 })).result.item.entityTypeId).toBe(4);
    const lead = await call('crm.item.get', { entityTypeId: 1, id: 1 });
    expect(lead.result.item.stageId).toBe((await call('crm.lead.get', { id: 1 })).result.STATUS_ID);
    const spa = await postJson(sb.webhookUrl + 'crm.item.get', { entityTypeId: 1234, id: 1 });
    expect(spa.body.error).toBe('NOT_FOUND');
  });
});

describe('reference data and timeline', () => {
  it('crm.category.list → {categories} + total (typed); crm.status.list → stages with EXTRA', async () => {
    const cats = await call('crm.category.list', { entityTypeId: 2 });
    expect(cats.total).toBe(cats.result.categories.length);
    expectShape(cats.result.categories[0], {
      id: 'number',
      name: 'string',
      sort: 'number',
      entityTypeId: 'number',
      isDefault: 'string',
      originId: 'string',
      originatorId: 'string',
    });
    const st = await call('crm.status.list', { filter: { ENTITY_ID: 'DEAL_STAGE_1' } });
    expect(st.result.length).toBeGreaterThan(1);
    expectShape(st.result[0], {
      ID: 'string',
      ENTITY_ID: 'string',
      STATUS_ID: 'string',
      NAME: 'string',
      SORT: 'string',
      SYSTEM: 'string',
      CATEGORY_ID: 'string|null',
      COLOR: 'string|null',
      SEMANTICS: 'string|null',
      EXTRA: 'object',
    });
    expect(st.result.every((s: any) => s.STATUS_ID.startsWith('C1:'))).toBe(true);
  });

  it('crm.category.add creates a pipeline with stages usable by deals', async () => {
    const c = await call('crm.category.add', { entityTypeId: 2, fields: { name: 'Tenders', sort: 900 } });
    const cid = c.result.category.id;
    const stages = await call('crm.status.list', { filter: { ENTITY_ID: `DEAL_STAGE_${cid}` } });
    expect(stages.result.map((s: any) => s.STATUS_ID)).toContain(`C${cid}:NEW`);
    const id = (await call('crm.deal.add', { fields: { TITLE: 'Tender', CATEGORY_ID: cid } })).result;
    expect((await call('crm.deal.get', { id })).result.STAGE_ID).toBe(`C${cid}:NEW`);
  });

  it('crm.activity.add/list/get, crm.activity.todo.add → {id}, crm.timeline.comment.add → int', async () => {
    const missing = await postJson(sb.webhookUrl + 'crm.activity.add', { fields: { SUBJECT: 'x' } });
    expect(missing.status).toBe(400);
    const id = (
      await call('crm.activity.add', {
        fields: {
          OWNER_TYPE_ID: 2,
          OWNER_ID: 3,
          TYPE_ID: 2,
          SUBJECT: 'Call back',
          RESPONSIBLE_ID: 1,
          COMMUNICATIONS: [{ VALUE: '+70000000000' }],
        },
      })
    ).result;
    expect(Number.isInteger(id)).toBe(true);
    const list = await call('crm.activity.list', {
      filter: { OWNER_TYPE_ID: 2, OWNER_ID: 3 },
      select: ['ID', 'SUBJECT', 'OWNER_ID'],
    });
    expect(list.result.map((a: any) => a.SUBJECT)).toContain('Call back');
    const todo = await call('crm.activity.todo.add', {
      ownerTypeId: 2,
      ownerId: 3,
      deadline: '2030-01-01T10:00:00+03:00',
      title: 'Todo',
    });
    expect(todo.result).toEqual({ id: expect.any(Number) });
    const cm = await call('crm.timeline.comment.add', {
      fields: { ENTITY_ID: 3, ENTITY_TYPE: 'deal', COMMENT: 'Hello' },
    });
    expect(Number.isInteger(cm.result)).toBe(true);
    const cms = await call('crm.timeline.comment.list', { filter: { ENTITY_ID: 3, ENTITY_TYPE: 'deal' } });
    expect(cms.result.map((x: any) => x.COMMENT)).toContain('Hello');
  });

  it('crm.deal.productrows.set replaces the rows and moves OPPORTUNITY; .get lists them', async () => {
    const id = (await call('crm.deal.add', { fields: { TITLE: 'With products' } })).result;
    const set = await call('crm.deal.productrows.set', {
      id,
      rows: [
        { PRODUCT_NAME: 'Widget', PRICE: 100, QUANTITY: 3 },
        { PRODUCT_NAME: 'Gadget', PRICE: 50.5, QUANTITY: 2 },
      ],
    });
    expect(set.result).toBe(true);
    const rows = (await call('crm.deal.productrows.get', { id })).result;
    expect(rows.map((x: any) => x.PRODUCT_NAME)).toEqual(['Widget', 'Gadget']);
    expect((await call('crm.deal.get', { id })).result.OPPORTUNITY).toBe('401.00');
  });

  it('user fields: crm.deal.userfield.add makes a new UF_CRM_ field writable and selectable', async () => {
    const id = (
      await call('crm.deal.userfield.add', {
        fields: { FIELD_NAME: 'PRIORITY_X', USER_TYPE_ID: 'string', EDIT_FORM_LABEL: 'Priority' },
      })
    ).result;
    expect(Number.isInteger(id)).toBe(true);
    const uf = (await call('crm.deal.userfield.list', { filter: { FIELD_NAME: 'UF_CRM_PRIORITY_X' } })).result;
    expect(uf[0]).toMatchObject({ FIELD_NAME: 'UF_CRM_PRIORITY_X', USER_TYPE_ID: 'string', MULTIPLE: 'N' });
    const deal = (await call('crm.deal.add', { fields: { TITLE: 'UF', UF_CRM_PRIORITY_X: 'high' } })).result;
    const got = await call('crm.deal.list', { filter: { ID: deal }, select: ['ID', 'UF_CRM_PRIORITY_X'] });
    expect(got.result[0].UF_CRM_PRIORITY_X).toBe('high');
  });

  it('users: user.get list + total, ACTIVE boolean vs IS_ONLINE "Y"/"N", filters; department.get', async () => {
    const u = await get(sb.webhookUrl + 'user.get', { FILTER: { ACTIVE: true } });
    expect(typeof u.body.total).toBe('number');
    expectShape(u.body.result[0], {
      ID: 'string',
      ACTIVE: 'boolean',
      NAME: 'string',
      LAST_NAME: 'string',
      EMAIL: 'string',
      IS_ONLINE: 'string',
      UF_DEPARTMENT: 'array',
      USER_TYPE: 'string',
    });
    expect(typeof u.body.result[0].UF_DEPARTMENT[0]).toBe('number');
    const one = await get(sb.webhookUrl + 'user.get', { ID: 2 });
    expect(one.body.result.map((x: any) => x.ID)).toEqual(['2']);
    const d = await get(sb.webhookUrl + 'department.get', { ID: 2 });
    expectShape(d.body.result[0], { ID: 'string', NAME: 'string', SORT: 'number', PARENT: 'string' });
  });

  it('workgroups: sonet_group.get list + total; sonet_group.user.get without total', async () => {
    const g = await get(sb.webhookUrl + 'sonet_group.get', { ORDER: { NAME: 'ASC' } });
    expect(g.body.total).toBeGreaterThan(0);
    expectShape(g.body.result[0], {
      ID: 'string',
      NAME: 'string',
      OWNER_ID: 'string',
      NUMBER_OF_MEMBERS: 'string',
      PROJECT: 'string',
      DATE_CREATE: 'string',
    });
    const m = await get(sb.webhookUrl + 'sonet_group.user.get', { ID: g.body.result[0].ID });
    expect(m.body.total).toBeUndefined();
    expect(m.body.result[0]).toEqual({ USER_ID: expect.any(String), ROLE: expect.stringMatching(/^[AEK]$/) });
  });

  it('messenger: im.message.add and im.notify.system.add return ints', async () => {
    expect(Number.isInteger((await call('im.message.add', { DIALOG_ID: 'chat1', MESSAGE: 'Hi' })).result)).toBe(true);
    expect(Number.isInteger((await call('im.notify.system.add', { USER_ID: 2, MESSAGE: 'Ping' })).result)).toBe(true);
    const e = await postJson(sb.webhookUrl + 'im.message.add', { DIALOG_ID: 'chat1' });
    expect(e.status).toBe(400);
  });

  it('a method the sandbox does not emulate answers 404 ERROR_METHOD_NOT_FOUND "not emulated", never a fake success', async () => {
    for (const method of ['calendar.event.add', 'disk.folder.uploadfile', 'lists.element.get']) {
      const r = await postJson(sb.webhookUrl + method, { fields: { NAME: 'Meet' } });
      expect(r.status).toBe(404);
      expect(r.body.error).toBe('ERROR_METHOD_NOT_FOUND');
      expect(r.body.error_description).toContain('not emulated by the b24flow sandbox');
      expect(r.body.result).toBeUndefined();
    }
    const frob = await postJson(sb.webhookUrl + 'calendar.event.frob', {});
    expect(frob.status).toBe(404);
    expect(frob.body.error_description).toBe('Method not found!');
  });
});
