/**
 * The universal CRM dialect `crm.item.*` for entityTypeId 1 (lead), 2 (deal), 3 (contact), 4 (company) and every
 * smart process `crm.type.add` created (dynamicEntities.ts): a second, typed camelCase view of the same rows
 * (`ufCrm…` user fields unless useOriginalUfNames=Y, `fm` multifields, filter with `logic: OR`, file fields as
 * `{id, url, urlMachine}`), D7 errors; unknown keys in `fields` are ignored, as the docs say. Quotes (7) and
 * invoices (31) are not emulated ("SPA not found"). Sources:
 * apidocs.bitrix24.com/api-reference/crm/universal/crm-item-add.html, …/crm-item-list.html, …/crm-item-update.html
 * (b24-spec spec/index.json maps each method to its page).
 */
import { ApiError, d7Error, missingParam } from '../apiError.js';
import type { EntityDef } from '../entityFields.js';
import { camelMap, camelName, camelResolver, itemRow } from '../fieldViews.js';
import { type Params, pick } from '../params.js';
import type { Portal } from '../portal.js';
import { type CallCtx, listOut, PAGE, type Registry, readStart } from '../registry.js';
import { compileFilter, compileOrder, type Row, runQuery } from '../store.js';
import { fieldsMeta } from './common.js';
import { insert, remove, update } from './crmWrites.js';

/** Registers `crm.item.fields/list/get/add/update/delete`. */
export function itemMethods(r: Registry): void {
  const entityOf = (ctx: CallCtx, p: Params): { entity: string } => {
    const v = pick(p, 'entityTypeId');
    if (v === undefined || v === '') throw missingParam('entityTypeId');
    const entity = ctx.portal.entityOfType(Number(v));
    if (!entity) throw d7Error('NOT_FOUND', 'SPA not found');
    return { entity };
  };
  const readItemId = (p: Params) => {
    const v = pick(p, 'id');
    if (v === undefined || v === '') throw missingParam('id');
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw d7Error('NOT_FOUND', 'Element not found');
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
      const { entity } = entityOf(ctx, p);
      const def = ctx.portal.def(entity);
      const fields = ctx.portal.fields(def);
      const out: Record<string, unknown> = {};
      for (const [k, f] of Object.entries(fieldsMeta(fields))) {
        out[camelName(k, fields[k])] = { ...(f as object), upperName: k };
        // the contact bindings' own field (`contacts`, written as CONTACTS) follows contactIds, as documented in
        // api-reference/crm/universal/crm-item-fields.md; reads show the bindings as contactIds
        if (k === 'CONTACT_IDS')
          out.contacts = {
            ...(fieldsMeta({ CONTACTS: { ...fields[k]!, title: 'CONTACTS' } }).CONTACTS as object),
            upperName: 'CONTACTS',
          };
      }
      return { result: { fields: out } };
    },
    'crm.item.list': (ctx, p) => {
      const { entity } = entityOf(ctx, p);
      const portal = ctx.portal;
      const def = portal.def(entity);
      const fields = portal.fields(def);
      const resolve = camelResolver(fields, camelMap(def, portal.ufs(def.ufEntityId)));
      const filter = compileFilter(
        pick(p, 'filter'),
        resolve,
        {
          logic: true,
          unknown: (name) => d7Error('INVALID_ARG_VALUE', `Invalid filter: field '${name}' is not allowed in filter`),
        },
        'ID',
      );
      const order = compileOrder(pick(p, 'order'), resolve, () =>
        d7Error('INVALID_ARG_VALUE', 'Invalid order: allowed sort directions are ASC, DESC'),
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
      const q = runQuery(portal.table(entity), filter, order, Math.max(0, start), PAGE, start >= 0);
      const items = q.rows.map((row) => view(portal, def, row, keys, p));
      const out = listOut({ items }, items.length, q.total, start);
      out.counted = start >= 0 ? Math.max(q.scanned, q.total) : 0;
      return out;
    },
    'crm.item.get': (ctx, p) => {
      const { entity } = entityOf(ctx, p);
      const row = ctx.portal.table(entity).get(readItemId(p));
      if (!row) throw d7Error('NOT_FOUND', 'Element not found');
      return { result: { item: view(ctx.portal, ctx.portal.def(entity), row, null, p) }, rows: 1 };
    },
    'crm.item.add': (ctx, p) => {
      const { entity } = entityOf(ctx, p);
      const def = ctx.portal.def(entity);
      const input = pick(p, 'fields');
      if (!input || typeof input !== 'object') throw missingParam('fields');
      const row = wrapD7(() => insert(ctx, entity, fromItem(ctx.portal, def, input)));
      return { result: { item: view(ctx.portal, def, row, null, p) }, write: true };
    },
    'crm.item.update': (ctx, p) => {
      const { entity } = entityOf(ctx, p);
      const def = ctx.portal.def(entity);
      const row = ctx.portal.table(entity).get(readItemId(p));
      if (!row) throw d7Error('NOT_FOUND', 'Element not found');
      const input = pick(p, 'fields');
      if (!input || typeof input !== 'object') throw missingParam('fields');
      wrapD7(() => update(ctx, entity, row, fromItem(ctx.portal, def, input), true));
      return { result: { item: view(ctx.portal, def, row, null, p) }, write: true };
    },
    'crm.item.delete': (ctx, p) => {
      const { entity } = entityOf(ctx, p);
      const id = readItemId(p);
      if (!ctx.portal.table(entity).get(id)) throw d7Error('NOT_FOUND', 'Element not found');
      remove(ctx, entity, id);
      return { result: [], write: true };
    },
  });
}

function wrapD7<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof ApiError && e.code === '') throw d7Error('INVALID_ARG_VALUE', e.description);
    throw e;
  }
}
