/**
 * CRM methods: legacy `crm.{deal,lead,contact,company}.*` (string scalars, empty-code errors), `crm.item.*`
 * (second, typed camelCase view of the same rows), categories, statuses, activities, timeline comments,
 * user fields. Sources: api-reference/crm/** pages listed in rest-protocol.md §10.2.
 */

import { ApiError, legacyError } from '../apiError.js';
import {
  camelMap,
  camelName,
  camelResolver,
  ENTITY_TYPE_IDS,
  type EntityDef,
  itemRow,
  legacyRow,
} from '../entities.js';
import { type Params, pick, truthy } from '../params.js';
import type { Portal } from '../portal.js';
import { type CallCtx, listOut, PAGE, type Registry, readStart } from '../registry.js';
import { compileFilter, compileOrder, type Row, runQuery } from '../store.js';
import { applyFields, fieldsMeta, fireCrm, legacyList, readId, readObject } from './common.js';

const badId = () => legacyError('ID is not defined or invalid.');
const notFound = () => legacyError('Not found');
const badFields = () => legacyError("Parameter 'fields' must be array.");
const d7 = (code: string, text: string, status = 400) => new ApiError(status, code, text);
const missing = (name: string) => d7('100', `Could not find value for parameter {${name}}`);

function stageDefaults(p: Portal, row: Row, creating: boolean, changed: string[]): void {
  if (creating || changed.includes('CATEGORY_ID')) row.CATEGORY_ID ??= 0;
  const cat = row.CATEGORY_ID ?? 0;
  if (!p.t.category.get(cat)) throw legacyError(`Category ${cat} not found.`);
  const stages = p.stages(cat);
  if (!row.STAGE_ID || (!creating && changed.includes('CATEGORY_ID') && !changed.includes('STAGE_ID'))) {
    row.STAGE_ID = stages[0]?.STATUS_ID ?? 'NEW';
  }
  const entity = cat === 0 ? 'DEAL_STAGE' : `DEAL_STAGE_${cat}`;
  if (!stages.some((s) => s.STATUS_ID === row.STAGE_ID)) {
    throw legacyError(`Stage '${row.STAGE_ID}' does not belong to pipeline ${cat}.`);
  }
  row.STAGE_SEMANTIC_ID = p.semantic(entity, row.STAGE_ID);
  row.CLOSED = row.STAGE_SEMANTIC_ID === 'P' ? 'N' : 'Y';
  row.IS_NEW = /(^|:)NEW$/.test(row.STAGE_ID) ? 'Y' : 'N';
}

/** Create/update with the entity's derived fields (stages, HAS_PHONE, …). */
function write(
  ctx: CallCtx,
  entity: string,
  row: Row,
  input: Record<string, unknown>,
  creating: boolean,
  moveCategory = false,
): string[] {
  const p = ctx.portal;
  const def = p.def(entity);
  const fields = p.fields(def);
  const now = p.clock.now();
  const prevStage = row.STAGE_ID ?? row.STATUS_ID;
  if (creating) {
    for (const [k, f] of Object.entries(fields)) if (!(k in row)) row[k] = f.multi ? [] : null;
  }
  // legacy crm.deal.update ignores CATEGORY_ID (immutable); crm.item.update may move a deal to another pipeline
  const changed = applyFields(p, fields, row, input, { creating: creating || moveCategory });
  if (entity === 'deal') {
    stageDefaults(p, row, creating, changed);
    row.CURRENCY_ID ??= 'RUB';
    row.OPPORTUNITY ??= 0;
    row.IS_MANUAL_OPPORTUNITY ??= 'N';
    row.OPENED ??= 'Y';
    row.IS_RECURRING ??= 'N';
    row.IS_RETURN_CUSTOMER ??= 'N';
    row.IS_REPEATED_APPROACH ??= 'N';
    row.TAX_VALUE ??= 0;
    if (changed.includes('CONTACT_IDS')) row.CONTACT_ID = row.CONTACT_IDS[0] ?? null;
    else if (changed.includes('CONTACT_ID')) row.CONTACT_IDS = row.CONTACT_ID ? [row.CONTACT_ID] : [];
    if (creating || row.STAGE_ID !== prevStage) {
      row.MOVED_TIME = now;
      row.MOVED_BY_ID = ctx.userId;
    }
  }
  if (entity === 'lead') {
    row.STATUS_ID ??= 'NEW';
    if (!p.t.status.rows.some((s) => s.ENTITY_ID === 'STATUS' && s.STATUS_ID === row.STATUS_ID)) {
      throw legacyError(`Status '${row.STATUS_ID}' is not found.`);
    }
    row.STATUS_SEMANTIC_ID = p.semantic('STATUS', row.STATUS_ID);
    row.CURRENCY_ID ??= 'RUB';
    row.OPPORTUNITY ??= 0;
    row.OPENED ??= 'Y';
    row.IS_RETURN_CUSTOMER ??= 'N';
    row.IS_MANUAL_OPPORTUNITY ??= 'N';
    if (row.STATUS_ID !== prevStage) {
      row.MOVED_TIME = now;
      row.MOVED_BY_ID = ctx.userId;
    }
  }
  if ('HAS_PHONE' in fields) {
    row.HAS_PHONE = row.PHONE?.length ? 'Y' : 'N';
    row.HAS_EMAIL = row.EMAIL?.length ? 'Y' : 'N';
    row.HAS_IMOL = row.IM?.length ? 'Y' : 'N';
  }
  if (entity === 'contact') {
    if (changed.includes('COMPANY_IDS')) row.COMPANY_ID = row.COMPANY_IDS[0] ?? null;
    else if (changed.includes('COMPANY_ID')) row.COMPANY_IDS = row.COMPANY_ID ? [row.COMPANY_ID] : [];
    row.OPENED ??= 'Y';
    row.EXPORT ??= 'Y';
  }
  if (entity === 'company') {
    row.OPENED ??= 'Y';
    row.IS_MY_COMPANY ??= 'N';
    row.CURRENCY_ID ??= 'RUB';
  }
  if (creating) {
    row.DATE_CREATE = now;
    row.CREATED_BY_ID = ctx.userId;
    row.ASSIGNED_BY_ID ??= ctx.userId;
  }
  row.DATE_MODIFY = now;
  row.MODIFY_BY_ID = ctx.userId;
  return changed;
}

function insert(ctx: CallCtx, entity: string, input: Record<string, unknown>): Row {
  const p = ctx.portal;
  const table = p.t[entity as 'deal'];
  const row: Row = {};
  write(ctx, entity, row, input, true);
  table.insert(row);
  if (!row.TITLE && entity === 'deal') row.TITLE = `Сделка #${row.ID}`;
  if (!row.TITLE && entity === 'lead') row.TITLE = `Лид #${row.ID}`;
  if (!row.TITLE && entity === 'company') row.TITLE = `Компания #${row.ID}`;
  fireCrm(p, entity, 'ADD', row.ID, ctx.connector);
  return row;
}

function update(ctx: CallCtx, entity: string, row: Row, input: Record<string, unknown>, moveCategory = false): void {
  const backup = { ...row };
  try {
    write(ctx, entity, row, input, false, moveCategory);
  } catch (e) {
    Object.assign(row, backup);
    throw e;
  }
  fireCrm(ctx.portal, entity, 'UPDATE', row.ID, ctx.connector);
}

function remove(ctx: CallCtx, entity: string, id: number): void {
  ctx.portal.t[entity as 'deal'].delete(id);
  fireCrm(ctx.portal, entity, 'DELETE', id, ctx.connector);
}

/** Registers `crm.<entity>.*` in the legacy dialect. */
function legacyCrud(r: Registry, entity: 'deal' | 'lead' | 'contact' | 'company'): void {
  const m = `crm.${entity}.`;
  r.many('crm', {
    [m + 'fields']: (ctx) => ({ result: fieldsMeta(ctx.portal.fields(ctx.portal.def(entity))) }),
    [m + 'list']: (ctx, p) => {
      const def = ctx.portal.def(entity);
      return legacyList(ctx.portal.t[entity], ctx.portal.fields(def), p);
    },
    [m + 'get']: (ctx, p) => {
      const id = readId(p, badId);
      const row = ctx.portal.t[entity].get(id);
      if (!row) throw notFound();
      const fields = ctx.portal.fields(ctx.portal.def(entity));
      const keys = Object.keys(fields).filter((k) => !(entity === 'deal' && k === 'CONTACT_IDS'));
      return { result: legacyRow(fields, row, keys), rows: 1 };
    },
    [m + 'add']: (ctx, p) => {
      const input = readObject(pick(p, 'fields', 'FIELDS'), badFields);
      const row = insert(ctx, entity, input);
      return { result: row.ID, write: true };
    },
    [m + 'update']: (ctx, p) => {
      const id = readId(p, badId);
      const input = readObject(pick(p, 'fields', 'FIELDS'), badFields);
      const row = ctx.portal.t[entity].get(id);
      if (!row) throw notFound();
      update(ctx, entity, row, input);
      return { result: true, write: true };
    },
    [m + 'delete']: (ctx, p) => {
      const id = readId(p, badId);
      if (!ctx.portal.t[entity].get(id)) throw notFound();
      remove(ctx, entity, id);
      return { result: true, write: true };
    },
  });
  const ufEntity = ctx2uf(entity);
  r.many('crm', {
    [m + 'userfield.list']: (ctx, p) => {
      const rows = ctx.portal.t.userfield.rows.filter((u) => u.ENTITY_ID === ufEntity);
      const f = pick(p, 'filter') ?? {};
      const out = rows.filter((u) => Object.entries(f).every(([k, v]) => String(u[k.toUpperCase()]) === String(v)));
      return { result: out.map(ufView), total: out.length };
    },
    [m + 'userfield.get']: (ctx, p) => {
      const u = ctx.portal.t.userfield.get(readId(p, badId));
      if (!u || u.ENTITY_ID !== ufEntity) throw notFound();
      return { result: ufView(u) };
    },
    [m + 'userfield.add']: (ctx, p) => {
      const f = readObject(pick(p, 'fields'), badFields);
      const name = String(f.FIELD_NAME ?? '').toUpperCase();
      if (!name) throw legacyError("Field 'FIELD_NAME' is required.");
      const full = name.startsWith('UF_CRM_') ? name : 'UF_CRM_' + name;
      if (ctx.portal.t.userfield.rows.some((u) => u.ENTITY_ID === ufEntity && u.FIELD_NAME === full)) {
        throw legacyError(`Field '${full}' already exists.`);
      }
      const label = f.EDIT_FORM_LABEL ?? f.LABEL ?? full;
      const row = ctx.portal.ufAdd({
        ENTITY_ID: ufEntity,
        FIELD_NAME: full,
        USER_TYPE_ID: String(f.USER_TYPE_ID ?? 'string'),
        MULTIPLE: truthy(f.MULTIPLE) ? 'Y' : 'N',
        MANDATORY: truthy(f.MANDATORY) ? 'Y' : 'N',
        EDIT_FORM_LABEL: typeof label === 'object' ? String(Object.values(label as object)[0] ?? full) : String(label),
      });
      ctx.portal.dirty();
      return { result: row.ID, write: true };
    },
    [m + 'userfield.update']: (ctx, p) => {
      const u = ctx.portal.t.userfield.get(readId(p, badId));
      if (!u || u.ENTITY_ID !== ufEntity) throw notFound();
      const f = readObject(pick(p, 'fields'), badFields);
      for (const k of [
        'SORT',
        'MANDATORY',
        'SHOW_FILTER',
        'SHOW_IN_LIST',
        'EDIT_IN_LIST',
        'XML_ID',
        'EDIT_FORM_LABEL',
      ]) {
        if (f[k] !== undefined) u[k] = f[k];
      }
      ctx.portal.ufEpoch++;
      ctx.portal.dirty();
      return { result: true, write: true };
    },
    [m + 'userfield.delete']: (ctx, p) => {
      const id = readId(p, badId);
      const u = ctx.portal.t.userfield.get(id);
      if (!u || u.ENTITY_ID !== ufEntity) throw notFound();
      ctx.portal.t.userfield.delete(id);
      ctx.portal.dirty();
      return { result: true, write: true };
    },
  });
}

const ctx2uf = (entity: string) => 'CRM_' + entity.toUpperCase();

function ufView(u: Row): Record<string, unknown> {
  return {
    ID: String(u.ID),
    ENTITY_ID: u.ENTITY_ID,
    FIELD_NAME: u.FIELD_NAME,
    USER_TYPE_ID: u.USER_TYPE_ID,
    XML_ID: u.XML_ID,
    SORT: String(u.SORT),
    MULTIPLE: u.MULTIPLE,
    MANDATORY: u.MANDATORY,
    SHOW_FILTER: u.SHOW_FILTER,
    SHOW_IN_LIST: u.SHOW_IN_LIST,
    EDIT_IN_LIST: u.EDIT_IN_LIST,
    IS_SEARCHABLE: u.IS_SEARCHABLE,
    SETTINGS: u.SETTINGS && Object.keys(u.SETTINGS).length ? u.SETTINGS : [],
    EDIT_FORM_LABEL: u.EDIT_FORM_LABEL ?? u.FIELD_NAME,
  };
}

/** crm.item.*: entityTypeId 1/2/3/4 over the same tables. */
function itemMethods(r: Registry): void {
  const entityOf = (p: Params): { entity: string; def: EntityDef } & { portal?: never } => {
    const v = pick(p, 'entityTypeId');
    if (v === undefined || v === '') throw missing('entityTypeId');
    const entity = ENTITY_TYPE_IDS[Number(v)];
    if (!entity) throw d7('NOT_FOUND', 'SPA not found');
    return { entity, def: undefined as unknown as EntityDef };
  };
  const readItemId = (p: Params) => {
    const v = pick(p, 'id');
    if (v === undefined || v === '') throw missing('id');
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw d7('NOT_FOUND', 'Element not found');
    return n;
  };
  /** camelCase input → legacy keys. */
  const fromItem = (portal: Portal, def: EntityDef, input: Record<string, unknown>): Record<string, unknown> => {
    const fields = portal.fields(def);
    const map = camelMap(def, portal.ufs(def.ufEntityId));
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(input)) {
      if (k === 'fm' && Array.isArray(v)) {
        for (const x of v as any[]) {
          const t = String(x.typeId ?? '').toUpperCase();
          if (!fields[t]) continue;
          if (!out[t]) out[t] = [];
          (out[t] as unknown[]).push({ VALUE: x.value, VALUE_TYPE: x.valueType ?? 'WORK' });
        }
        continue;
      }
      const key = map.get(k.toLowerCase()) ?? (fields[k.toUpperCase()] ? k.toUpperCase() : undefined);
      if (key) out[key] = v;
    }
    return out;
  };
  const view = (portal: Portal, def: EntityDef, row: Row, keys: string[] | null, p?: Params) =>
    itemRow(
      def,
      portal.fields(def),
      row,
      keys,
      String(pick(p ?? {}, 'useOriginalUfNames') ?? 'N').toUpperCase() === 'Y',
    );
  r.many('crm', {
    'crm.item.fields': (ctx, p) => {
      const { entity } = entityOf(p);
      const def = ctx.portal.def(entity);
      const fields = ctx.portal.fields(def);
      const out: Record<string, unknown> = {};
      for (const [k, f] of Object.entries(fieldsMeta(fields))) {
        out[camelName(k, fields[k])] = { ...(f as object), upperName: k };
      }
      return { result: { fields: out } };
    },
    'crm.item.list': (ctx, p) => {
      const { entity } = entityOf(p);
      const portal = ctx.portal;
      const def = portal.def(entity);
      const fields = portal.fields(def);
      const resolve = camelResolver(fields, camelMap(def, portal.ufs(def.ufEntityId)));
      const filter = compileFilter(
        pick(p, 'filter'),
        resolve,
        {
          logic: true,
          unknown: (name) => d7('INVALID_ARG_VALUE', `Invalid filter: field '${name}' is not allowed in filter`),
        },
        'ID',
      );
      const order = compileOrder(pick(p, 'order'), resolve, () =>
        d7('INVALID_ARG_VALUE', 'Invalid order: allowed sort directions are ASC, DESC'),
      );
      const start = readStart(pick(p, 'start'));
      const sel = pick(p, 'select');
      const list = Array.isArray(sel) ? sel : sel && typeof sel === 'object' ? Object.values(sel) : [];
      let keys: string[] | null = null;
      if (list.length && !list.includes('*')) {
        keys = ['ID'];
        for (const s of list) {
          const f = resolve(String(s));
          if (f && !keys.includes(f.key)) keys.push(f.key);
        }
      }
      const q = runQuery(portal.t[entity as 'deal'], filter, order, Math.max(0, start), PAGE, start >= 0);
      const items = q.rows.map((row) => view(portal, def, row, keys, p));
      const out = listOut({ items }, items.length, q.total, start);
      out.counted = start >= 0 ? Math.max(q.scanned, q.total) : 0;
      return out;
    },
    'crm.item.get': (ctx, p) => {
      const { entity } = entityOf(p);
      const row = ctx.portal.t[entity as 'deal'].get(readItemId(p));
      if (!row) throw d7('NOT_FOUND', 'Element not found');
      return { result: { item: view(ctx.portal, ctx.portal.def(entity), row, null, p) }, rows: 1 };
    },
    'crm.item.add': (ctx, p) => {
      const { entity } = entityOf(p);
      const def = ctx.portal.def(entity);
      const input = pick(p, 'fields');
      if (!input || typeof input !== 'object') throw missing('fields');
      const row = wrapD7(() => insert(ctx, entity, fromItem(ctx.portal, def, input)));
      return { result: { item: view(ctx.portal, def, row, null, p) }, write: true };
    },
    'crm.item.update': (ctx, p) => {
      const { entity } = entityOf(p);
      const def = ctx.portal.def(entity);
      const row = ctx.portal.t[entity as 'deal'].get(readItemId(p));
      if (!row) throw d7('NOT_FOUND', 'Element not found');
      const input = pick(p, 'fields');
      if (!input || typeof input !== 'object') throw missing('fields');
      wrapD7(() => update(ctx, entity, row, fromItem(ctx.portal, def, input), true));
      return { result: { item: view(ctx.portal, def, row, null, p) }, write: true };
    },
    'crm.item.delete': (ctx, p) => {
      const { entity } = entityOf(p);
      const id = readItemId(p);
      if (!ctx.portal.t[entity as 'deal'].get(id)) throw d7('NOT_FOUND', 'Element not found');
      remove(ctx, entity, id);
      return { result: [], write: true };
    },
  });
}

function wrapD7<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof ApiError && e.code === '') throw d7('INVALID_ARG_VALUE', e.description);
    throw e;
  }
}

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
  ...(s.ENTITY_ID.startsWith('DEAL_STAGE') || s.ENTITY_ID === 'STATUS'
    ? {
        EXTRA: {
          SEMANTICS: s.SEMANTICS === 'S' ? 'success' : s.SEMANTICS === 'F' ? 'failure' : 'process',
          COLOR: s.COLOR,
        },
      }
    : {}),
});

function categoryMethods(r: Registry): void {
  const readType = (p: Params) => {
    const v = pick(p, 'entityTypeId');
    if (v === undefined || v === '') throw missing('entityTypeId');
    if (Number(v) !== 2) throw d7('NOT_FOUND', 'SPA not found');
    return 2;
  };
  r.many('crm', {
    'crm.category.fields': (_ctx, p) => {
      readType(p);
      const f = (type: string, title: string, ro = false) => ({
        type,
        isRequired: false,
        isReadOnly: ro,
        isImmutable: false,
        isMultiple: false,
        isDynamic: false,
        title,
      });
      return {
        result: {
          fields: {
            id: f('integer', 'ID', true),
            name: f('string', 'Name'),
            sort: f('integer', 'Sort'),
            entityTypeId: f('integer', 'Entity type', true),
            isDefault: f('char', 'Default'),
          },
        },
      };
    },
    'crm.category.list': (ctx, p) => {
      readType(p);
      const cats = [...ctx.portal.t.category.rows].sort((a, b) => a.SORT - b.SORT || a.ID - b.ID).map(catView);
      return { result: { categories: cats }, total: cats.length };
    },
    'crm.category.get': (ctx, p) => {
      readType(p);
      const c = ctx.portal.t.category.get(pick(p, 'id'));
      if (!c) throw d7('NOT_FOUND', 'Category not found');
      return { result: { category: catView(c) } };
    },
    'crm.category.add': (ctx, p) => {
      readType(p);
      const f = readObject(pick(p, 'fields'), () => missing('fields'));
      if (!f.name) throw d7('INVALID_ARG_VALUE', "Field 'name' is required");
      const portal = ctx.portal;
      const c = portal.t.category.insert({
        NAME: String(f.name),
        SORT: Number(f.sort ?? 500),
        IS_DEFAULT: 'N',
        ENTITY_TYPE_ID: 2,
        ORIGIN_ID: '',
        ORIGINATOR_ID: '',
      });
      const entity = `DEAL_STAGE_${c.ID}`;
      portal.addStatus(entity, `C${c.ID}:NEW`, 'Новая', 10, '#39A8EF', null, c.ID);
      portal.addStatus(entity, `C${c.ID}:WON`, 'Сделка успешна', 20, '#7BD500', 'S', c.ID);
      portal.addStatus(entity, `C${c.ID}:LOSE`, 'Сделка провалена', 30, '#FF5752', 'F', c.ID);
      portal.dirty();
      return { result: { category: catView(c) }, write: true };
    },
    'crm.category.update': (ctx, p) => {
      readType(p);
      const c = ctx.portal.t.category.get(pick(p, 'id'));
      if (!c) throw d7('NOT_FOUND', 'Category not found');
      const f = readObject(pick(p, 'fields'), () => missing('fields'));
      if (f.name !== undefined) c.NAME = String(f.name);
      if (f.sort !== undefined) c.SORT = Number(f.sort);
      ctx.portal.dirty();
      return { result: { category: catView(c) }, write: true };
    },
    'crm.category.delete': (ctx, p) => {
      readType(p);
      const id = Number(pick(p, 'id'));
      const c = ctx.portal.t.category.get(id);
      if (!c) throw d7('NOT_FOUND', 'Category not found');
      if (c.IS_DEFAULT === 'Y') throw d7('ACCESS_DENIED', 'Default category cannot be deleted', 400);
      if (ctx.portal.t.deal.rows.some((d) => d.CATEGORY_ID === id))
        throw d7('CATEGORY_NOT_EMPTY', 'Category has deals');
      ctx.portal.t.category.delete(id);
      ctx.portal.dirty();
      return { result: [], write: true };
    },
    // legacy names (deprecated) the MVP-era code uses
    'crm.dealcategory.list': (ctx) => {
      const rows = ctx.portal.t.category.rows.filter((c) => c.ID > 0);
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
      const m = /^DEAL_STAGE(?:_(\d+))?$/.exec(String(f.ENTITY_ID));
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
      const ids = [...new Set(ctx.portal.t.status.rows.map((s) => s.ENTITY_ID as string))];
      return { result: ids.map((id) => ({ ID: id, NAME: id })) };
    },
    'crm.status.entity.items': (ctx, p) => {
      const entity = String(pick(p, 'entityId') ?? '');
      const rows = ctx.portal.t.status.rows.filter((s) => s.ENTITY_ID === entity).sort((a, b) => a.SORT - b.SORT);
      return { result: rows.map((s) => ({ NAME: s.NAME, SORT: String(s.SORT), STATUS_ID: s.STATUS_ID })) };
    },
  });
}

function activityMethods(r: Registry): void {
  const act = (ctx: CallCtx) => ctx.portal.fields(ctx.portal.def('activity'));
  r.many('crm', {
    'crm.activity.fields': (ctx) => ({ result: fieldsMeta(act(ctx)) }),
    'crm.activity.list': (ctx, p) => legacyList(ctx.portal.t.activity, act(ctx), p),
    'crm.activity.get': (ctx, p) => {
      const row = ctx.portal.t.activity.get(readId(p, badId));
      if (!row) throw notFound();
      return { result: legacyRow(act(ctx), row, Object.keys(act(ctx))), rows: 1 };
    },
    'crm.activity.add': (ctx, p) => {
      const f = readObject(pick(p, 'fields'), badFields);
      for (const k of ['OWNER_ID', 'OWNER_TYPE_ID', 'TYPE_ID']) {
        if (f[k] === undefined || f[k] === '') throw legacyError(`The field ${k} is not defined or invalid.`);
      }
      const portal = ctx.portal;
      const now = portal.clock.now();
      const row: Row = {};
      for (const [k, fd] of Object.entries(act(ctx))) row[k] = fd.multi ? [] : null;
      applyFields(portal, act(ctx), row, f, { creating: true });
      row.CREATED = now;
      row.LAST_UPDATED = now;
      row.AUTHOR_ID = ctx.userId;
      row.EDITOR_ID = ctx.userId;
      row.RESPONSIBLE_ID ??= ctx.userId;
      row.COMPLETED ??= 'N';
      row.PROVIDER_ID ??= 'CRM_TODO';
      row.SETTINGS ??= [];
      portal.t.activity.insert(row);
      fireCrm(portal, 'activity', 'ADD', row.ID, ctx.connector);
      return { result: row.ID, write: true };
    },
    'crm.activity.update': (ctx, p) => {
      const row = ctx.portal.t.activity.get(readId(p, badId));
      if (!row) throw notFound();
      applyFields(ctx.portal, act(ctx), row, readObject(pick(p, 'fields'), badFields), { creating: false });
      row.LAST_UPDATED = ctx.portal.clock.now();
      fireCrm(ctx.portal, 'activity', 'UPDATE', row.ID, ctx.connector);
      return { result: true, write: true };
    },
    'crm.activity.delete': (ctx, p) => {
      const id = readId(p, badId);
      if (!ctx.portal.t.activity.get(id)) throw notFound();
      ctx.portal.t.activity.delete(id);
      fireCrm(ctx.portal, 'activity', 'DELETE', id, ctx.connector);
      return { result: true, write: true };
    },
    'crm.activity.todo.add': (ctx, p) => {
      for (const k of ['ownerTypeId', 'ownerId', 'deadline']) if (pick(p, k) === undefined) throw missing(k);
      const portal = ctx.portal;
      const now = portal.clock.now();
      const row: Row = {};
      for (const [k, fd] of Object.entries(act(ctx))) row[k] = fd.multi ? [] : null;
      applyFields(
        portal,
        act(ctx),
        row,
        {
          OWNER_TYPE_ID: pick(p, 'ownerTypeId'),
          OWNER_ID: pick(p, 'ownerId'),
          DEADLINE: pick(p, 'deadline'),
          SUBJECT: pick(p, 'title') ?? '',
          DESCRIPTION: pick(p, 'description') ?? '',
          RESPONSIBLE_ID: pick(p, 'responsibleId') ?? ctx.userId,
          TYPE_ID: 6,
        },
        { creating: true },
      );
      Object.assign(row, {
        CREATED: now,
        LAST_UPDATED: now,
        AUTHOR_ID: ctx.userId,
        EDITOR_ID: ctx.userId,
        COMPLETED: 'N',
        PROVIDER_ID: 'CRM_TODO',
        PROVIDER_TYPE_ID: 'TODO',
        SETTINGS: [],
      });
      portal.t.activity.insert(row);
      fireCrm(portal, 'activity', 'ADD', row.ID, ctx.connector);
      return { result: { id: row.ID }, write: true };
    },
  });
  const tc = (ctx: CallCtx) => ctx.portal.def('timeline_comment').fields;
  r.many('crm', {
    'crm.timeline.comment.fields': (ctx) => ({ result: fieldsMeta(tc(ctx)) }),
    'crm.timeline.comment.list': (ctx, p) => legacyList(ctx.portal.t.timeline_comment, tc(ctx), p),
    'crm.timeline.comment.get': (ctx, p) => {
      const row = ctx.portal.t.timeline_comment.get(readId(p, badId));
      if (!row) throw notFound();
      return { result: legacyRow(tc(ctx), row, Object.keys(tc(ctx))) };
    },
    'crm.timeline.comment.add': (ctx, p) => {
      const f = readObject(pick(p, 'fields'), badFields);
      for (const k of ['ENTITY_ID', 'ENTITY_TYPE', 'COMMENT']) {
        if (f[k] === undefined || f[k] === '') throw legacyError(`The field ${k} is not defined or invalid.`);
      }
      const type = String(f.ENTITY_TYPE).toLowerCase();
      const table = (ctx.portal.t as any)[type];
      if (!['deal', 'lead', 'contact', 'company'].includes(type) || !table.get(f.ENTITY_ID)) {
        throw legacyError('Entity not found.');
      }
      const row = ctx.portal.t.timeline_comment.insert({
        ENTITY_ID: Number(f.ENTITY_ID),
        ENTITY_TYPE: type,
        CREATED: ctx.portal.clock.now(),
        COMMENT: String(f.COMMENT),
        AUTHOR_ID: f.AUTHOR_ID ? Number(f.AUTHOR_ID) : ctx.userId,
        FILES: null,
      });
      fireCrm(ctx.portal, 'timeline_comment', 'ADD', row.ID, ctx.connector);
      return { result: row.ID, write: true };
    },
    'crm.timeline.comment.update': (ctx, p) => {
      const row = ctx.portal.t.timeline_comment.get(readId(p, badId));
      if (!row) throw notFound();
      const f = readObject(pick(p, 'fields'), badFields);
      if (f.COMMENT !== undefined) row.COMMENT = String(f.COMMENT);
      fireCrm(ctx.portal, 'timeline_comment', 'UPDATE', row.ID, ctx.connector);
      return { result: row.ID, write: true };
    },
    'crm.timeline.comment.delete': (ctx, p) => {
      const id = readId(p, badId);
      if (!ctx.portal.t.timeline_comment.get(id)) throw notFound();
      ctx.portal.t.timeline_comment.delete(id);
      fireCrm(ctx.portal, 'timeline_comment', 'DELETE', id, ctx.connector);
      return { result: true, write: true };
    },
  });
  r.many('crm', {
    'crm.deal.contact.items.get': (ctx, p) => {
      const d = ctx.portal.t.deal.get(readId(p, badId));
      if (!d) throw notFound();
      return {
        result: (d.CONTACT_IDS as number[]).map((c, i) => ({
          CONTACT_ID: c,
          SORT: (i + 1) * 10,
          ROLE_ID: 0,
          IS_PRIMARY: i === 0 ? 'Y' : 'N',
        })),
      };
    },
    'crm.deal.contact.items.set': (ctx, p) => {
      const d = ctx.portal.t.deal.get(readId(p, badId));
      if (!d) throw notFound();
      const items = (pick(p, 'items') ?? []) as any[];
      const ids = Object.values(items)
        .map((x: any) => Number(x.CONTACT_ID))
        .filter(Boolean);
      update(ctx, 'deal', d, { CONTACT_IDS: ids });
      return { result: true, write: true };
    },
    'crm.deal.contact.add': (ctx, p) => {
      const d = ctx.portal.t.deal.get(readId(p, badId));
      if (!d) throw notFound();
      const f = readObject(pick(p, 'fields'), badFields);
      const c = Number(f.CONTACT_ID);
      if (!ctx.portal.t.contact.get(c)) throw legacyError('Contact not found.');
      update(ctx, 'deal', d, { CONTACT_IDS: [...new Set([...(d.CONTACT_IDS as number[]), c])] });
      return { result: true, write: true };
    },
  });
}

/** crm.duplicate.findbycomm: ids of leads/contacts/companies having one of the phones or e-mails. */
function duplicateMethods(r: Registry): void {
  r.many('crm', {
    'crm.duplicate.findbycomm': (ctx, p) => {
      const type = String(pick(p, 'type') ?? '').toUpperCase();
      if (type !== 'EMAIL' && type !== 'PHONE') throw legacyError("Parameter 'type' must be EMAIL or PHONE.");
      const raw = pick(p, 'values');
      const values = (Array.isArray(raw) ? raw : raw && typeof raw === 'object' ? Object.values(raw) : [raw])
        .filter((v) => v !== undefined && v !== null && v !== '')
        .map((v) => (type === 'PHONE' ? String(v).replace(/\D/g, '').slice(-10) : String(v).toLowerCase()));
      if (!values.length) throw legacyError("Parameter 'values' must be array.");
      if (values.length > 20) throw legacyError('Too many values (maximum 20).');
      const want = String(pick(p, 'entity_type') ?? '').toUpperCase();
      const out: Record<string, number[]> = {};
      for (const entity of ['lead', 'contact', 'company'] as const) {
        if (want && want !== entity.toUpperCase()) continue;
        const ids: number[] = [];
        for (const row of ctx.portal.t[entity].rows) {
          const list = (row[type] as { VALUE: string }[] | undefined) ?? [];
          if (
            list.some((x) =>
              values.includes(type === 'PHONE' ? x.VALUE.replace(/\D/g, '').slice(-10) : x.VALUE.toLowerCase()),
            )
          )
            ids.push(row.ID);
        }
        if (ids.length) out[entity.toUpperCase()] = ids;
      }
      return { result: Object.keys(out).length ? out : [], counted: ctx.portal.t.contact.size };
    },
  });
}

/** crm.{deal,lead}.productrows.get/set: product rows per owner (set replaces all; the amount follows). */
function productRowMethods(r: Registry): void {
  for (const entity of ['deal', 'lead'] as const) {
    const ownerType = entity === 'deal' ? 'D' : 'L';
    const view = (x: Row) => ({
      ID: String(x.ID),
      OWNER_ID: String(x.OWNER_ID),
      OWNER_TYPE: ownerType,
      PRODUCT_ID: x.PRODUCT_ID,
      PRODUCT_NAME: x.PRODUCT_NAME,
      PRICE: x.PRICE,
      PRICE_EXCLUSIVE: x.PRICE,
      PRICE_NETTO: x.PRICE,
      PRICE_BRUTTO: x.PRICE,
      QUANTITY: x.QUANTITY,
      DISCOUNT_TYPE_ID: 2,
      DISCOUNT_RATE: 0,
      DISCOUNT_SUM: 0,
      TAX_RATE: null,
      TAX_INCLUDED: 'N',
      CUSTOMIZED: 'Y',
      MEASURE_CODE: 796,
      MEASURE_NAME: 'шт',
      SORT: x.SORT,
    });
    r.many('crm', {
      [`crm.${entity}.productrows.get`]: (ctx, p) => {
        const id = readId(p, badId);
        if (!ctx.portal.t[entity].get(id)) throw notFound();
        const rows = ctx.portal
          .genericTable('crm.productrow')
          .rows.filter((x) => x.OWNER_TYPE === ownerType && x.OWNER_ID === id);
        return { result: rows.map(view) };
      },
      [`crm.${entity}.productrows.set`]: (ctx, p) => {
        const id = readId(p, badId);
        const owner = ctx.portal.t[entity].get(id);
        if (!owner) throw notFound();
        const raw = pick(p, 'rows');
        const list = Array.isArray(raw) ? raw : raw && typeof raw === 'object' ? Object.values(raw) : [];
        const t = ctx.portal.genericTable('crm.productrow');
        for (const x of t.rows.filter((x) => x.OWNER_TYPE === ownerType && x.OWNER_ID === id)) t.delete(x.ID);
        let sum = 0;
        list.forEach((x: any, i) => {
          const price = Number(x.PRICE ?? 0);
          const qty = Number(x.QUANTITY ?? 1);
          sum += price * qty;
          t.insert({
            OWNER_TYPE: ownerType,
            OWNER_ID: id,
            PRODUCT_ID: Number(x.PRODUCT_ID ?? 0),
            PRODUCT_NAME: String(x.PRODUCT_NAME ?? ''),
            PRICE: price,
            QUANTITY: qty,
            SORT: (i + 1) * 10,
          });
        });
        if (owner.IS_MANUAL_OPPORTUNITY !== 'Y') update(ctx, entity, owner, { OPPORTUNITY: sum });
        ctx.portal.dirty();
        return { result: true, write: true };
      },
    });
  }
}

/** Registers every CRM method. */
export function registerCrm(r: Registry): void {
  duplicateMethods(r);
  productRowMethods(r);
  legacyCrud(r, 'deal');
  legacyCrud(r, 'lead');
  legacyCrud(r, 'contact');
  legacyCrud(r, 'company');
  itemMethods(r);
  categoryMethods(r);
  activityMethods(r);
}

/** Exposed for the simulator: create/update rows the way the API does (fires events). */
export const crmWrites = { insert, update, remove };
