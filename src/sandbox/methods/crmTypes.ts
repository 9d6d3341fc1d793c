/**
 * Smart process types: `crm.type.fields/add/get/getByEntityTypeId/list/update/delete`. A new type gets an
 * entityTypeId (given: even ≥ 1030 or 128–192 and unused; else the next free even id ≥ 1030), a default pipeline
 * (`crm.category.*` with its entityTypeId) with the stages a portal creates (`DT<entityTypeId>_<cat>:NEW`,
 * `PREPARATION`, `CLIENT`, `SUCCESS`, `FAIL` in `DYNAMIC_<entityTypeId>_STAGE_<cat>`), and from then on
 * `crm.item.*` serves its items. A type with items cannot be deleted. Sources:
 * apidocs.bitrix24.com/api-reference/crm/universal/user-defined-object-types/crm-type-add.html (and -get, -list,
 * -update, -delete, -get-by-entity-type-id, -fields), …/user-defined-object-types/index.html.
 */
import { d7Error, missingParam } from '../apiError.js';
import {
  dynamicName,
  dynamicStageEntity,
  dynamicStagePrefix,
  SMART_INVOICE,
  TYPE_FLAGS,
  validDynamicTypeId,
} from '../dynamicEntities.js';
import { type Params, pick } from '../params.js';
import type { Portal } from '../portal.js';
import { isoDate } from '../portalTime.js';
import type { Registry } from '../registry.js';
import { compileFilter, compileOrder, type Row, runQuery } from '../store.js';
import { readObject } from './common.js';

/** The stages a new smart process pipeline starts with: [code, name, color, semantics]. */
const DEFAULT_STAGES: [string, string, string, string | null][] = [
  ['NEW', 'Начало', '#22B9FF', null],
  ['PREPARATION', 'Подготовка', '#FFA900', null],
  ['CLIENT', 'Согласование', '#2FC6F6', null],
  ['SUCCESS', 'Успех', '#7BD500', 'S'],
  ['FAIL', 'Провал', '#FF5752', 'F'],
];

/** The stages of a new smart invoice pipeline (`DT31_<cat>:N` …). */
const INVOICE_STAGES: [string, string, string, string | null][] = [
  ['N', 'Новый', '#22B9FF', null],
  ['S', 'Отправлен клиенту', '#2FC6F6', null],
  ['P', 'Оплачен', '#7BD500', 'S'],
  ['D', 'Отклонён', '#FF5752', 'F'],
];

/** Adds a pipeline of a smart process with the default stages; returns the category row. */
export function addDynamicCategory(portal: Portal, etid: number, name: string, sort: number, isDefault: boolean): Row {
  const c = portal.t.category.insert({
    NAME: name,
    SORT: sort,
    IS_DEFAULT: isDefault ? 'Y' : 'N',
    ENTITY_TYPE_ID: etid,
    ORIGIN_ID: '',
    ORIGINATOR_ID: '',
  });
  const prefix = dynamicStagePrefix(etid, c.ID);
  const first = etid === SMART_INVOICE ? 'N' : 'NEW';
  (etid === SMART_INVOICE ? INVOICE_STAGES : DEFAULT_STAGES).forEach(([code, stage, color, sem], i) => {
    const s = portal.addStatus(dynamicStageEntity(etid, c.ID), prefix + code, stage, (i + 1) * 10, color, sem, c.ID);
    s.SYSTEM = code === first || sem ? 'Y' : 'N';
  });
  return c;
}

/**
 * Stores a new type (every flag at its default) with its default pipeline and stages; returns the type row.
 * `now` in ms. Used by crm.type.add and the seed.
 */
export function addDynamicType(portal: Portal, etid: number, title: string, userId: number, now: number): Row {
  const t = portal.t.crm_type.insert({
    entityTypeId: etid,
    title,
    code: '',
    createdBy: userId,
    updatedBy: userId,
    createdTime: now,
    updatedTime: now,
    ...TYPE_FLAGS,
    relations: { parent: [], child: [] },
    linkedUserFields: {
      'CALENDAR_EVENT|UF_CRM_CAL_EVENT': 'N',
      'TASKS_TASK|UF_CRM_TASK': 'N',
      'TASKS_TASK_TEMPLATE|UF_CRM_TASK': 'N',
    },
  });
  t.defaultCategory = addDynamicCategory(portal, etid, etid === SMART_INVOICE ? 'Счета' : 'Общая', 500, true).ID;
  return t;
}

const yn = (v: unknown): 'Y' | 'N' =>
  v === true || v === 1 || ['Y', '1', 'TRUE'].includes(String(v).toUpperCase()) ? 'Y' : 'N';

const relations = (v: unknown): Record<string, unknown[]> => {
  const out: Record<string, unknown[]> = { parent: [], child: [] };
  if (!v || typeof v !== 'object') return out;
  for (const side of ['parent', 'child'] as const) {
    const list = (v as Record<string, unknown>)[side];
    for (const r of Array.isArray(list) ? list : list && typeof list === 'object' ? Object.values(list) : []) {
      const x = r as Record<string, unknown>;
      if (x?.entityTypeId === undefined) continue;
      out[side]!.push({
        entityTypeId: Number(x.entityTypeId),
        isChildrenListEnabled: yn(x.isChildrenListEnabled),
        isPredefined: 'N',
      });
    }
  }
  return out;
};

/** The documented `type` object; `full` adds relations, linked user fields and sections (add/get/update). */
function typeView(t: Row, full: boolean): Record<string, unknown> {
  const o: Record<string, unknown> = {
    id: t.ID,
    title: t.title,
    code: t.code ?? '',
    createdBy: t.createdBy,
    entityTypeId: t.entityTypeId,
    customSectionId: null,
  };
  for (const k of Object.keys(TYPE_FLAGS)) o[k] = t[k];
  o.createdTime = isoDate(t.createdTime);
  o.updatedTime = isoDate(t.updatedTime);
  o.updatedBy = t.updatedBy;
  if (full) {
    o.relations = t.relations;
    o.linkedUserFields = t.linkedUserFields;
    o.customSections = [];
  }
  return o;
}

/** Registers `crm.type.*`. */
export function typeMethods(r: Registry): void {
  const notFound = () => d7Error('0', 'SPA not found');
  const byId = (portal: Portal, p: Params): Row => {
    const v = pick(p, 'id');
    if (v === undefined || v === '') throw missingParam('id');
    const t = portal.t.crm_type.get(v);
    if (!t || t.system) throw notFound();
    return t;
  };
  const setFields = (t: Row, f: Record<string, unknown>) => {
    if (f.title !== undefined) t.title = String(f.title);
    if (f.code !== undefined) t.code = String(f.code);
    for (const k of Object.keys(TYPE_FLAGS)) if (f[k] !== undefined) t[k] = yn(f[k]);
    if (f.relations !== undefined) t.relations = relations(f.relations);
    if (f.linkedUserFields && typeof f.linkedUserFields === 'object') {
      for (const [k, v] of Object.entries(f.linkedUserFields)) t.linkedUserFields[k] = yn(v);
    }
  };
  r.many('crm', {
    'crm.type.fields': () => {
      const fd = (type: string, title: string, ro = false) => ({
        type,
        isRequired: title === 'Title',
        isReadOnly: ro,
        isImmutable: false,
        isMultiple: false,
        isDynamic: false,
        title,
      });
      const fields: Record<string, unknown> = {
        id: fd('integer', 'ID', true),
        title: fd('string', 'Title'),
        code: fd('string', 'Code'),
        createdBy: fd('user', 'Created by', true),
        entityTypeId: fd('integer', 'Entity type ID'),
        customSectionId: fd('integer', 'Digital workplace'),
      };
      for (const k of Object.keys(TYPE_FLAGS)) fields[k] = fd('boolean', k);
      fields.createdTime = fd('datetime', 'Created on', true);
      fields.updatedTime = fd('datetime', 'Modified on', true);
      fields.updatedBy = fd('user', 'Modified by', true);
      fields.relations = fd('object', 'Relations');
      fields.linkedUserFields = fd('object', 'Linked user fields');
      return { result: { fields } };
    },
    'crm.type.add': (ctx, p) => {
      const f = readObject(pick(p, 'fields') ?? missing(), () => missingParam('fields'));
      const portal = ctx.portal;
      if (!f.title) throw d7Error('INVALID_ARG_VALUE', "Field 'title' is required");
      let etid: number;
      if (f.entityTypeId !== undefined && f.entityTypeId !== '' && f.entityTypeId !== null) {
        etid = Number(f.entityTypeId);
        if (!validDynamicTypeId(etid)) throw d7Error('INVALID_ARG_VALUE', 'entityTypeId is out of allowed range');
        if (portal.dynamicType(etid)) throw d7Error('INVALID_ARG_VALUE', `entityTypeId ${etid} is already used`);
      } else {
        // the smallest free even id from 1030 on
        etid = 1030;
        while (portal.dynamicType(etid)) etid += 2;
      }
      const t = addDynamicType(portal, etid, '', ctx.userId, portal.clock.now());
      setFields(t, f);
      portal.dirty();
      return { result: { type: typeView(t, true) }, write: true };
    },
    'crm.type.get': (ctx, p) => ({ result: { type: typeView(byId(ctx.portal, p), true) } }),
    'crm.type.getByEntityTypeId': (ctx, p) => {
      const v = pick(p, 'entityTypeId');
      if (v === undefined || v === '') throw missingParam('entityTypeId');
      const t = ctx.portal.dynamicType(Number(v));
      if (!t || t.system) throw d7Error('0', 'Smart process not found');
      return { result: { type: typeView(t, true) } };
    },
    'crm.type.list': (ctx, p) => {
      const table = ctx.portal.t.crm_type;
      const keys = new Set([
        'id',
        'title',
        'code',
        'createdBy',
        'entityTypeId',
        'createdTime',
        'updatedTime',
        'updatedBy',
        ...Object.keys(TYPE_FLAGS),
      ]);
      const resolve = (name: string) => {
        if (!keys.has(name)) return null;
        if (name === 'id') return { key: 'ID', kind: 'num' as const };
        const kind = ['createdBy', 'entityTypeId', 'updatedBy'].includes(name)
          ? 'num'
          : name.endsWith('Time')
            ? 'date'
            : 'str';
        return { key: name, kind: kind as 'num' | 'str' | 'date' };
      };
      const filter = compileFilter(pick(p, 'filter'), resolve, {
        logic: true,
        unknown: (n) => d7Error('INVALID_ARG_VALUE', `Invalid filter: field '${n}' is not allowed in filter`),
      });
      const order = compileOrder(pick(p, 'order'), resolve, () =>
        d7Error('INVALID_ARG_VALUE', 'Invalid order: allowed sort directions are ASC, DESC'),
      );
      const start = Math.max(0, Number(pick(p, 'start') ?? 0) || 0);
      // smart invoices (31) are served like a type but are no smart process of the list
      const own = filter.pred;
      filter.pred = own ? (t) => !t.system && own(t) : (t) => !t.system;
      filter.other++;
      const q = runQuery(table, filter, order, start, 50, true);
      const out: { result: unknown; total: number; next?: number } = {
        result: { types: q.rows.map((t) => typeView(t, false)) },
        total: q.total,
      };
      if (start + q.rows.length < q.total) out.next = start + 50;
      return out;
    },
    'crm.type.update': (ctx, p) => {
      const t = byId(ctx.portal, p);
      const f = readObject(pick(p, 'fields') ?? missing(), () => missingParam('fields'));
      setFields(t, f);
      t.updatedBy = ctx.userId;
      t.updatedTime = ctx.portal.clock.now();
      ctx.portal.ufEpoch++;
      ctx.portal.dirty();
      return { result: { type: typeView(t, true) }, write: true };
    },
    'crm.type.delete': (ctx, p) => {
      const portal = ctx.portal;
      const t = byId(portal, p);
      const name = dynamicName(t.entityTypeId);
      if (portal.table(name).size) throw d7Error('BX_ERROR', 'You cannot delete an entity type that has elements');
      for (const c of portal.t.category.rows.filter((c) => c.ENTITY_TYPE_ID === t.entityTypeId)) {
        portal.t.category.delete(c.ID);
      }
      const stagePrefix = `DYNAMIC_${t.entityTypeId}_STAGE_`;
      for (const s of portal.t.status.rows.filter((s) => String(s.ENTITY_ID).startsWith(stagePrefix))) {
        portal.t.status.delete(s.ID);
      }
      for (const u of portal.t.userfield.rows.filter((u) => u.ENTITY_ID === `CRM_${t.ID}`)) {
        portal.t.userfield.delete(u.ID);
      }
      portal.generic.delete(name);
      portal.t.crm_type.delete(t.ID);
      portal.ufEpoch++;
      portal.dirty();
      return { result: [], write: true };
    },
  });
}

function missing(): never {
  throw missingParam('fields');
}
