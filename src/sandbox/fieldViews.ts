/**
 * How entity fields are named, found and rendered: user fields (`UF_CRM_*`) joining an entity's fields, camelCase
 * names (`crm.item.*`, `tasks.task.*`), filter/order resolvers over legacy or camelCase names, the legacy `select`
 * (`*`, `UF_*`), and the output views — legacy CRM (every scalar a string, multifields as
 * `{ID,VALUE_TYPE,VALUE,TYPE_ID}`) and `crm.item.*` (camelCase, typed, multifields in `fm`). Sources:
 * apidocs.bitrix24.com/api-reference/crm/deals/crm-deal-get.html, api-reference/crm/universal/crm-item-get.html,
 * api-reference/crm/deals/user-defined-fields/crm-deal-userfield-add.html (b24-spec spec/index.json maps each method to its page),
 * doc settings/how-to-call-rest-api/list-methods-pecularities.md; rest-protocol.md §4.
 */
import type { EntityDef, FieldDef, FieldType } from './entityFields.js';
import { itemExtras } from './itemExtras.js';
import { isoDate } from './portalTime.js';
import type { Kind, Resolver, Row } from './store.js';

const KIND: Record<FieldType, Kind> = {
  integer: 'num',
  double: 'num',
  string: 'str',
  char: 'str',
  date: 'date',
  datetime: 'date',
  crm_status: 'str',
  crm_currency: 'str',
  crm_company: 'num',
  crm_contact: 'num',
  crm_lead: 'num',
  crm_quote: 'num',
  crm_category: 'num',
  crm_multifield: 'str',
  user: 'num',
  location: 'str',
  boolean: 'bool',
  int_raw: 'num',
  object: 'str',
  enumeration: 'num',
  file: 'str',
};

/** Filter/order kind of a field type. */
export const kindOf = (t: FieldType): Kind => KIND[t];

/** User field definition (crm.*.userfield.*, and its effect on the entity's fields). */
export interface UserFieldDef {
  ID: number;
  ENTITY_ID: string;
  FIELD_NAME: string;
  USER_TYPE_ID: string;
  XML_ID: string | null;
  SORT: number;
  MULTIPLE: string;
  MANDATORY: string;
  SHOW_FILTER: string;
  SHOW_IN_LIST: string;
  EDIT_IN_LIST: string;
  IS_SEARCHABLE: string;
  SETTINGS: Record<string, unknown>;
  /** a string, or a language map `{ru: …, en: …}` (methods/userfields.ts) */
  EDIT_FORM_LABEL?: string | Record<string, string>;
  LIST: { ID: number; VALUE: string; DEF: string; SORT: number }[] | undefined;
}

const UF_TYPES: Record<string, FieldType> = {
  string: 'string',
  integer: 'integer',
  double: 'double',
  boolean: 'char',
  date: 'date',
  datetime: 'datetime',
  enumeration: 'enumeration',
  employee: 'user',
  crm_status: 'crm_status',
  money: 'string',
  url: 'string',
  file: 'file',
};

/** The label of a user field in the portal's language (ru, then en, then any). */
function labelOf(v: string | Record<string, string> | undefined): string {
  if (!v || typeof v === 'string') return v ?? '';
  return v.ru || v.en || Object.values(v).find(Boolean) || '';
}

/** Field type of a user field. */
export function ufFieldDef(uf: UserFieldDef): FieldDef {
  return {
    type: UF_TYPES[uf.USER_TYPE_ID] ?? 'string',
    title: labelOf(uf.EDIT_FORM_LABEL) || uf.FIELD_NAME,
    multi: uf.MULTIPLE === 'Y',
    req: uf.MANDATORY === 'Y',
  };
}

const camelCache = new Map<string, string>();

/** camelCase name of a legacy field for crm.item / tasks views. */
export function camelName(key: string, f?: FieldDef): string {
  if (f?.camel) return f.camel;
  let c = camelCache.get(key);
  if (c === undefined) {
    c = computeCamel(key);
    camelCache.set(key, c);
  }
  return c;
}

function computeCamel(key: string): string {
  const uf = /^UF_CRM_(\d+)_(.+)$/.exec(key);
  // UF_CRM_44_1721812760630 → ufCrm44_1721812760630 (a digit after the type id keeps its underscore, as documented)
  if (uf) {
    const tail = computeCamel(uf[2]!);
    return 'ufCrm' + uf[1] + (/^\d/.test(tail) ? '_' + tail : tail.replace(/^./, (c) => c.toUpperCase()));
  }
  const ufn = /^UF_CRM_(\d+)$/.exec(key);
  if (ufn) return 'ufCrm_' + ufn[1];
  return key.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** Builds the camel → legacy map of an entity (plus its user fields). */
export function camelMap(def: EntityDef, ufs: UserFieldDef[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const [k, f] of Object.entries(def.fields)) m.set(camelName(k, f).toLowerCase(), k);
  for (const uf of ufs) m.set(camelName(uf.FIELD_NAME).toLowerCase(), uf.FIELD_NAME);
  return m;
}

/** The field definitions of an entity including its user fields. */
export function allFields(def: EntityDef, ufs: UserFieldDef[]): Record<string, FieldDef> {
  if (!ufs.length) return def.fields;
  const out = { ...def.fields };
  for (const uf of ufs) out[uf.FIELD_NAME] = ufFieldDef(uf);
  return out;
}

/** Resolver over legacy (upper-case) names. */
export function legacyResolver(fields: Record<string, FieldDef>): Resolver {
  return (name) => {
    const key = name.toUpperCase();
    const f = fields[key];
    return f ? { key, kind: kindOf(f.type) } : null;
  };
}

/** Resolver over camelCase names (crm.item.*, tasks.task v3), falling back to legacy names. */
export function camelResolver(fields: Record<string, FieldDef>, map: Map<string, string>): Resolver {
  return (name) => {
    const key = map.get(name.toLowerCase()) ?? (fields[name.toUpperCase()] ? name.toUpperCase() : undefined);
    if (!key) return null;
    const f = fields[key]!;
    return { key, kind: kindOf(f.type) };
  };
}

const sv = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

/** Formats one value the legacy way: scalars as strings, dates ISO, multifields as `{ID,VALUE_TYPE,VALUE,TYPE_ID}`. */
export function legacyValue(f: FieldDef, v: unknown, key: string): unknown {
  if (v === null || v === undefined) return f.multi ? [] : f.emptyString ? '' : null;
  switch (f.type) {
    case 'date':
    case 'datetime':
      if (Array.isArray(v)) return v.map((x) => isoDate(x as number));
      return typeof v === 'number' ? isoDate(v) : v;
    case 'double':
      return typeof v === 'number' ? (Number.isInteger(v * 100) ? v.toFixed(2) : String(v)) : String(v);
    case 'crm_multifield':
      return (v as any[]).map((x) => ({ ID: sv(x.ID), VALUE_TYPE: x.VALUE_TYPE, VALUE: x.VALUE, TYPE_ID: key }));
    case 'file':
      return fileView(v, true);
    case 'boolean':
    case 'int_raw':
    case 'object':
      return v;
    default:
      if (Array.isArray(v)) return v.map(sv);
      return typeof v === 'object' ? v : String(v);
  }
}

/** Formats one value the crm.item way: numbers stay numbers, dates ISO, strings stay strings. */
export function typedValue(f: FieldDef, v: unknown): unknown {
  if (v === null || v === undefined) return f.multi ? [] : null;
  switch (f.type) {
    case 'date':
    case 'datetime':
      return typeof v === 'number' ? isoDate(v) : v;
    case 'file':
      return fileView(v, false);
    default:
      return v;
  }
}

/**
 * A stored file value (`{id, url, urlMachine}`, see methods/crmFiles.ts) as a read shows it: `{id, url, urlMachine}`
 * in crm.item.*, `{id, showUrl, downloadUrl}` in the legacy methods; a list for a multiple field.
 */
function fileView(v: unknown, legacy: boolean): unknown {
  if (Array.isArray(v)) return v.map((x) => fileView(x, legacy));
  if (!v || typeof v !== 'object') return v;
  const f = v as { id: number; url: string; urlMachine: string };
  return legacy
    ? { id: f.id, showUrl: f.url, downloadUrl: f.urlMachine }
    : { id: f.id, url: f.url, urlMachine: f.urlMachine };
}

/** Legacy select: `*` (standard non-multiple), `UF_*` (user fields), explicit names (case-insensitive). */
export function legacySelect(fields: Record<string, FieldDef>, select: unknown, defaultAll = true): string[] {
  const list = Array.isArray(select) ? select : select && typeof select === 'object' ? Object.values(select) : [];
  const names = list.map((s) => String(s).toUpperCase());
  if (!names.length) {
    if (!defaultAll) return Object.keys(fields);
    names.push('*', 'UF_*');
  }
  const out = new Set<string>(['ID']);
  for (const n of names) {
    if (n === '*') {
      for (const [k, f] of Object.entries(fields)) if (!k.startsWith('UF_') && !f.noStar) out.add(k);
    } else if (n === 'UF_*') {
      for (const k of Object.keys(fields)) if (k.startsWith('UF_')) out.add(k);
    } else if (fields[n]) out.add(n);
  }
  return [...out].filter((k) => fields[k]);
}

/** Renders a row in the legacy view over the chosen keys. */
export function legacyRow(fields: Record<string, FieldDef>, row: Row, keys: string[]): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const k of keys) o[k] = legacyValue(fields[k]!, row[k], k);
  return o;
}

/** Renders a row in the crm.item view (camelCase, typed; multifields folded into `fm`). */
export function itemRow(
  def: EntityDef,
  fields: Record<string, FieldDef>,
  row: Row,
  keys: string[] | null,
  originalUf = false,
): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  const all = keys ?? Object.keys(fields);
  let fm: unknown[] | null = null;
  for (const k of all) {
    const f = fields[k]!;
    if (f.type === 'crm_multifield') {
      if (!keys) {
        fm ??= [];
        for (const x of (row[k] as any[]) ?? [])
          fm.push({ id: x.ID, valueType: x.VALUE_TYPE, value: x.VALUE, typeId: k });
      }
      continue;
    }
    o[originalUf && k.startsWith('UF_') ? k : camelName(k, f)] = typedValue(f, row[k]);
  }
  if (fm) o.fm = fm;
  // the full item also shows the portal's computed keys of deals and leads (itemExtras.ts)
  if (!keys) for (const [k, v] of Object.entries(itemExtras(def, row))) if (!(k in o)) o[k] = v;
  if (def.entityTypeId) o.entityTypeId = def.entityTypeId;
  return o;
}
