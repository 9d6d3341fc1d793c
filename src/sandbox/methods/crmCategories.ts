/**
 * Pipelines and stages: `crm.category.*` (deals, entityTypeId 2: a new pipeline gets NEW/WON/LOSE stages; smart
 * processes: the stages of crmTypes.ts in `DYNAMIC_<entityTypeId>_STAGE_<id>`),
 * the deprecated `crm.dealcategory.*`, and the status reference `crm.status.*` (stages, lead statuses, sources, …).
 * Sources: apidocs.bitrix24.com/api-reference/crm/universal/category/crm-category-list.html (and -add, -update,
 * -delete), api-reference/crm/status/crm-status-list.html (and -add, -update, -delete), api-reference/crm/outdated/
 * category-old/crm-deal-category-stage-list.html (b24-spec spec/index.json maps each method to its page).
 */
import { d7Error, legacyError, missingParam } from '../apiError.js';
import { dynamicName, dynamicStageEntity, isDynamicStageEntity } from '../dynamicEntities.js';
import { type Params, pick } from '../params.js';
import type { CallCtx, Registry } from '../registry.js';
import type { Row } from '../store.js';
import { fieldsMeta, legacyList, readId, readObject } from './common.js';
import { addDynamicCategory } from './crmTypes.js';
import { badFields, badId, notFound } from './crmWrites.js';

const catView = (c: Row) => ({
  id: c.ID,
  name: c.NAME,
  sort: c.SORT,
  entityTypeId: c.ENTITY_TYPE_ID,
  isDefault: c.IS_DEFAULT,
  originId: c.ORIGIN_ID ?? '',
  originatorId: c.ORIGINATOR_ID ?? '',
});

const statusView = (s: Row) => ({
  ID: String(s.ID),
  ENTITY_ID: s.ENTITY_ID,
  STATUS_ID: s.STATUS_ID,
  NAME: s.NAME,
  NAME_INIT: s.NAME_INIT ?? '',
  SORT: String(s.SORT),
  SYSTEM: s.SYSTEM,
  CATEGORY_ID: s.CATEGORY_ID === null || s.CATEGORY_ID === undefined ? null : String(s.CATEGORY_ID),
  COLOR: s.COLOR,
  SEMANTICS: s.SEMANTICS,
  ...(s.ENTITY_ID.startsWith('DEAL_STAGE') || s.ENTITY_ID === 'STATUS' || isDynamicStageEntity(s.ENTITY_ID)
    ? {
        EXTRA: {
          SEMANTICS: s.SEMANTICS === 'S' ? 'success' : s.SEMANTICS === 'F' ? 'failure' : 'process',
          COLOR: s.COLOR,
        },
      }
    : {}),
});

/** Reference names the portal shows in `crm.status.entity.types` (others show their ENTITY_ID). */
const ENTITY_NAMES: Record<string, string> = {
  STATUS: 'Lead stages',
  DEAL_STAGE: 'General deal stages',
  SOURCE: 'Sources',
  CONTACT_TYPE: 'Contact type',
  COMPANY_TYPE: 'Company type',
  EMPLOYEES: 'Employees',
  INDUSTRY: 'Industry',
  DEAL_TYPE: 'Deal type',
  HONORIFIC: 'Salutations',
};

/**
 * One row of `crm.status.entity.types`: `{ID, NAME}`, and for a stage list (lead statuses, deal and smart-process
 * pipelines) its `SEMANTIC_INFO` (start, final success/failure stage ids), `ENTITY_TYPE_ID` and pipeline
 * (`PREFIX`, `CATEGORY_ID`) as api-reference/crm/status/crm-status-entity-types.md shows them.
 */
function entityTypeView(id: string, rows: Row[]): Record<string, unknown> {
  const o: Record<string, unknown> = { ID: id, NAME: ENTITY_NAMES[id] ?? id };
  const deal = /^DEAL_STAGE(?:_(\d+))?$/.exec(id);
  const dyn = /^(?:DYNAMIC_(\d+)_STAGE|SMART_INVOICE_STAGE)_(\d+)$/.exec(id);
  if (id !== 'STATUS' && !deal && !dyn) return o;
  const stages = rows.filter((s) => s.ENTITY_ID === id).sort((a, b) => a.SORT - b.SORT);
  const code = (sem: string | null) =>
    stages.find((s) => (sem ? s.SEMANTICS === sem : s.SEMANTICS !== 'S' && s.SEMANTICS !== 'F'))?.STATUS_ID ?? '';
  if (deal?.[1]) o.PARENT_ID = 'DEAL_STAGE';
  o.SEMANTIC_INFO = {
    START_FIELD: code(null),
    FINAL_SUCCESS_FIELD: code('S'),
    FINAL_UNSUCCESS_FIELD: code('F'),
    FINAL_SORT: 0,
  };
  if (deal?.[1]) o.PREFIX = `C${deal[1]}`;
  if (dyn) o.PREFIX = `DT${dyn[1] ?? 31}_${dyn[2]}`;
  if (deal || dyn) o.FIELD_ATTRIBUTE_SCOPE = deal && !deal[1] ? '' : `category_${deal?.[1] ?? dyn![2]}`;
  o.ENTITY_TYPE_ID = id === 'STATUS' ? 1 : deal ? 2 : Number(dyn![1] ?? 31);
  if (deal || dyn) o.CATEGORY_ID = Number(deal ? (deal[1] ?? 0) : dyn![2]);
  return o;
}

/** Registers `crm.category.*`, `crm.dealcategory.*` and `crm.status.*`. */
export function categoryMethods(r: Registry): void {
  /** entityTypeId of a type with pipelines: deals (2) or an existing smart process. */
  const readType = (ctx: CallCtx, p: Params) => {
    const v = pick(p, 'entityTypeId');
    if (v === undefined || v === '') throw missingParam('entityTypeId');
    const etid = Number(v);
    if (etid !== 2 && !ctx.portal.dynamicType(etid)) throw d7Error('NOT_FOUND', 'SPA not found');
    return etid;
  };
  const catOf = (ctx: CallCtx, p: Params, etid: number) => {
    const c = ctx.portal.t.category.get(pick(p, 'id'));
    if (!c || c.ENTITY_TYPE_ID !== etid) throw d7Error('NOT_FOUND', 'Category not found');
    return c;
  };
  r.many('crm', {
    'crm.category.fields': (ctx, p) => {
      readType(ctx, p);
      // upperName: the field's legacy upper-case name (api-reference/crm/universal/category/crm-category-fields.md)
      const f = (type: string, title: string, ro = false, upperName = '') => ({
        type,
        isRequired: false,
        isReadOnly: ro,
        isImmutable: false,
        isMultiple: false,
        isDynamic: false,
        title,
        upperName,
      });
      return {
        result: {
          fields: {
            id: f('integer', 'ID', true, 'ID'),
            name: f('string', 'Name', false, 'NAME'),
            sort: f('integer', 'Sort', false, 'SORT'),
            entityTypeId: f('integer', 'Entity type', true, 'ENTITY_TYPE_ID'),
            isDefault: f('char', 'Default', false, 'IS_DEFAULT'),
            originId: f('string', 'Item ID in data source', false, 'ORIGIN_ID'),
            originatorId: f('string', 'External source', false, 'ORIGINATOR_ID'),
          },
        },
      };
    },
    'crm.category.list': (ctx, p) => {
      const etid = readType(ctx, p);
      const cats = ctx.portal.t.category.rows
        .filter((c) => c.ENTITY_TYPE_ID === etid)
        .sort((a, b) => a.SORT - b.SORT || a.ID - b.ID)
        .map(catView);
      return { result: { categories: cats }, total: cats.length };
    },
    'crm.category.get': (ctx, p) => {
      const c = catOf(ctx, p, readType(ctx, p));
      return { result: { category: catView(c) } };
    },
    'crm.category.add': (ctx, p) => {
      const etid = readType(ctx, p);
      const f = readObject(pick(p, 'fields'), () => missingParam('fields'));
      if (!f.name) throw d7Error('INVALID_ARG_VALUE', "Field 'name' is required");
      const portal = ctx.portal;
      if (etid !== 2) {
        const dc = addDynamicCategory(portal, etid, String(f.name), Number(f.sort ?? 500), f.isDefault === 'Y');
        portal.dirty();
        return { result: { category: catView(dc) }, write: true };
      }
      const c = portal.t.category.insert({
        NAME: String(f.name),
        SORT: Number(f.sort ?? 500),
        IS_DEFAULT: 'N',
        ENTITY_TYPE_ID: 2,
        ORIGIN_ID: String(f.originId ?? ''),
        ORIGINATOR_ID: String(f.originatorId ?? ''),
      });
      const entity = `DEAL_STAGE_${c.ID}`;
      portal.addStatus(entity, `C${c.ID}:NEW`, 'Новая', 10, '#39A8EF', null, c.ID);
      portal.addStatus(entity, `C${c.ID}:WON`, 'Сделка успешна', 20, '#7BD500', 'S', c.ID);
      portal.addStatus(entity, `C${c.ID}:LOSE`, 'Сделка провалена', 30, '#FF5752', 'F', c.ID);
      portal.dirty();
      return { result: { category: catView(c) }, write: true };
    },
    'crm.category.update': (ctx, p) => {
      const c = catOf(ctx, p, readType(ctx, p));
      const f = readObject(pick(p, 'fields'), () => missingParam('fields'));
      if (f.name !== undefined) c.NAME = String(f.name);
      if (f.sort !== undefined) c.SORT = Number(f.sort);
      if (f.originId !== undefined) c.ORIGIN_ID = String(f.originId ?? '');
      if (f.originatorId !== undefined) c.ORIGINATOR_ID = String(f.originatorId ?? '');
      ctx.portal.dirty();
      return { result: { category: catView(c) }, write: true };
    },
    'crm.category.delete': (ctx, p) => {
      const etid = readType(ctx, p);
      const c = catOf(ctx, p, etid);
      const id = c.ID as number;
      if (c.IS_DEFAULT === 'Y') throw d7Error('ACCESS_DENIED', 'Default category cannot be deleted', 400);
      const items = etid === 2 ? ctx.portal.t.deal : ctx.portal.table(dynamicName(etid));
      if (items.rows.some((d) => d.CATEGORY_ID === id)) throw d7Error('CATEGORY_NOT_EMPTY', 'Category has items');
      ctx.portal.t.category.delete(id);
      const stages = etid === 2 ? `DEAL_STAGE_${id}` : dynamicStageEntity(etid, id);
      for (const s of ctx.portal.t.status.rows.filter((s) => s.ENTITY_ID === stages)) ctx.portal.t.status.delete(s.ID);
      ctx.portal.dirty();
      return { result: [], write: true };
    },
    // legacy names (deprecated) the MVP-era code uses
    'crm.dealcategory.list': (ctx) => {
      const rows = ctx.portal.t.category.rows.filter((c) => c.ID > 0 && c.ENTITY_TYPE_ID === 2);
      const result = rows.map((c) => ({
        ID: String(c.ID),
        CREATED_DATE: ctx.portal.nowIso(),
        NAME: c.NAME,
        IS_LOCKED: 'N',
        SORT: String(c.SORT),
      }));
      return { result, total: result.length };
    },
    'crm.dealcategory.stage.list': (ctx, p) => {
      const id = Number(pick(p, 'id') ?? 0);
      const result = ctx.portal.stages(id).map((s) => ({ NAME: s.NAME, SORT: String(s.SORT), STATUS_ID: s.STATUS_ID }));
      return { result };
    },
    'crm.dealcategory.default.get': (ctx) => {
      const c = ctx.portal.t.category.get(0)!;
      return { result: { ID: 0, NAME: c.NAME } };
    },
  });
  r.many('crm', {
    'crm.status.fields': (ctx) => ({ result: fieldsMeta(ctx.portal.def('status').fields) }),
    'crm.status.list': (ctx, p) => {
      const fields = ctx.portal.def('status').fields;
      const res = legacyList(ctx.portal.t.status, fields, p, {
        defaultOrder: { SORT: 'ASC' },
        selectDefaultAll: false,
        render: (row) => statusView(row),
      });
      // crm.status.list answers every row (no paging in practice for reference lists)
      return res;
    },
    'crm.status.get': (ctx, p) => {
      const s = ctx.portal.t.status.get(readId(p, badId));
      if (!s) throw notFound();
      return { result: statusView(s) };
    },
    'crm.status.add': (ctx, p) => {
      const f = readObject(pick(p, 'fields'), badFields);
      if (!f.ENTITY_ID || !f.STATUS_ID || !f.NAME) throw legacyError('ENTITY_ID, STATUS_ID and NAME are required.');
      const m = /^(?:DEAL_STAGE|DYNAMIC_\d+_STAGE|SMART_INVOICE_STAGE)(?:_(\d+))?$/.exec(String(f.ENTITY_ID));
      const cat = m ? Number(m[1] ?? 0) : null;
      const sem = f.SEMANTICS ? String(f.SEMANTICS) : null;
      const s = ctx.portal.addStatus(
        String(f.ENTITY_ID),
        String(f.STATUS_ID),
        String(f.NAME),
        Number(f.SORT ?? 500),
        f.COLOR ? String(f.COLOR) : null,
        sem,
        cat,
      );
      s.SYSTEM = 'N';
      ctx.portal.dirty();
      return { result: s.ID, write: true };
    },
    'crm.status.update': (ctx, p) => {
      const s = ctx.portal.t.status.get(readId(p, badId));
      if (!s) throw notFound();
      const f = readObject(pick(p, 'fields'), badFields);
      for (const k of ['NAME', 'SORT', 'COLOR'])
        if (f[k] !== undefined) s[k] = k === 'SORT' ? Number(f[k]) : String(f[k]);
      ctx.portal.dirty();
      return { result: true, write: true };
    },
    'crm.status.delete': (ctx, p) => {
      const id = readId(p, badId);
      const s = ctx.portal.t.status.get(id);
      if (!s) throw notFound();
      if (s.SYSTEM === 'Y') throw legacyError('System status cannot be deleted.');
      ctx.portal.t.status.delete(id);
      ctx.portal.dirty();
      return { result: true, write: true };
    },
    'crm.status.entity.types': (ctx) => {
      const rows = ctx.portal.t.status.rows;
      // the portal lists lead statuses first, then the other references in their own order
      const ids = [...new Set(['STATUS', ...rows.map((s) => s.ENTITY_ID as string)])].filter((id) =>
        rows.some((s) => s.ENTITY_ID === id),
      );
      return { result: ids.map((id) => entityTypeView(id, rows)) };
    },
    'crm.status.entity.items': (ctx, p) => {
      const entity = String(pick(p, 'entityId') ?? '');
      const rows = ctx.portal.t.status.rows.filter((s) => s.ENTITY_ID === entity).sort((a, b) => a.SORT - b.SORT);
      return { result: rows.map((s) => ({ NAME: s.NAME, SORT: Number(s.SORT), STATUS_ID: s.STATUS_ID })) };
    },
  });
}
