/**
 * Smart processes in the seed, run after seed.ts and seedStaff.ts: smart invoices (entityTypeId 31, served by
 * crm.item.* like a smart process, not listed by crm.type.list) and one smart process "Договоры" (entityTypeId 1100,
 * two pipelines, user fields `UF_CRM_<id>_…` of type string, date and file) with items in every stage. Values come
 * from the row number, no generator draws, so the rest of the seed is unchanged. Sources:
 * apidocs.bitrix24.com/api-reference/crm/universal/user-defined-object-types/index.html,
 * api-reference/crm/universal/crm-item-add.html (SPA and invoice fields, stage ids).
 */
import { dynamicName, SMART_INVOICE } from './dynamicEntities.js';
import { addDynamicCategory, addDynamicType } from './methods/crmTypes.js';
import type { Portal } from './portal.js';
import type { Row } from './store.js';

const DAY = 86_400_000;

/** entityTypeId of the seeded smart process. */
export const SEEDED_SPA = 1100;

/** Adds smart invoices and the seeded smart process with their items. `now` = start of the seed day (ms). */
export function seedCrmTypes(p: Portal, now: number, managers: number[]): void {
  const invoices = addDynamicType(p, SMART_INVOICE, 'Счёт', 1, now - 900 * DAY);
  invoices.system = true;
  const spa = addDynamicType(p, SEEDED_SPA, 'Договоры', 1, now - 400 * DAY);
  Object.assign(spa, {
    isCategoriesEnabled: 'Y',
    isStagesEnabled: 'Y',
    isClientEnabled: 'Y',
    isBeginCloseDatesEnabled: 'Y',
    isObserversEnabled: 'Y',
  });
  const framework = addDynamicCategory(p, SEEDED_SPA, 'Рамочные договоры', 600, false);
  const uf = `UF_CRM_${spa.ID}_`;
  const label = (ru: string, en: string) => ({ ru, en });
  p.ufAdd({
    ENTITY_ID: `CRM_${spa.ID}`,
    FIELD_NAME: `${uf}CONTRACT_NO`,
    USER_TYPE_ID: 'string',
    EDIT_FORM_LABEL: label('Номер договора', 'Contract number'),
  });
  p.ufAdd({
    ENTITY_ID: `CRM_${spa.ID}`,
    FIELD_NAME: `${uf}SIGNED_AT`,
    USER_TYPE_ID: 'date',
    EDIT_FORM_LABEL: label('Дата подписания', 'Signed on'),
  });
  p.ufAdd({
    ENTITY_ID: `CRM_${spa.ID}`,
    FIELD_NAME: `${uf}SCAN`,
    USER_TYPE_ID: 'file',
    EDIT_FORM_LABEL: label('Скан', 'Scan'),
  });
  const companies = p.t.company.size;
  const contacts = p.t.contact.size;
  for (let i = 1; i <= 24; i++) {
    const cat = i % 4 === 0 ? framework.ID : spa.defaultCategory;
    const stages = p.dynamicStages(SEEDED_SPA, cat);
    const stage = stages[i % stages.length]!;
    const created = now - (30 + i * 11) * DAY;
    const who = managers[i % managers.length]!;
    const contact = contacts ? 1 + ((i * 7) % contacts) : null;
    addItem(p, dynamicName(SEEDED_SPA), {
      TITLE: `Договор №${2024_000 + i}`,
      CATEGORY_ID: cat,
      STAGE_ID: stage.STATUS_ID,
      OPPORTUNITY: ((i * 37) % 50) * 10_000 + 50_000,
      COMPANY_ID: companies ? 1 + ((i * 5) % companies) : null,
      CONTACT_ID: contact,
      CONTACT_IDS: contact ? [contact] : [],
      ASSIGNED_BY_ID: who,
      CREATED_BY_ID: 1,
      MODIFY_BY_ID: who,
      MOVED_BY_ID: who,
      DATE_CREATE: created,
      DATE_MODIFY: created + 3 * DAY,
      MOVED_TIME: created + 3 * DAY,
      BEGINDATE: created,
      CLOSEDATE: created + 365 * DAY,
      OBSERVERS: i % 3 === 0 ? [1] : [],
      [`${uf}CONTRACT_NO`]: `Д-${String(i).padStart(4, '0')}`,
      [`${uf}SIGNED_AT`]: stage.SEMANTICS === 'S' ? created + 5 * DAY : null,
      [`${uf}SCAN`]: null,
    });
  }
  const invStages = p.dynamicStages(SMART_INVOICE, invoices.defaultCategory);
  for (let i = 1; i <= 12; i++) {
    const created = now - (10 + i * 9) * DAY;
    const who = managers[(i * 3) % managers.length]!;
    addItem(p, dynamicName(SMART_INVOICE), {
      TITLE: `Счёт №${i}`,
      CATEGORY_ID: invoices.defaultCategory,
      STAGE_ID: invStages[i % invStages.length]!.STATUS_ID,
      OPPORTUNITY: ((i * 13) % 20) * 5_000 + 10_000,
      COMPANY_ID: companies ? 1 + ((i * 3) % companies) : null,
      ASSIGNED_BY_ID: who,
      CREATED_BY_ID: who,
      MODIFY_BY_ID: who,
      MOVED_BY_ID: who,
      DATE_CREATE: created,
      DATE_MODIFY: created + DAY,
      MOVED_TIME: created + DAY,
      BEGINDATE: created,
      CLOSEDATE: created + 10 * DAY,
    });
  }
}

/** Inserts an item with every field of its type (null/[] when not given) and the defaults a write sets. */
function addItem(p: Portal, entity: string, values: Row): void {
  const fields = p.fields(p.def(entity));
  const row: Row = {};
  for (const [k, f] of Object.entries(fields)) row[k] = f.multi ? [] : null;
  Object.assign(row, { OPENED: 'Y', CURRENCY_ID: 'RUB', IS_MANUAL_OPPORTUNITY: 'N', TAX_VALUE: 0 }, values);
  const t = p.table(entity);
  t.insert(row);
}
