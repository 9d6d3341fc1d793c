/**
 * Smart processes end to end over HTTP (issue 13 item 4): crm.type.* create real entity types, crm.item.* serves
 * their items with their own pipelines (crm.category.*), stages (crm.status.* `DYNAMIC_<id>_STAGE_<cat>`) and user
 * fields (userfieldconfig.add on `CRM_<id>`, values as `ufCrm<id>_…`), file fields stored as file objects,
 * crm.item.productrow.set replacing rows; user fields with LANG and SETTINGS; unknown fields ignored as documented.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SandboxHandle, startSandbox } from '../../src/sandbox/index.js';
import { ISO, postJson } from './helpers.js';

let sb: SandboxHandle;
let call: (method: string, params?: Record<string, unknown>) => Promise<any>;
beforeAll(async () => {
  sb = await startSandbox({ plan: 'unlimited', quiet: true, size: 200, seed: 7 });
  call = async (method, params = {}) => (await postJson(sb.webhookUrl + method, params)).body;
});
afterAll(() => sb.close());

const PIXEL = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';

describe('smart processes', () => {
  let type: any;
  it('crm.type.add creates a type with an entityTypeId ≥ 1030, a default pipeline and stages', async () => {
    const r = await call('crm.type.add', {
      fields: { title: 'Orders', isStagesEnabled: 'Y', isCategoriesEnabled: 'Y' },
    });
    type = r.result.type;
    expect(type).toMatchObject({
      title: 'Orders',
      isStagesEnabled: 'Y',
      isCategoriesEnabled: 'Y',
      isClientEnabled: 'N',
    });
    expect(type.entityTypeId).toBeGreaterThanOrEqual(1030);
    expect(type.entityTypeId % 2).toBe(0);
    expect(type.createdTime).toMatch(ISO);
    expect(type.relations).toEqual({ parent: [], child: [] });
    const second = (await call('crm.type.add', { fields: { title: 'Second' } })).result.type;
    expect(second.entityTypeId).toBe(type.entityTypeId + 2);
    const bad = await call('crm.type.add', { fields: { title: 'Bad', entityTypeId: 1031 } });
    expect(bad).toMatchObject({
      error: 'INVALID_ARG_VALUE',
      error_description: 'entityTypeId is out of allowed range',
    });
    const list = (await call('crm.type.list', { filter: { title: 'Orders' } })).result.types;
    expect(list.map((t: any) => t.id)).toEqual([type.id]);
    expect((await call('crm.type.getByEntityTypeId', { entityTypeId: type.entityTypeId })).result.type.id).toBe(
      type.id,
    );
    expect((await call('crm.type.get', { id: 9999 })).error).toBe('0');
    expect((await call('crm.type.delete', { id: second.id })).result).toEqual([]);
  });

  it('categories and stages of the type', async () => {
    const cats = (await call('crm.category.list', { entityTypeId: type.entityTypeId })).result.categories;
    expect(cats).toHaveLength(1);
    expect(cats[0]).toMatchObject({ entityTypeId: type.entityTypeId, isDefault: 'Y' });
    const stages = (
      await call('crm.status.list', { filter: { ENTITY_ID: `DYNAMIC_${type.entityTypeId}_STAGE_${cats[0].id}` } })
    ).result;
    expect(stages.map((s: any) => s.STATUS_ID)).toEqual(
      ['NEW', 'PREPARATION', 'CLIENT', 'SUCCESS', 'FAIL'].map((c) => `DT${type.entityTypeId}_${cats[0].id}:${c}`),
    );
    expect(stages[3].EXTRA).toEqual({ SEMANTICS: 'success', COLOR: '#7BD500' });
    const extra = (await call('crm.category.add', { entityTypeId: type.entityTypeId, fields: { name: 'Wholesale' } }))
      .result.category;
    expect(extra).toMatchObject({ name: 'Wholesale', entityTypeId: type.entityTypeId, isDefault: 'N' });
    // deals keep their own pipelines
    const deals = (await call('crm.category.list', { entityTypeId: 2 })).result.categories;
    expect(deals.every((c: any) => c.entityTypeId === 2)).toBe(true);
  });

  it('user fields via userfieldconfig.add, items with ufCrm<id>_… values, files as file objects, stage moves', async () => {
    const etid = type.entityTypeId;
    const uf = await call('userfieldconfig.add', {
      moduleId: 'crm',
      field: {
        entityId: `CRM_${type.id}`,
        fieldName: `UF_CRM_${type.id}_WEIGHT`,
        userTypeId: 'double',
        editFormLabel: { en: 'Weight' },
      },
    });
    expect(uf.result.field).toMatchObject({
      entityId: `CRM_${type.id}`,
      fieldName: `UF_CRM_${type.id}_WEIGHT`,
      userTypeId: 'double',
    });
    await call('userfieldconfig.add', {
      moduleId: 'crm',
      field: { entityId: `CRM_${type.id}`, fieldName: `UF_CRM_${type.id}_1721812898903`, userTypeId: 'file' },
    });
    const fields = (await call('crm.item.fields', { entityTypeId: etid })).result.fields;
    expect(fields[`ufCrm${type.id}Weight`]).toMatchObject({ type: 'double', upperName: `UF_CRM_${type.id}_WEIGHT` });
    expect(fields[`ufCrm${type.id}_1721812898903`]).toMatchObject({ type: 'file' });
    const add = await call('crm.item.add', {
      entityTypeId: etid,
      fields: {
        title: 'Order 1',
        opportunity: 500,
        [`ufCrm${type.id}Weight`]: 12.5,
        [`ufCrm${type.id}_1721812898903`]: ['pixel.png', PIXEL],
        noSuchField: 'ignored',
      },
    });
    const item = add.result.item;
    expect(item).toMatchObject({
      title: 'Order 1',
      entityTypeId: etid,
      opportunity: 500,
      [`ufCrm${type.id}Weight`]: 12.5,
    });
    expect(item).not.toHaveProperty('noSuchField');
    expect(item.stageId).toMatch(new RegExp(`^DT${etid}_\\d+:NEW$`));
    const file = item[`ufCrm${type.id}_1721812898903`];
    expect(file).toEqual({
      id: expect.any(Number),
      url: expect.stringMatching(/^http/),
      urlMachine: expect.stringMatching(/^http/),
    });
    const cat = item.categoryId;
    const moved = await call('crm.item.update', {
      entityTypeId: etid,
      id: item.id,
      fields: { stageId: `DT${etid}_${cat}:CLIENT` },
    });
    expect(moved.result.item).toMatchObject({
      stageId: `DT${etid}_${cat}:CLIENT`,
      previousStageId: `DT${etid}_${cat}:NEW`,
    });
    const wrong = await call('crm.item.update', { entityTypeId: etid, id: item.id, fields: { stageId: 'C1:NEW' } });
    expect(wrong.error).toBe('INVALID_ARG_VALUE');
    const list = await call('crm.item.list', {
      entityTypeId: etid,
      filter: { '>opportunity': 100 },
      select: ['id', 'title', 'stageId'],
    });
    expect(list.result.items).toEqual([
      { id: item.id, title: 'Order 1', stageId: `DT${etid}_${cat}:CLIENT`, entityTypeId: etid },
    ]);
    const orig = await call('crm.item.get', { entityTypeId: etid, id: item.id, useOriginalUfNames: 'Y' });
    expect(orig.result.item[`UF_CRM_${type.id}_WEIGHT`]).toBe(12.5);
    // a type with items cannot be deleted
    expect((await call('crm.type.delete', { id: type.id })).error).toBe('BX_ERROR');
  });

  it('crm.item.productrow.set replaces the rows of an item; list, add and the amount follow', async () => {
    const etid = type.entityTypeId;
    const item = (await call('crm.item.add', { entityTypeId: etid, fields: { title: 'With rows' } })).result.item;
    const ownerType = `T${etid.toString(16)}`;
    const set = (rows: unknown[]) =>
      call('crm.item.productrow.set', { ownerType, ownerId: item.id, productRows: rows });
    await set([
      { productName: 'A', price: 10, quantity: 1 },
      { productName: 'B', price: 5, quantity: 2 },
    ]);
    const second = await set([{ productName: 'C', price: 7, quantity: 3 }]);
    expect(second.result.productRows).toHaveLength(1);
    expect(second.result.productRows[0]).toMatchObject({
      ownerType,
      ownerId: item.id,
      productName: 'C',
      price: 7,
      quantity: 3,
    });
    const added = await call('crm.item.productrow.add', {
      fields: { ownerType, ownerId: item.id, productName: 'D', price: 1 },
    });
    expect(added.result.productRow).toMatchObject({ productName: 'D', quantity: 1 });
    const list = await call('crm.item.productrow.list', { filter: { '=ownerType': ownerType, '=ownerId': item.id } });
    expect(list.result.productRows.map((r: any) => r.productName)).toEqual(['C', 'D']);
    expect(list.total).toBe(2);
    expect((await call('crm.item.get', { entityTypeId: etid, id: item.id })).result.item.opportunity).toBe(22);
    const missing = await call('crm.item.productrow.set', { ownerType: 'D', ownerId: 999999, productRows: [] });
    expect(missing).toMatchObject({ error: 'OWNER_NOT_FOUND', error_description: 'Owner was not found' });
    // deals: crm.item.productrow.set is what crm.deal.productrows.get reads
    await call('crm.item.productrow.set', {
      ownerType: 'D',
      ownerId: 1,
      productRows: [{ productName: 'X', price: 3 }],
    });
    const legacy = (await call('crm.deal.productrows.get', { id: 1 })).result;
    expect(legacy.map((r: any) => r.PRODUCT_NAME)).toEqual(['X']);
  });

  it('legacy file fields: fileData is stored and read back as {id, showUrl, downloadUrl}', async () => {
    const id = (await call('crm.contact.add', { fields: { NAME: 'Photo', PHOTO: { fileData: ['me.png', PIXEL] } } }))
      .result;
    const c = (await call('crm.contact.get', { id })).result;
    expect(c.PHOTO).toEqual({ id: expect.any(Number), showUrl: expect.any(String), downloadUrl: expect.any(String) });
    const item = (await call('crm.item.get', { entityTypeId: 3, id })).result.item;
    expect(item.photo).toEqual({ id: c.PHOTO.id, url: expect.any(String), urlMachine: expect.any(String) });
  });
});

describe('user fields: LANG and SETTINGS', () => {
  it('LANG selects the label language and is no filter; SETTINGS is an object', async () => {
    const all = (await call('crm.deal.userfield.list', {})).result;
    const en = (await call('crm.deal.userfield.list', { filter: { LANG: 'en' } })).result;
    expect(en.length).toBe(all.length);
    expect(en.length).toBeGreaterThanOrEqual(3);
    for (const u of en) {
      expect(typeof u.EDIT_FORM_LABEL).toBe('string');
      expect(u.SETTINGS).toEqual(expect.any(Object));
      expect(Array.isArray(u.SETTINGS)).toBe(false);
    }
    const full = (await call('crm.deal.userfield.get', { id: all[0].ID })).result;
    expect(full.EDIT_FORM_LABEL).toEqual(expect.objectContaining({ ru: expect.any(String), en: expect.any(String) }));
    const ru = (await call('crm.deal.userfield.list', { filter: { LANG: 'ru' } })).result;
    expect(ru[0].EDIT_FORM_LABEL).toBe(full.EDIT_FORM_LABEL.ru);
    expect(en[0].EDIT_FORM_LABEL).toBe(full.EDIT_FORM_LABEL.en);
  });
});

describe('seed: staff, departments and CRM user fields', () => {
  it('≥ 50 users with every documented user.get key ("" not null), departments with heads', async () => {
    const first = await call('user.get', {});
    expect(first.total).toBeGreaterThanOrEqual(50);
    const u = first.result[0];
    expect(Object.keys(u).slice(0, 22)).toEqual([
      'ID',
      'ACTIVE',
      'NAME',
      'LAST_NAME',
      'SECOND_NAME',
      'EMAIL',
      'LAST_LOGIN',
      'DATE_REGISTER',
      'TIME_ZONE',
      'IS_ONLINE',
      'TIMESTAMP_X',
      'LAST_ACTIVITY_DATE',
      'PERSONAL_GENDER',
      'PERSONAL_WWW',
      'PERSONAL_BIRTHDAY',
      'PERSONAL_MOBILE',
      'PERSONAL_CITY',
      'WORK_PHONE',
      'WORK_POSITION',
      'UF_EMPLOYMENT_DATE',
      'UF_DEPARTMENT',
      'USER_TYPE',
    ]);
    expect(u.TIMESTAMP_X).toEqual({});
    for (const x of first.result) for (const [k, v] of Object.entries(x)) expect(v, k).not.toBeNull();
    const depts = (await call('department.get', {})).result;
    expect(depts.length).toBeGreaterThanOrEqual(10);
    for (const d of depts) expect(Number(d.UF_HEAD), d.NAME).toBeGreaterThan(0);
    expect(depts.some((d: any) => Number(d.PARENT) > 1)).toBe(true);
  });

  it('user fields on deals, contacts and companies, with values', async () => {
    for (const [entity, min] of [
      ['deal', 5],
      ['contact', 3],
      ['company', 3],
    ] as const) {
      const ufs = (await call(`crm.${entity}.userfield.list`, {})).result;
      expect(ufs.length, entity).toBeGreaterThanOrEqual(min);
    }
    const deal = (await call('crm.deal.get', { id: 1 })).result;
    expect(['101', '102', '103']).toContain(deal.UF_CRM_1700000000005);
    const company = (await call('crm.company.get', { id: 1 })).result;
    expect(company.UF_CRM_1700000000010).toMatch(/^\d{10}$/);
  });
});

describe('seeded smart processes', () => {
  it('smart invoices (31) and the seeded smart process answer crm.item.*; crm.type.list lists only the latter', async () => {
    const inv = await call('crm.item.list', { entityTypeId: 31, select: ['id', 'title', 'stageId'] });
    expect(inv.total).toBe(12);
    expect(inv.result.items[0].stageId).toMatch(/^DT31_\d+:[NSPD]$/);
    const cat = inv.result.items[0].stageId.replace(/^DT31_(\d+):.*$/, '$1');
    const stages = (await call('crm.status.list', { filter: { ENTITY_ID: `SMART_INVOICE_STAGE_${cat}` } })).result;
    expect(stages.map((s: any) => s.STATUS_ID)).toEqual(['N', 'S', 'P', 'D'].map((c) => `DT31_${cat}:${c}`));
    const spa = (await call('crm.type.getByEntityTypeId', { entityTypeId: 1100 })).result.type;
    expect(spa.title).toBe('Договоры');
    expect((await call('crm.type.getByEntityTypeId', { entityTypeId: 31 })).error).toBe('0');
    const titles = (await call('crm.type.list', {})).result.types.map((t: any) => t.entityTypeId);
    expect(titles).toContain(1100);
    expect(titles).not.toContain(31);
    const items = await call('crm.item.list', { entityTypeId: 1100, filter: { '!=categoryId': 0 }, select: ['*'] });
    expect(items.total).toBe(24);
    expect(items.result.items[0][`ufCrm${spa.id}ContractNo`]).toMatch(/^Д-\d{4}$/);
    expect((await call('crm.category.list', { entityTypeId: 1100 })).result.categories).toHaveLength(2);
  });
});
