/**
 * Every CRM method of the sandbox, registered in one order (the order `methods` lists them in): duplicates,
 * product rows, the legacy CRUD of deals/leads/contacts/companies (crmLegacy.ts), `crm.item.*` (crmItems.ts),
 * pipelines and statuses (crmCategories.ts), activities and timeline comments (crmTimeline.ts), the contacts of a
 * deal; smart process types (crmTypes.ts) and the product rows of any owner (crmProductRows.ts). Defined here: `crm.duplicate.findbycomm`, `crm.{deal,lead}.productrows.get/set`, `crm.deal.contact.*`.
 * Sources: apidocs.bitrix24.com/api-reference/crm/duplicates/crm-duplicate-find-by-comm.html,
 * api-reference/crm/leads/crm-lead-productrows-set.html, api-reference/crm/deals/contacts/
 * crm-deal-contact-items-set.html (b24-spec spec/index.json maps each method to its page); rest-protocol.md §10.2.
 */
import { legacyError } from '../apiError.js';
import { pick } from '../params.js';
import type { Registry } from '../registry.js';
import type { Row } from '../store.js';
import { readId, readObject } from './common.js';
import { categoryMethods } from './crmCategories.js';
import { itemMethods } from './crmItems.js';
import { legacyCrud } from './crmLegacy.js';
import { PRODUCT_ROWS, productRowItemMethods } from './crmProductRows.js';
import { activityMethods, timelineCommentMethods } from './crmTimeline.js';
import { typeMethods } from './crmTypes.js';
import { badFields, badId, notFound, update } from './crmWrites.js';
import { userfieldConfigMethods } from './userfields.js';

/** Registers `crm.deal.contact.items.get/set` and `crm.deal.contact.add`. */
function dealContactMethods(r: Registry): void {
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
          .genericTable(PRODUCT_ROWS)
          .rows.filter((x) => x.OWNER_TYPE === ownerType && x.OWNER_ID === id);
        return { result: rows.map(view) };
      },
      [`crm.${entity}.productrows.set`]: (ctx, p) => {
        const id = readId(p, badId);
        const owner = ctx.portal.t[entity].get(id);
        if (!owner) throw notFound();
        const raw = pick(p, 'rows');
        const list = Array.isArray(raw) ? raw : raw && typeof raw === 'object' ? Object.values(raw) : [];
        const t = ctx.portal.genericTable(PRODUCT_ROWS);
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
  typeMethods(r);
  productRowItemMethods(r);
  userfieldConfigMethods(r);
  categoryMethods(r);
  activityMethods(r);
  timelineCommentMethods(r);
  dealContactMethods(r);
}
