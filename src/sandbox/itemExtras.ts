/**
 * Keys the `crm.item.*` view of a deal, lead, contact or company shows beyond the entity's own fields: the portal's
 * computed and service columns (`dateCreateShort`, `searchContent`, `isWon`, …) and, for leads, contacts and
 * companies, the contact summary it derives from the multifields (`phone`, `phoneMobile`, `email`, `emailWork`,
 * `imol`, …; `""` when there is none, as the lead example shows; a lead's `skype`/`icq` null). The docs' examples
 * show the service columns as null; so does the sandbox, which has nothing to derive them from. They are read-only
 * and appear only in the full item (no `select`). Sources: apidocs.bitrix24.com/api-reference/crm/universal/
 * crm-item-add.html (deal response), api-reference/crm/universal/crm-item-get.html (lead response),
 * api-reference/crm/universal/object-fields.html (the keys per type).
 */
import type { EntityDef } from './entityFields.js';
import type { Row } from './store.js';

/** A multifield entry as stored (`{ID, VALUE_TYPE, VALUE}`). */
type Multi = { VALUE_TYPE?: string; VALUE?: string };

const DEAL_NULLS = [
  'dateCreateShort',
  'dateModifyShort',
  'productId',
  'begindateShort',
  'closedateShort',
  'eventDate',
  'eventDateShort',
  'eventId',
  'eventDescription',
  'webformId',
  'searchContent',
  'orderStage',
  'isWork',
  'isWon',
  'isLose',
  'receivedAmount',
  'lostAmount',
  'hasProducts',
];

const LEAD_NULLS = [
  'dateCreateShort',
  'dateModifyShort',
  'isConvert',
  'productId',
  'webformId',
  'login',
  'searchContent',
];

/** The first value of a multifield, of one value type when given; `none` when there is none. */
function firstOf(row: Row, key: string, type?: string, none: string | null = ''): string | null {
  const list = (row[key] as Multi[] | null | undefined) ?? [];
  return list.find((x) => !type || x.VALUE_TYPE === type)?.VALUE ?? none;
}

/** The contact summary of a lead, contact or company: its first phones, e-mails and open line by type. */
function contactSummary(row: Row, o: Record<string, unknown>): void {
  o.phoneMobile = firstOf(row, 'PHONE', 'MOBILE');
  o.phoneWork = firstOf(row, 'PHONE', 'WORK');
  o.phoneMailing = firstOf(row, 'PHONE', 'MAILING');
  o.emailHome = firstOf(row, 'EMAIL', 'HOME');
  o.emailWork = firstOf(row, 'EMAIL', 'WORK');
  o.emailMailing = firstOf(row, 'EMAIL', 'MAILING');
  o.imol = firstOf(row, 'IM', 'IMOL');
  o.email = firstOf(row, 'EMAIL');
  o.phone = firstOf(row, 'PHONE');
}

/** `LAST_NAME N.` of a person (null without a name). */
function shortName(row: Row): string | null {
  const name = [row.LAST_NAME, row.NAME ? `${String(row.NAME).slice(0, 1)}.` : ''].filter(Boolean).join(' ');
  return name || null;
}

/**
 * The extra item-view keys of a deal, lead, contact or company row (an empty object for other entities), as
 * api-reference/crm/universal/object-fields.md lists them per type.
 */
export function itemExtras(def: EntityDef, row: Row): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  if (def.name === 'deal') {
    for (const k of DEAL_NULLS) o[k] = null;
  } else if (def.name === 'lead') {
    for (const k of LEAD_NULLS) o[k] = null;
    o.shortName = shortName(row);
    contactSummary(row, o);
    o.skype = firstOf(row, 'IM', 'SKYPE', null);
    o.icq = firstOf(row, 'IM', 'ICQ', null);
  } else if (def.name === 'contact') {
    o.shortName = shortName(row);
    o.login = null;
    o.searchContent = null;
    contactSummary(row, o);
  } else if (def.name === 'company') {
    o.searchContent = null;
    contactSummary(row, o);
  } else return o;
  o.observers = [];
  return o;
}
