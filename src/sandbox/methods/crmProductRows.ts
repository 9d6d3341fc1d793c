/**
 * Product rows of any CRM owner: `crm.item.productrow.fields/set/add/update/get/list/delete`. The owner is named by
 * `ownerType` (the short symbolic code: `L` lead, `D` deal, `T<hex entityTypeId>` smart process) and `ownerId`; `set`
 * replaces every row of the owner; the owner's amount follows the rows unless it is manual. The rows are the same
 * ones `crm.deal.productrows.get/set` show (crm.ts). Sources: apidocs.bitrix24.com/api-reference/crm/universal/
 * product-rows/crm-item-productrow-set.html (and -add, -update, -get, -list, -delete, -fields),
 * api-reference/crm/data-types.html#object_type.
 */
import { d7Error, missingParam } from '../apiError.js';
import { dynamicName } from '../dynamicEntities.js';
import { type Params, pick } from '../params.js';
import type { Portal } from '../portal.js';
import type { CallCtx, Registry } from '../registry.js';
import { compileFilter, compileOrder, type Row, runQuery } from '../store.js';
import { readObject } from './common.js';
import { update } from './crmWrites.js';

/** Table of product rows (shared with crm.{deal,lead}.productrows.*). */
export const PRODUCT_ROWS = 'crm.productrow';

/** camelCase key → stored key, with its filter kind. */
const KEYS: Record<string, [string, 'num' | 'str']> = {
  id: ['ID', 'num'],
  ownerId: ['OWNER_ID', 'num'],
  ownerType: ['OWNER_TYPE', 'str'],
  productId: ['PRODUCT_ID', 'num'],
  productName: ['PRODUCT_NAME', 'str'],
  price: ['PRICE', 'num'],
  quantity: ['QUANTITY', 'num'],
  discountTypeId: ['DISCOUNT_TYPE_ID', 'num'],
  discountRate: ['DISCOUNT_RATE', 'num'],
  discountSum: ['DISCOUNT_SUM', 'num'],
  taxRate: ['TAX_RATE', 'num'],
  taxIncluded: ['TAX_INCLUDED', 'str'],
  measureCode: ['MEASURE_CODE', 'num'],
  sort: ['SORT', 'num'],
  xmlId: ['XML_ID', 'str'],
};

/** The documented `productRow` object. */
export function productRowView(x: Row): Record<string, unknown> {
  const price = Number(x.PRICE ?? 0);
  return {
    id: x.ID,
    ownerId: x.OWNER_ID,
    ownerType: x.OWNER_TYPE,
    productId: x.PRODUCT_ID,
    productName: x.PRODUCT_NAME,
    price,
    priceAccount: price,
    priceExclusive: price,
    priceNetto: price,
    priceBrutto: price,
    quantity: x.QUANTITY,
    discountTypeId: x.DISCOUNT_TYPE_ID ?? 2,
    discountRate: x.DISCOUNT_RATE ?? 0,
    discountSum: x.DISCOUNT_SUM ?? 0,
    taxRate: x.TAX_RATE ?? null,
    taxIncluded: x.TAX_INCLUDED ?? 'N',
    customized: 'Y',
    measureCode: x.MEASURE_CODE ?? 796,
    measureName: 'шт',
    sort: x.SORT,
    xmlId: x.XML_ID ?? '',
    type: 4,
  };
}

/** Entity name of an owner type code, or undefined. */
function ownerEntity(portal: Portal, code: string): string | undefined {
  if (code === 'D') return 'deal';
  if (code === 'L') return 'lead';
  const m = /^T([0-9a-f]+)$/i.exec(code);
  if (!m) return undefined;
  const etid = Number.parseInt(m[1]!, 16);
  return portal.dynamicType(etid) ? dynamicName(etid) : undefined;
}

/** Stored row fields from a camelCase input (unknown keys ignored). */
function rowFields(input: Record<string, unknown>): Row {
  const out: Row = {};
  for (const [k, v] of Object.entries(input)) {
    const def = KEYS[k];
    if (!def || def[0] === 'ID' || def[0] === 'OWNER_ID' || def[0] === 'OWNER_TYPE') continue;
    out[def[0]] = def[1] === 'num' ? (v === null || v === '' ? null : Number(v)) : String(v ?? '');
  }
  return out;
}

const DEFAULTS: Row = {
  PRODUCT_ID: 0,
  PRODUCT_NAME: '',
  PRICE: 0,
  QUANTITY: 1,
  DISCOUNT_TYPE_ID: 2,
  TAX_INCLUDED: 'N',
};

/** Registers `crm.item.productrow.*`. */
export function productRowItemMethods(r: Registry): void {
  const rows = (ctx: CallCtx) => ctx.portal.genericTable(PRODUCT_ROWS);
  const owner = (ctx: CallCtx, type: unknown, id: unknown): { entity: string; row: Row; code: string; id: number } => {
    if (type === undefined || type === '') throw missingParam('ownerType');
    if (id === undefined || id === '') throw missingParam('ownerId');
    const code = String(type);
    const entity = ownerEntity(ctx.portal, code);
    if (!entity) throw d7Error('ENTITY_TYPE_NOT_SUPPORTED', 'Working with this type of objects is not supported');
    const row = ctx.portal.table(entity).get(id);
    if (!row) throw d7Error('OWNER_NOT_FOUND', 'Owner was not found');
    return { entity, row, code, id: row.ID };
  };
  /** The owner's amount follows its rows unless it was entered by hand. */
  const resum = (ctx: CallCtx, o: { entity: string; row: Row; code: string; id: number }) => {
    const list = rows(ctx).rows.filter((x) => x.OWNER_TYPE === o.code && x.OWNER_ID === o.id);
    const sum = list.reduce((a, x) => a + Number(x.PRICE ?? 0) * Number(x.QUANTITY ?? 1), 0);
    if (o.row.IS_MANUAL_OPPORTUNITY !== 'Y') update(ctx, o.entity, o.row, { OPPORTUNITY: sum });
    ctx.portal.dirty();
  };
  const byId = (ctx: CallCtx, p: Params) => {
    const v = pick(p, 'id');
    if (v === undefined || v === '') throw missingParam('id');
    const x = rows(ctx).get(v);
    if (!x) throw d7Error('NOT_FOUND', 'Product row not found');
    return x;
  };
  r.many('crm', {
    'crm.item.productrow.fields': () => {
      const fields: Record<string, unknown> = {};
      for (const [k, [, kind]] of Object.entries(KEYS)) {
        fields[k] = {
          type:
            kind === 'num'
              ? ['price', 'discountRate', 'discountSum', 'taxRate', 'quantity'].includes(k)
                ? 'double'
                : 'integer'
              : 'string',
          isRequired: k === 'ownerId' || k === 'ownerType',
          isReadOnly: k === 'id',
          isImmutable: k === 'ownerId' || k === 'ownerType',
          isMultiple: false,
          isDynamic: false,
          title: k,
        };
      }
      return { result: { fields } };
    },
    'crm.item.productrow.set': (ctx, p) => {
      const o = owner(ctx, pick(p, 'ownerType'), pick(p, 'ownerId'));
      const raw = pick(p, 'productRows');
      if (raw === undefined) throw missingParam('productRows');
      const list = Array.isArray(raw) ? raw : raw && typeof raw === 'object' ? Object.values(raw) : [];
      const t = rows(ctx);
      for (const x of t.rows.filter((x) => x.OWNER_TYPE === o.code && x.OWNER_ID === o.id)) t.delete(x.ID);
      const out = list.map((x, i) =>
        t.insert({
          ...DEFAULTS,
          SORT: (i + 1) * 10,
          ...rowFields(readObject(x, () => missingParam('productRows'))),
          OWNER_TYPE: o.code,
          OWNER_ID: o.id,
        }),
      );
      resum(ctx, o);
      return { result: { productRows: out.map(productRowView) }, write: true };
    },
    'crm.item.productrow.add': (ctx, p) => {
      const f = readObject(pick(p, 'fields'), () => missingParam('fields'));
      const o = owner(ctx, f.ownerType, f.ownerId);
      const t = rows(ctx);
      const n = t.rows.filter((x) => x.OWNER_TYPE === o.code && x.OWNER_ID === o.id).length;
      const x = t.insert({ ...DEFAULTS, SORT: (n + 1) * 10, ...rowFields(f), OWNER_TYPE: o.code, OWNER_ID: o.id });
      resum(ctx, o);
      return { result: { productRow: productRowView(x) }, write: true };
    },
    'crm.item.productrow.update': (ctx, p) => {
      const x = byId(ctx, p);
      Object.assign(x, rowFields(readObject(pick(p, 'fields'), () => missingParam('fields'))));
      resum(ctx, owner(ctx, x.OWNER_TYPE, x.OWNER_ID));
      return { result: { productRow: productRowView(x) }, write: true };
    },
    'crm.item.productrow.get': (ctx, p) => ({ result: { productRow: productRowView(byId(ctx, p)) } }),
    'crm.item.productrow.delete': (ctx, p) => {
      const x = byId(ctx, p);
      rows(ctx).delete(x.ID);
      const o = ctx.portal.table(ownerEntity(ctx.portal, x.OWNER_TYPE) ?? 'deal').get(x.OWNER_ID);
      if (o) resum(ctx, { entity: ownerEntity(ctx.portal, x.OWNER_TYPE)!, row: o, code: x.OWNER_TYPE, id: x.OWNER_ID });
      return { result: [], write: true };
    },
    'crm.item.productrow.list': (ctx, p) => {
      const filter = pick(p, 'filter');
      if (!filter || typeof filter !== 'object') throw missingParam('filter');
      const resolve = (name: string) => {
        const k = KEYS[name];
        return k ? { key: k[0], kind: k[1] } : null;
      };
      const f = compileFilter(filter, resolve, {
        unknown: (n) => d7Error('INVALID_ARG_VALUE', `Invalid filter: field '${n}' is not allowed in filter`),
      });
      const order = compileOrder(pick(p, 'order') ?? { sort: 'ASC' }, resolve, () =>
        d7Error('INVALID_ARG_VALUE', 'Invalid order: allowed sort directions are ASC, DESC'),
      );
      const start = Math.max(0, Number(pick(p, 'start') ?? 0) || 0);
      const q = runQuery(rows(ctx), f, order, start, 50, true);
      const out: { result: unknown; total: number; next?: number } = {
        result: { productRows: q.rows.map(productRowView) },
        total: q.total,
      };
      if (start + q.rows.length < q.total) out.next = start + 50;
      return out;
    },
  });
}
