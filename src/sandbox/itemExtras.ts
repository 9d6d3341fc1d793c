/**
 * Keys the `crm.item.*` view of a deal or lead shows beyond the entity's own fields: the portal's computed and
 * service columns (`dateCreateShort`, `searchContent`, `isWon`, …) and, for leads, the contact summary it derives
 * from the multifields (`phone`, `phoneMobile`, `email`, `emailWork`, `imol`, …; `""` when the lead has none, as the
 * lead example shows; `skype`/`icq` null). The docs' examples show the service columns as null; so does the sandbox,
 * which has nothing to derive them from. They are read-only and appear
 * only in the full item (no `select`). Sources: apidocs.bitrix24.com/api-reference/crm/universal/crm-item-add.html
 * (deal response), api-reference/crm/universal/crm-item-get.html (lead response).
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

/** The extra item-view keys of a deal or lead row (an empty object for other entities). */
export function itemExtras(def: EntityDef, row: Row): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  if (def.name === 'deal') {
    for (const k of DEAL_NULLS) o[k] = null;
    o.observers = [];
  } else if (def.name === 'lead') {
    for (const k of LEAD_NULLS) o[k] = null;
    const name = [row.LAST_NAME, row.NAME ? `${String(row.NAME).slice(0, 1)}.` : ''].filter(Boolean).join(' ');
    o.shortName = name || null;
    o.phoneMobile = firstOf(row, 'PHONE', 'MOBILE');
    o.phoneWork = firstOf(row, 'PHONE', 'WORK');
    o.phoneMailing = firstOf(row, 'PHONE', 'MAILING');
    o.emailHome = firstOf(row, 'EMAIL', 'HOME');
    o.emailWork = firstOf(row, 'EMAIL', 'WORK');
    o.emailMailing = firstOf(row, 'EMAIL', 'MAILING');
    o.skype = firstOf(row, 'IM', 'SKYPE', null);
    o.icq = firstOf(row, 'IM', 'ICQ', null);
    o.imol = firstOf(row, 'IM', 'IMOL');
    o.email = firstOf(row, 'EMAIL');
    o.phone = firstOf(row, 'PHONE');
    o.observers = [];
  }
  return o;
}
