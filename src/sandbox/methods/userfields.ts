/**
 * User fields: the stored definition's labels and settings, the legacy views of `crm.<entity>.userfield.list/get`
 * and the `userfieldconfig.*` family (the documented way to add user fields to a smart process, `CRM_<type id>`).
 * Labels are language maps (`EDIT_FORM_LABEL`, `LIST_COLUMN_LABEL`, `LIST_FILTER_LABEL`, `ERROR_MESSAGE`,
 * `HELP_MESSAGE`): a string sets every language, a map sets its languages and the rest from `LABEL`. `.get` shows
 * the maps; `.list` shows the labels only when `filter.LANG` names a language, as strings in it (LANG selects the
 * language, it filters nothing). `SETTINGS` is always an object with the type's documented keys. Sources:
 * apidocs.bitrix24.com/api-reference/crm/deals/user-defined-fields/crm-deal-userfield-list.html (LANG),
 * …/crm-deal-userfield-get.html, …/crm-deal-userfield-add.html, api-reference/crm/universal/user-defined-fields/
 * crm-userfield-settings-fields.html, api-reference/crm/universal/userfieldconfig/userfieldconfig-add.html (and
 * -get, -list, -update, -delete).
 */
import { d7Error, missingParam } from '../apiError.js';
import type { UserFieldDef } from '../fieldViews.js';
import { type Params, pick, truthy } from '../params.js';
import type { Portal } from '../portal.js';
import type { Registry } from '../registry.js';
import type { Row } from '../store.js';

/** Language ids of a label map, as `crm.deal.userfield.get` shows them. */
export const LANGS = [
  'ar',
  'br',
  'de',
  'en',
  'fr',
  'hi',
  'id',
  'in',
  'it',
  'ja',
  'kz',
  'la',
  'ms',
  'pl',
  'ru',
  'sc',
  'tc',
  'th',
  'tr',
  'ua',
  'vn',
];

/** The label keys of a user field. */
export const LABEL_KEYS = [
  'EDIT_FORM_LABEL',
  'LIST_COLUMN_LABEL',
  'LIST_FILTER_LABEL',
  'ERROR_MESSAGE',
  'HELP_MESSAGE',
];

/** A label map from a string or a partial map (the rest from `fallback`). */
export function labelMap(v: unknown, fallback: string): Record<string, string> {
  if (v && typeof v === 'object') {
    const given = v as Record<string, unknown>;
    return Object.fromEntries(LANGS.map((l) => [l, given[l] === undefined ? fallback : String(given[l] ?? '')]));
  }
  const s = v === undefined || v === null ? fallback : String(v);
  return Object.fromEntries(LANGS.map((l) => [l, s]));
}

/** The label of a map in one language (ru, then en, then any, when `lang` is not given). */
export function labelIn(v: unknown, lang?: string): string {
  if (typeof v === 'string') return v;
  if (!v || typeof v !== 'object') return '';
  const m = v as Record<string, string>;
  if (lang) return m[lang] ?? '';
  return m.ru || m.en || Object.values(m).find(Boolean) || '';
}

/** Documented default SETTINGS per user field type (crm-userfield-settings-fields). */
export function defaultSettings(type: string): Record<string, unknown> {
  switch (type) {
    case 'string':
      return { SIZE: 20, ROWS: 1, REGEXP: '', MIN_LENGTH: 0, MAX_LENGTH: 0, DEFAULT_VALUE: '' };
    case 'integer':
      return { SIZE: 20, MIN_VALUE: 0, MAX_VALUE: 0, DEFAULT_VALUE: null };
    case 'double':
      return { PRECISION: 2, SIZE: 20, MIN_VALUE: 0, MAX_VALUE: 0, DEFAULT_VALUE: null };
    case 'boolean':
      return { DEFAULT_VALUE: 0, DISPLAY: 'CHECKBOX', LABEL: ['', ''], LABEL_CHECKBOX: '' };
    case 'date':
    case 'datetime':
      return { DEFAULT_VALUE: { TYPE: 'NONE', VALUE: '' }, USE_SECOND: 'Y', USE_TIMEZONE: 'N' };
    case 'enumeration':
      return { DISPLAY: 'LIST', LIST_HEIGHT: 1, CAPTION_NO_VALUE: '', SHOW_NO_VALUE: 'Y' };
    case 'file':
      return {
        SIZE: 20,
        LIST_WIDTH: 200,
        LIST_HEIGHT: 200,
        MAX_SHOW_SIZE: 0,
        MAX_ALLOWED_SIZE: 0,
        EXTENSIONS: [],
        TARGET_BLANK: 'Y',
      };
    case 'money':
      return { DEFAULT_VALUE: '' };
    case 'url':
      return { POPUP: 'Y', SIZE: 20, MIN_LENGTH: 0, MAX_LENGTH: 0, DEFAULT_VALUE: '', ROWS: 1 };
    case 'employee':
      return {};
    default:
      return {};
  }
}

/** Settings of a new field: the type's defaults overlaid with the given object. */
export function settingsFor(type: string, given: unknown): Record<string, unknown> {
  const s = defaultSettings(type);
  if (given && typeof given === 'object' && !Array.isArray(given)) Object.assign(s, given);
  return s;
}

/**
 * The legacy view of a user field (`crm.<entity>.userfield.get/list`): `lang` undefined → label maps (get),
 * a language → label strings in it (list with LANG), null → no labels (list without LANG).
 */
export function ufView(u: Row, lang: string | null | undefined): Record<string, unknown> {
  const o: Record<string, unknown> = {
    ID: String(u.ID),
    ENTITY_ID: u.ENTITY_ID,
    FIELD_NAME: u.FIELD_NAME,
    USER_TYPE_ID: u.USER_TYPE_ID,
    XML_ID: u.XML_ID ?? null,
    SORT: String(u.SORT),
    MULTIPLE: u.MULTIPLE,
    MANDATORY: u.MANDATORY,
    SHOW_FILTER: u.SHOW_FILTER,
    SHOW_IN_LIST: u.SHOW_IN_LIST,
    EDIT_IN_LIST: u.EDIT_IN_LIST,
    IS_SEARCHABLE: u.IS_SEARCHABLE,
    SETTINGS: u.SETTINGS && !Array.isArray(u.SETTINGS) ? u.SETTINGS : defaultSettings(u.USER_TYPE_ID),
  };
  if (lang !== null) {
    for (const k of LABEL_KEYS) {
      const v = u[k] ?? (k === 'ERROR_MESSAGE' || k === 'HELP_MESSAGE' ? null : u.EDIT_FORM_LABEL);
      o[k] =
        lang === undefined
          ? v === null
            ? labelMap('', '')
            : labelMap(v, labelIn(v))
          : v === null
            ? null
            : labelIn(v, lang) || null;
    }
  }
  if (u.USER_TYPE_ID === 'enumeration') {
    o.LIST = ((u.LIST as any[]) ?? []).map((x) => ({
      ID: String(x.ID),
      SORT: String(x.SORT ?? 500),
      VALUE: x.VALUE,
      DEF: x.DEF ?? 'N',
      XML_ID: x.XML_ID ?? '',
    }));
  }
  return o;
}

/** Label keys of a new/updated user field from UPPER input (`LABEL` fills the ones not given). */
export function labelsFrom(f: Record<string, unknown>, fallback: string): Record<string, unknown> {
  const base = f.LABEL ?? f.EDIT_FORM_LABEL ?? fallback;
  const baseStr = labelIn(base) || fallback;
  const out: Record<string, unknown> = {};
  for (const k of LABEL_KEYS) {
    const v = f[k] ?? (k === 'ERROR_MESSAGE' || k === 'HELP_MESSAGE' ? (f.LABEL ?? null) : base);
    out[k] = v === null ? null : labelMap(v, baseStr);
  }
  return out;
}

/** The userfieldconfig view (camelCase, strings, label maps restricted to the portal's languages). */
function configView(u: Row): Record<string, unknown> {
  const langs = ['en', 'ru'];
  const map = (v: unknown) =>
    Object.fromEntries(langs.map((l) => [l, v === null || v === undefined ? null : labelIn(v, l) || null]));
  const o: Record<string, unknown> = {
    id: String(u.ID),
    entityId: u.ENTITY_ID,
    fieldName: u.FIELD_NAME,
    userTypeId: u.USER_TYPE_ID,
    xmlId: u.XML_ID ?? null,
    sort: String(u.SORT),
    multiple: u.MULTIPLE,
    mandatory: u.MANDATORY,
    showFilter: u.SHOW_FILTER,
    showInList: u.SHOW_IN_LIST,
    editInList: u.EDIT_IN_LIST,
    isSearchable: u.IS_SEARCHABLE,
    settings: u.SETTINGS ?? {},
    languageId: Object.fromEntries(langs.map((l) => [l, l])),
    editFormLabel: map(u.EDIT_FORM_LABEL),
    listColumnLabel: map(u.LIST_COLUMN_LABEL),
    listFilterLabel: map(u.LIST_FILTER_LABEL),
    errorMessage: map(u.ERROR_MESSAGE),
    helpMessage: map(u.HELP_MESSAGE),
  };
  if (u.USER_TYPE_ID === 'enumeration') {
    o.enum = ((u.LIST as any[]) ?? []).map((x) => ({
      id: String(x.ID),
      userFieldId: String(u.ID),
      value: x.VALUE,
      def: x.DEF ?? 'N',
      sort: String(x.SORT ?? 500),
      xmlId: x.XML_ID ?? '',
    }));
  }
  return o;
}

/** Enumeration items from `LIST` / `enum` input. */
export function enumItems(v: unknown, startId: number): UserFieldDef['LIST'] {
  const list = Array.isArray(v) ? v : v && typeof v === 'object' ? Object.values(v) : [];
  return list.map((x: any, i) => ({
    ID: startId + i,
    VALUE: String(x.VALUE ?? x.value ?? ''),
    DEF: String(x.DEF ?? x.def ?? 'N'),
    SORT: Number(x.SORT ?? x.sort ?? (i + 1) * 10),
  }));
}

/** The entity ids userfieldconfig.* serves in the sandbox: `CRM_<type id>` of an existing smart process. */
function checkEntity(portal: Portal, entityId: unknown): string {
  const id = String(entityId ?? '');
  const m = /^CRM_(\d+)$/.exec(id);
  if (!m || !portal.t.crm_type.get(Number(m[1]))) throw d7Error('ERROR_ENTITY_ID', `Entity ${id} is not supported`);
  return id;
}

/** Registers `userfieldconfig.add/get/list/update/delete` (moduleId `crm`). */
export function userfieldConfigMethods(r: Registry): void {
  const readModule = (p: Params) => {
    const m = pick(p, 'moduleId');
    if (m === undefined || m === '') throw missingParam('moduleId');
    if (m !== 'crm') throw d7Error('ACCESS_DENIED', 'Access denied');
  };
  const byId = (portal: Portal, p: Params) => {
    const u = portal.t.userfield.get(pick(p, 'id'));
    if (!u || !/^CRM_\d+$/.test(u.ENTITY_ID)) throw d7Error('ERROR_NOT_FOUND', 'Field not found');
    return u;
  };
  const apply = (u: Row, f: Record<string, unknown>) => {
    for (const [k, key] of [
      ['xmlId', 'XML_ID'],
      ['sort', 'SORT'],
      ['mandatory', 'MANDATORY'],
      ['showFilter', 'SHOW_FILTER'],
      ['showInList', 'SHOW_IN_LIST'],
      ['editInList', 'EDIT_IN_LIST'],
      ['isSearchable', 'IS_SEARCHABLE'],
    ] as const) {
      if (f[k] === undefined) continue;
      u[key] = key === 'SORT' ? Number(f[k]) : key === 'XML_ID' ? String(f[k]) : truthy(f[k]) ? 'Y' : 'N';
    }
    if (f.settings !== undefined)
      u.SETTINGS = settingsFor(u.USER_TYPE_ID, { ...u.SETTINGS, ...(f.settings as object) });
    if (f.editFormLabel !== undefined) u.EDIT_FORM_LABEL = labelMap(f.editFormLabel, labelIn(f.editFormLabel));
    if (f.helpMessage !== undefined) u.HELP_MESSAGE = labelMap(f.helpMessage, labelIn(f.helpMessage));
  };
  r.many('userfieldconfig', {
    'userfieldconfig.add': (ctx, p) => {
      readModule(p);
      const f = pick(p, 'field') as Record<string, unknown> | undefined;
      if (!f || typeof f !== 'object') throw missingParam('field');
      const entityId = checkEntity(ctx.portal, f.entityId);
      const name = String(f.fieldName ?? '').toUpperCase();
      const type = String(f.userTypeId ?? '');
      if (!name || !/^UF_[A-Z0-9_]{1,47}$/.test(name)) throw d7Error('ERROR_FIELD_NAME', 'Invalid field name');
      if (!type) throw d7Error('ERROR_USER_TYPE_ID', 'User type is required');
      if (ctx.portal.t.userfield.rows.some((u) => u.ENTITY_ID === entityId && u.FIELD_NAME === name)) {
        throw d7Error('ERROR_FIELD_NAME', `Field ${name} already exists`);
      }
      const label = f.editFormLabel ?? name;
      const u = ctx.portal.ufAdd({
        ENTITY_ID: entityId,
        FIELD_NAME: name,
        USER_TYPE_ID: type,
        MULTIPLE: truthy(f.multiple) ? 'Y' : 'N',
        SETTINGS: settingsFor(type, f.settings),
        EDIT_FORM_LABEL: labelMap(label, labelIn(label) || name),
        LIST: type === 'enumeration' ? enumItems(f.enum, ctx.portal.t.userfield.nextId * 100) : undefined,
      });
      apply(u, { ...f, settings: undefined, editFormLabel: undefined });
      ctx.portal.dirty();
      return { result: { field: configView(u) }, write: true };
    },
    'userfieldconfig.get': (ctx, p) => {
      readModule(p);
      return { result: { field: configView(byId(ctx.portal, p)) } };
    },
    'userfieldconfig.list': (ctx, p) => {
      readModule(p);
      const filter = (pick(p, 'filter') ?? {}) as Record<string, unknown>;
      const rows = ctx.portal.t.userfield.rows.filter(
        (u) =>
          /^CRM_\d+$/.test(u.ENTITY_ID) &&
          (filter.entityId === undefined || u.ENTITY_ID === filter.entityId) &&
          (filter.userTypeId === undefined || u.USER_TYPE_ID === filter.userTypeId),
      );
      return { result: { fields: rows.map(configView) }, total: rows.length };
    },
    'userfieldconfig.update': (ctx, p) => {
      readModule(p);
      const u = byId(ctx.portal, p);
      const f = pick(p, 'field') as Record<string, unknown> | undefined;
      if (!f || typeof f !== 'object') throw missingParam('field');
      apply(u, f);
      ctx.portal.ufEpoch++;
      ctx.portal.dirty();
      return { result: { field: configView(u) }, write: true };
    },
    'userfieldconfig.delete': (ctx, p) => {
      readModule(p);
      const u = byId(ctx.portal, p);
      ctx.portal.t.userfield.delete(u.ID);
      ctx.portal.dirty();
      return { result: true, write: true };
    },
  });
}
