/**
 * Helpers shared by the method modules: input coercion by field type (multifields merged by ID), `*.fields`
 * metadata, legacy list/get (filter, order, select, 50-row pages) and the ONCRM* events of a change. Sources:
 * apidocs.bitrix24.com/api-reference/crm/deals/crm-deal-fields.html, …/crm-deal-list.html, doc
 * api-reference/crm/data-types.md (crm_multifield); rest-protocol.md §3, §4.
 */

import { type ApiError, legacyError } from '../apiError.js';
import type { FieldDef } from '../entityFields.js';
import { legacyResolver, legacyRow, legacySelect } from '../fieldViews.js';
import { type Params, pick } from '../params.js';
import type { Portal } from '../portal.js';
import { parseDate } from '../portalTime.js';
import { listOut, type MethodResult, PAGE, readStart } from '../registry.js';
import { compileFilter, compileOrder, type Row, runQuery, type Table } from '../store.js';

const NUMERIC = new Set([
  'integer',
  'crm_company',
  'crm_contact',
  'crm_lead',
  'crm_quote',
  'crm_category',
  'user',
  'int_raw',
  'enumeration',
]);

/** Coerces one input value to the stored representation of its field type. */
export function coerce(f: FieldDef, v: unknown, p: Portal, key: string, current?: unknown): unknown {
  if (f.type === 'crm_multifield') return mergeMultifield(p, (current as any[]) ?? [], v);
  if (f.multi) {
    const list =
      v === null || v === '' || v === undefined
        ? []
        : Array.isArray(v)
          ? v
          : typeof v === 'object'
            ? Object.values(v)
            : [v];
    return list.map((x) => coerce({ ...f, multi: false }, x, p, key));
  }
  if (v === null || v === undefined) return null;
  if (NUMERIC.has(f.type)) {
    if (v === '') return null;
    const n = Number(v);
    return Number.isFinite(n) ? Math.trunc(n) : null;
  }
  if (f.type === 'double') {
    if (v === '') return null;
    const n = Number(v);
    return Number.isFinite(n) ? n : null;
  }
  if (f.type === 'date' || f.type === 'datetime') {
    if (v === '') return null;
    const n = parseDate(v);
    return Number.isNaN(n) ? null : n;
  }
  if (f.type === 'char') {
    if (typeof v === 'boolean') return v ? 'Y' : 'N';
    const s = String(v);
    return s === '1' || s.toLowerCase() === 'true' ? 'Y' : s === '0' || s.toLowerCase() === 'false' ? 'N' : s;
  }
  if (f.type === 'boolean') return v === true || v === 'Y' || v === '1' || v === 'true' || v === 1;
  if (f.type === 'object') return v;
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

function mergeMultifield(p: Portal, current: any[], input: unknown): any[] {
  const items = Array.isArray(input) ? input : input && typeof input === 'object' ? Object.values(input) : [];
  const out = current.map((x) => ({ ...x }));
  for (const it of items as any[]) {
    if (!it || typeof it !== 'object') continue;
    const id = it.ID !== undefined ? Number(it.ID) : undefined;
    const existing = id !== undefined ? out.find((x) => x.ID === id) : undefined;
    if (existing) {
      if (it.DELETE === 'Y' || it.VALUE === '') out.splice(out.indexOf(existing), 1);
      else {
        if (it.VALUE !== undefined) existing.VALUE = String(it.VALUE);
        if (it.VALUE_TYPE !== undefined) existing.VALUE_TYPE = String(it.VALUE_TYPE);
      }
    } else if (it.VALUE !== undefined && it.VALUE !== '') {
      out.push({ ID: ++p.counters.multifield, VALUE_TYPE: String(it.VALUE_TYPE ?? 'WORK'), VALUE: String(it.VALUE) });
    }
  }
  return out;
}

/**
 * Applies `input` (legacy upper-case keys; case-insensitive) to `row`; read-only and unknown keys are ignored.
 * @returns the keys that changed
 */
export function applyFields(
  p: Portal,
  fields: Record<string, FieldDef>,
  row: Row,
  input: Record<string, unknown>,
  opts: { creating: boolean; allowReadOnly?: string[] } = { creating: true },
): string[] {
  const changed: string[] = [];
  for (const [rawKey, v] of Object.entries(input)) {
    const key = rawKey.toUpperCase();
    const f = fields[key];
    if (!f || key === 'ID') continue;
    if (f.ro && !opts.allowReadOnly?.includes(key)) continue;
    if (f.immut && !opts.creating) continue;
    const nv = coerce(f, v, p, key, row[key]);
    if (JSON.stringify(nv) !== JSON.stringify(row[key])) changed.push(key);
    row[key] = nv;
  }
  return changed;
}

/** entityTypeId of the parent a single link field points at (contacts are not parents: they bind many-to-many). */
const PARENT_TYPE: Partial<Record<FieldDef['type'], number>> = { crm_lead: 1, crm_company: 4, crm_quote: 7 };

/** `*.fields` metadata in the legacy CRM shape. */
export function fieldsMeta(fields: Record<string, FieldDef>, ufLabels = true): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, f] of Object.entries(fields)) {
    const m: Record<string, unknown> = {
      type: f.type === 'int_raw' ? 'integer' : f.type,
      isRequired: Boolean(f.req),
      isReadOnly: Boolean(f.ro),
      isImmutable: Boolean(f.immut),
      isMultiple: Boolean(f.multi),
      isDynamic: k.startsWith('UF_'),
      title: f.title,
    };
    if (f.deprecated) m.isDeprecated = true;
    if (f.statusType) m.statusType = f.statusType;
    // a single link to a parent entity names its type (api-reference/crm/deals/crm-deal-fields.md: COMPANY_ID, LEAD_ID)
    const parent = f.multi ? undefined : PARENT_TYPE[f.type];
    if (f.settings || parent) m.settings = { ...(parent ? { parentEntityTypeId: parent } : {}), ...f.settings };
    if (k.startsWith('UF_') && ufLabels) {
      m.listLabel = f.title;
      m.formLabel = f.title;
      m.filterLabel = f.title;
    }
    out[k] = m;
  }
  return out;
}

/** Reads a positive integer id (`id`/`ID`); throws `bad()` otherwise. */
export function readId(p: Params, bad: () => ApiError, ...keys: string[]): number {
  const v = pick(p, ...(keys.length ? keys : ['id', 'ID']));
  const n = Number(v);
  if (v === undefined || v === null || v === '' || !Number.isInteger(n) || n <= 0) throw bad();
  return n;
}

/** A plain object from a param (`fields`), or throws `bad()`. */
export function readObject(v: unknown, bad: () => ApiError): Record<string, unknown> {
  if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  if (Array.isArray(v) && v.length === 0) return {};
  throw bad();
}

/** Legacy v1 list over a table: `select`, `filter`, `order`, `start` (50 rows, `start=-1` skips the count). */
export function legacyList(
  table: Table,
  fields: Record<string, FieldDef>,
  p: Params,
  opts: {
    defaultOrder?: Record<string, string>;
    render?: (row: Row, keys: string[]) => unknown;
    selectDefaultAll?: boolean;
    baseFilter?: (r: Row) => boolean;
    /** extra filter aliases: name → stored key */
    alias?: Record<string, string>;
  } = {},
): MethodResult {
  const base = legacyResolver(fields);
  const resolve = opts.alias
    ? (name: string) => {
        const a = opts.alias![name.toUpperCase()];
        return base(a ?? name);
      }
    : base;
  const rawFilter = pick(p, 'filter', 'FILTER');
  if (rawFilter !== undefined && rawFilter !== '' && (rawFilter === null || typeof rawFilter !== 'object')) {
    throw legacyError("Parameter 'filter' must be array.");
  }
  const rawOrder = pick(p, 'order', 'ORDER');
  if (rawOrder !== undefined && rawOrder !== '' && (rawOrder === null || typeof rawOrder !== 'object')) {
    throw legacyError("Parameter 'order' must be array.");
  }
  const filter = compileFilter(rawFilter, resolve);
  if (opts.baseFilter) {
    const bf = opts.baseFilter;
    const prev = filter.pred;
    filter.pred = prev ? (r) => bf(r) && prev(r) : bf;
    filter.other++;
  }
  const order = compileOrder(pick(p, 'order', 'ORDER') ?? opts.defaultOrder, resolve, () =>
    legacyError('Invalid order direction'),
  );
  const start = readStart(pick(p, 'start'));
  const keys = legacySelect(fields, pick(p, 'select', 'SELECT'), opts.selectDefaultAll ?? true);
  const q = runQuery(table, filter, order, Math.max(0, start), PAGE, start >= 0);
  const render = opts.render ?? ((r: Row, k: string[]) => legacyRow(fields, r, k));
  const result = q.rows.map((r) => render(r, keys));
  const out = listOut(result, result.length, q.total, start);
  out.counted = start >= 0 ? Math.max(q.scanned, q.total) : 0;
  return out;
}

/** Event name prefix by entity (`ONCRMDEAL` → ADD/UPDATE/DELETE). */
export const EVENT_PREFIX: Record<string, string> = {
  deal: 'ONCRMDEAL',
  lead: 'ONCRMLEAD',
  contact: 'ONCRMCONTACT',
  company: 'ONCRMCOMPANY',
  activity: 'ONCRMACTIVITY',
  timeline_comment: 'ONCRMTIMELINECOMMENT',
};

/** Fires the standard CRM event `{FIELDS: {ID}}`. */
export function fireCrm(
  p: Portal,
  entity: string,
  action: 'ADD' | 'UPDATE' | 'DELETE',
  id: number,
  connector = '',
): void {
  const prefix = EVENT_PREFIX[entity];
  if (!prefix) return;
  const data: Record<string, unknown> = { FIELDS: { ID: id } };
  if (entity === 'timeline_comment' || entity === 'activity') (data.FIELDS as any).ID = id;
  p.events.fire(prefix + action, data, `${entity}:${id}`, connector);
  p.dirty();
}
