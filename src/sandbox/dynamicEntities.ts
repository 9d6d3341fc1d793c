/**
 * Smart processes (SPA, "dynamic types"): the entity definition of a type created with `crm.type.add`, its
 * identifiers and the stored type row. A type has a numeric `id` (user fields live on `CRM_<id>`, named
 * `UF_CRM_<id>_…`, camelCase `ufCrm<id>_…`) and an `entityTypeId` (≥ 1030 and even, or 128–192) used by
 * `crm.item.*`, `crm.category.*` and the stage reference `DYNAMIC_<entityTypeId>_STAGE_<categoryId>` whose stage ids
 * read `DT<entityTypeId>_<categoryId>:NEW`; product rows name the type by its short code `T<hex entityTypeId>`.
 * Sources: apidocs.bitrix24.com/api-reference/crm/universal/user-defined-object-types/index.html (identifiers),
 * …/crm-type-add.html, api-reference/crm/universal/crm-item-add.html (SPA fields), api-reference/crm/universal/
 * object-fields.html.
 */
import type { EntityDef, FieldDef } from './entityFields.js';
import type { Row } from './store.js';

/** The flags of a type that `crm.type.add/update` accept and every type view shows, with their defaults. */
export const TYPE_FLAGS: Record<string, 'Y' | 'N'> = {
  isCategoriesEnabled: 'N',
  isStagesEnabled: 'N',
  isBeginCloseDatesEnabled: 'N',
  isClientEnabled: 'N',
  isUseInUserfieldEnabled: 'N',
  isLinkWithProductsEnabled: 'N',
  isMycompanyEnabled: 'N',
  isDocumentsEnabled: 'N',
  isSourceEnabled: 'N',
  isObserversEnabled: 'N',
  isRecyclebinEnabled: 'N',
  isAutomationEnabled: 'N',
  isBizProcEnabled: 'N',
  isSetOpenPermissions: 'Y',
  isPaymentsEnabled: 'N',
  isCountersEnabled: 'N',
};

/** Entity name of a smart process's items (`dynamic_1030`). */
export const dynamicName = (entityTypeId: number) => `dynamic_${entityTypeId}`;

/** entityTypeId of a dynamic entity name, or null for a built-in entity. */
export function dynamicTypeId(entity: string): number | null {
  const m = /^dynamic_(\d+)$/.exec(entity);
  return m ? Number(m[1]) : null;
}

/** Whether an entityTypeId may be given to a new smart process (even ≥ 1030, or 128–192). */
export const validDynamicTypeId = (n: number) =>
  Number.isInteger(n) && ((n >= 1030 && n % 2 === 0) || (n >= 128 && n <= 192));

/** entityTypeId of smart invoices: a built-in type served like a smart process (not listed by crm.type.list). */
export const SMART_INVOICE = 31;

/**
 * Status reference (crm.status ENTITY_ID) of a smart process pipeline's stages; smart invoices use
 * `SMART_INVOICE_STAGE_<categoryId>` (api-reference/crm/universal/crm-item-add.html, stageId).
 */
export const dynamicStageEntity = (entityTypeId: number, categoryId: number) =>
  entityTypeId === SMART_INVOICE ? `SMART_INVOICE_STAGE_${categoryId}` : `DYNAMIC_${entityTypeId}_STAGE_${categoryId}`;

/** Whether a crm.status ENTITY_ID is the stage list of a smart process or smart invoice pipeline. */
export const isDynamicStageEntity = (entity: string) => /^(?:DYNAMIC_\d+_STAGE|SMART_INVOICE_STAGE)_\d+$/.test(entity);

/** Stage id prefix of a smart process pipeline (`DT1030_7:`). */
export const dynamicStagePrefix = (entityTypeId: number, categoryId: number) => `DT${entityTypeId}_${categoryId}:`;

/** Short symbolic code of a type (`T406` for 1030), the `ownerType` of its product rows. */
export const shortTypeCode = (entityTypeId: number) => `T${entityTypeId.toString(16)}`;

const f = (type: FieldDef['type'], title: string, extra: Partial<FieldDef> = {}): FieldDef => ({
  type,
  title,
  ...extra,
});

/**
 * Fields of a smart process item, legacy UPPER names with their camelCase view names (`crm.item.fields` of an
 * SPA): the audit fields share the deal's storage names so one write path stamps them.
 */
const DYNAMIC_FIELDS: Record<string, FieldDef> = {
  ID: f('integer', 'ID', { ro: true }),
  XML_ID: f('string', 'External ID'),
  TITLE: f('string', 'Name'),
  CREATED_BY_ID: f('user', 'Created by', { ro: true, camel: 'createdBy' }),
  MODIFY_BY_ID: f('user', 'Modified by', { ro: true, camel: 'updatedBy' }),
  MOVED_BY_ID: f('user', 'Moved by', { ro: true, camel: 'movedBy' }),
  DATE_CREATE: f('datetime', 'Created on', { ro: true, camel: 'createdTime' }),
  DATE_MODIFY: f('datetime', 'Modified on', { ro: true, camel: 'updatedTime' }),
  MOVED_TIME: f('datetime', 'Moved on', { ro: true }),
  CATEGORY_ID: f('crm_category', 'Pipeline'),
  OPENED: f('char', 'Available to everyone'),
  STAGE_ID: f('crm_status', 'Stage'),
  PREVIOUS_STAGE_ID: f('crm_status', 'Previous stage', { ro: true }),
  BEGINDATE: f('date', 'Start date', { camel: 'begindate' }),
  CLOSEDATE: f('date', 'End date', { camel: 'closedate' }),
  COMPANY_ID: f('crm_company', 'Company'),
  CONTACT_ID: f('crm_contact', 'Contact', { deprecated: true }),
  CONTACT_IDS: f('crm_contact', 'Contacts', { multi: true, noStar: true }),
  OPPORTUNITY: f('double', 'Amount'),
  IS_MANUAL_OPPORTUNITY: f('char', 'Manual amount'),
  TAX_VALUE: f('double', 'Tax amount'),
  CURRENCY_ID: f('crm_currency', 'Currency'),
  MYCOMPANY_ID: f('crm_company', 'Your company details', {
    camel: 'mycompanyId',
    settings: { isMyCompany: true, isEmbeddedEditorEnabled: true },
  }),
  SOURCE_ID: f('crm_status', 'Source', { statusType: 'SOURCE' }),
  SOURCE_DESCRIPTION: f('string', 'Source information'),
  ASSIGNED_BY_ID: f('user', 'Responsible person'),
  WEBFORM_ID: f('integer', 'Created by CRM form', { ro: true }),
  OBSERVERS: f('user', 'Observers', { multi: true }),
  LAST_ACTIVITY_BY: f('user', 'Last activity by', { ro: true }),
  LAST_ACTIVITY_TIME: f('datetime', 'Last activity', { ro: true }),
};

/** The entity definition of a smart process from its stored type row (`crm_type` table). */
export function dynamicDef(type: Row): EntityDef {
  const etid = Number(type.entityTypeId);
  const fields: Record<string, FieldDef> = {};
  for (const [k, v] of Object.entries(DYNAMIC_FIELDS)) {
    fields[k] =
      k === 'STAGE_ID' || k === 'PREVIOUS_STAGE_ID'
        ? { ...v, statusType: dynamicStageEntity(etid, Number(type.defaultCategory ?? 0)) }
        : v;
  }
  const ufEntityId = etid === SMART_INVOICE ? 'CRM_SMART_INVOICE' : `CRM_${type.ID}`;
  return { name: dynamicName(etid), entityTypeId: etid, ufEntityId, fields };
}
