/**
 * The legacy CRM dialect of deals, leads, contacts and companies: `crm.{deal,lead,contact,company}.fields/list/
 * get/add/update/delete` (UPPER keys, string scalars, errors with an empty code) and their user fields
 * `crm.<entity>.userfield.*` (names prefixed UF_CRM_; LANG, labels and SETTINGS as methods/userfields.ts says). Sources: apidocs.bitrix24.com/api-reference/crm/deals/
 * (crm-deal-add.html, crm-deal-list.html, …), api-reference/crm/leads/, api-reference/crm/contacts/,
 * api-reference/crm/companies/, api-reference/crm/deals/user-defined-fields/crm-deal-userfield-add.html
 * (b24-spec spec/index.json maps each method to its page).
 */
import { legacyError } from '../apiError.js';
import { legacyRow } from '../fieldViews.js';
import { pick, truthy } from '../params.js';
import type { Registry } from '../registry.js';
import { fieldsMeta, legacyList, readId, readObject } from './common.js';
import { badFields, badId, insert, notFound, remove, update } from './crmWrites.js';
import { enumItems, LABEL_KEYS, labelIn, labelMap, labelsFrom, settingsFor, ufView } from './userfields.js';

/** Registers `crm.<entity>.*` and `crm.<entity>.userfield.*` in the legacy dialect. */
export function legacyCrud(r: Registry, entity: 'deal' | 'lead' | 'contact' | 'company'): void {
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
      // LANG picks the language of the labels; it is no condition on the rows
      const f = { ...((pick(p, 'filter') ?? {}) as Record<string, unknown>) };
      const langKey = Object.keys(f).find((k) => k.toUpperCase() === 'LANG');
      const lang = langKey ? String(f[langKey]) : null;
      if (langKey) delete f[langKey];
      const out = rows.filter((u) => Object.entries(f).every(([k, v]) => String(u[k.toUpperCase()]) === String(v)));
      const order = pick(p, 'order') as Record<string, string> | undefined;
      if (order && typeof order === 'object') {
        const terms = Object.entries(order).map(
          ([k, d]) => [k.toUpperCase(), String(d).toUpperCase() === 'DESC' ? -1 : 1] as const,
        );
        out.sort((a, b) => {
          for (const [k, d] of terms) if (a[k] !== b[k]) return (a[k] < b[k] ? -1 : 1) * d;
          return a.ID - b.ID;
        });
      }
      return { result: out.map((u) => ufView(u, lang)), total: out.length };
    },
    [m + 'userfield.get']: (ctx, p) => {
      const u = ctx.portal.t.userfield.get(readId(p, badId));
      if (!u || u.ENTITY_ID !== ufEntity) throw notFound();
      return { result: ufView(u, undefined) };
    },
    [m + 'userfield.add']: (ctx, p) => {
      const f = readObject(pick(p, 'fields'), badFields);
      const name = String(f.FIELD_NAME ?? '').toUpperCase();
      if (!name) throw legacyError("Field 'FIELD_NAME' is required.");
      const full = name.startsWith('UF_CRM_') ? name : 'UF_CRM_' + name;
      if (ctx.portal.t.userfield.rows.some((u) => u.ENTITY_ID === ufEntity && u.FIELD_NAME === full)) {
        throw legacyError(`Field '${full}' already exists.`);
      }
      const type = String(f.USER_TYPE_ID ?? 'string');
      const row = ctx.portal.ufAdd({
        ENTITY_ID: ufEntity,
        FIELD_NAME: full,
        USER_TYPE_ID: type,
        XML_ID: f.XML_ID === undefined ? null : String(f.XML_ID),
        SORT: Number(f.SORT ?? 100),
        MULTIPLE: truthy(f.MULTIPLE) ? 'Y' : 'N',
        MANDATORY: truthy(f.MANDATORY) ? 'Y' : 'N',
        SHOW_FILTER: f.SHOW_FILTER === undefined ? 'N' : String(f.SHOW_FILTER),
        SETTINGS: settingsFor(type, f.SETTINGS),
        LIST: type === 'enumeration' ? enumItems(f.LIST, ctx.portal.t.userfield.nextId * 100) : undefined,
        ...labelsFrom(f, full),
      });
      ctx.portal.dirty();
      return { result: row.ID, write: true };
    },
    [m + 'userfield.update']: (ctx, p) => {
      const u = ctx.portal.t.userfield.get(readId(p, badId));
      if (!u || u.ENTITY_ID !== ufEntity) throw notFound();
      const f = readObject(pick(p, 'fields'), badFields);
      for (const k of ['SORT', 'MANDATORY', 'SHOW_FILTER', 'SHOW_IN_LIST', 'EDIT_IN_LIST', 'XML_ID', 'IS_SEARCHABLE']) {
        if (f[k] !== undefined) u[k] = f[k];
      }
      if (f.SETTINGS !== undefined)
        u.SETTINGS = settingsFor(u.USER_TYPE_ID, { ...u.SETTINGS, ...(f.SETTINGS as object) });
      for (const k of LABEL_KEYS) {
        if (f[k] !== undefined || f.LABEL !== undefined) u[k] = labelMap(f[k] ?? f.LABEL, labelIn(u[k] ?? f.LABEL));
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
