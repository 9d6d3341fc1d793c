/**
 * The shape of entity field definitions (field types, one field's metadata, an entity) and the constructors the
 * definitions are written with (entities.ts, crmEntities.ts). Sources: apidocs.bitrix24.com/api-reference/crm/deals/
 * crm-deal-fields.html and the other `*.fields` pages, doc api-reference/data-types.md.
 */

/** Doc field types used by `*.fields` and by the formatters. */
export type FieldType =
  | 'integer'
  | 'double'
  | 'string'
  | 'char'
  | 'date'
  | 'datetime'
  | 'crm_status'
  | 'crm_currency'
  | 'crm_company'
  | 'crm_contact'
  | 'crm_lead'
  | 'crm_quote'
  | 'crm_category'
  | 'crm_multifield'
  | 'user'
  | 'location'
  | 'boolean'
  | 'int_raw'
  | 'object'
  | 'enumeration'
  | 'file';

/** One field's metadata. */
export interface FieldDef {
  type: FieldType;
  title: string;
  ro?: boolean;
  req?: boolean;
  immut?: boolean;
  multi?: boolean;
  statusType?: string;
  /** camelCase name in crm.item / tasks views when it is not the mechanical one */
  camel?: string;
  /** excluded from `*` in legacy lists (multifields, multiple links) */
  noStar?: boolean;
  /** an unset value reads as `""` in the legacy view, not null (the portal's empty dates of leads and contacts) */
  emptyString?: boolean;
  /** a single link kept for compatibility beside its multiple form (`CONTACT_ID` beside `CONTACT_IDS`): `isDeprecated` */
  deprecated?: boolean;
  /** the `settings` object `*.fields` shows (link fields: `parentEntityTypeId`, see fieldsMeta) */
  settings?: Record<string, unknown>;
}

/** An entity: its fields (insertion order = output order). */
export interface EntityDef {
  name: string;
  fields: Record<string, FieldDef>;
  entityTypeId?: number;
  ufEntityId?: string;
}

/** The read-only integer `ID` field. */
export const idF = (title = 'ID'): FieldDef => ({ type: 'integer', title, ro: true });
/** A string field. */
export const str = (title: string, extra: Partial<FieldDef> = {}): FieldDef => ({ type: 'string', title, ...extra });
/** A `Y`/`N` char field. */
export const chr = (title: string, extra: Partial<FieldDef> = {}): FieldDef => ({ type: 'char', title, ...extra });
/** A user link field. */
export const usr = (title: string, extra: Partial<FieldDef> = {}): FieldDef => ({ type: 'user', title, ...extra });
/** A datetime field. */
export const dt = (title: string, extra: Partial<FieldDef> = {}): FieldDef => ({ type: 'datetime', title, ...extra });
/** A reference field of a crm.status list (`statusType`). */
export const st = (title: string, statusType: string, extra: Partial<FieldDef> = {}): FieldDef => ({
  type: 'crm_status',
  title,
  statusType,
  ...extra,
});
/** A multifield (phones, e-mails, sites, messengers, links). */
export const mf = (title: string): FieldDef => ({ type: 'crm_multifield', title, multi: true, noStar: true });
/** The UTM fields. */
export const utm = (): Record<string, FieldDef> => ({
  UTM_SOURCE: str('UTM source'),
  UTM_MEDIUM: str('UTM medium'),
  UTM_CAMPAIGN: str('UTM campaign'),
  UTM_CONTENT: str('UTM content'),
  UTM_TERM: str('UTM term'),
});
/** The address block of leads, contacts and companies (`ADDRESS`, `ADDRESS_2`, …, `ADDRESS_LOC_ADDR_ID`). */
export const address = (): Record<string, FieldDef> => ({
  ADDRESS: str('Address'),
  ADDRESS_2: str('Address (line 2)'),
  ADDRESS_CITY: str('City'),
  ADDRESS_POSTAL_CODE: str('Zip'),
  ADDRESS_REGION: str('Region'),
  ADDRESS_PROVINCE: str('State / Province'),
  ADDRESS_COUNTRY: str('Country'),
  ADDRESS_COUNTRY_CODE: str('Country code'),
  ADDRESS_LOC_ADDR_ID: { type: 'integer', title: 'Location address ID' },
});
/** A company's legal address (`REG_ADDRESS*`). */
export const regAddress = (): Record<string, FieldDef> => ({
  REG_ADDRESS: str('Legal address'),
  REG_ADDRESS_2: str('Legal address: Address (line 2)'),
  REG_ADDRESS_CITY: str('Legal address: City'),
  REG_ADDRESS_POSTAL_CODE: str('Legal address: Zip'),
  REG_ADDRESS_REGION: str('Legal address: Region'),
  REG_ADDRESS_PROVINCE: str('Legal address: State / Province'),
  REG_ADDRESS_COUNTRY: str('Legal address: Country'),
  REG_ADDRESS_COUNTRY_CODE: str('Legal address: Country code'),
  REG_ADDRESS_LOC_ADDR_ID: { type: 'integer', title: 'Legal address: Location address ID' },
});
/** Responsible, author, editor and their times (camelCase names of the crm.item view). */
/** The read-only "has phone / e-mail / open line" flags of leads, contacts and companies. */
export const hasComms = (): Record<string, FieldDef> => ({
  HAS_PHONE: chr('Has phone', { ro: true }),
  HAS_EMAIL: chr('Has email', { ro: true }),
  HAS_IMOL: chr('Has open line', { ro: true }),
});

/** The multifields (crm_multifield) of leads, contacts and companies. */
export const multifields = (): Record<string, FieldDef> => ({
  PHONE: mf('Phone'),
  EMAIL: mf('E-mail'),
  WEB: mf('Website'),
  IM: mf('Messenger'),
  LINK: mf('Link'),
});

export const audit = (): Record<string, FieldDef> => ({
  ASSIGNED_BY_ID: usr('Responsible'),
  CREATED_BY_ID: usr('Created by', { ro: true, camel: 'createdBy' }),
  MODIFY_BY_ID: usr('Modified by', { ro: true, camel: 'updatedBy' }),
  DATE_CREATE: dt('Created', { ro: true, camel: 'createdTime' }),
  DATE_MODIFY: dt('Modified', { ro: true, camel: 'updatedTime' }),
});
