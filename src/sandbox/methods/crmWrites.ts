/**
 * How a CRM row is created, changed and deleted, whatever the dialect of the call: field coercion, the derived
 * fields of deals (pipeline stage, STAGE_SEMANTIC_ID, CLOSED, MOVED_TIME, CONTACT_ID ↔ CONTACT_IDS), leads
 * (STATUS_ID, STATUS_SEMANTIC_ID), contacts/companies (HAS_PHONE, COMPANY_ID ↔ COMPANY_IDS), the audit fields,
 * and the ONCRM<ENTITY>ADD/UPDATE/DELETE events. Also the legacy CRM error texts. Sources:
 * apidocs.bitrix24.com/api-reference/crm/deals/crm-deal-add.html, …/crm-deal-update.html,
 * api-reference/crm/leads/crm-lead-add.html, api-reference/crm/contacts/crm-contact-add.html,
 * api-reference/crm/companies/crm-company-add.html (b24-spec spec/index.json maps each method to its page).
 */
import { legacyError } from '../apiError.js';
import type { Portal } from '../portal.js';
import type { CallCtx } from '../registry.js';
import type { Row } from '../store.js';
import { applyFields, fireCrm } from './common.js';

/** Legacy "ID is not defined or invalid." (empty code, 400). */
export const badId = () => legacyError('ID is not defined or invalid.');
/** Legacy "Not found" (empty code, 400). */
export const notFound = () => legacyError('Not found');
/** Legacy "Parameter 'fields' must be array." (empty code, 400). */
export const badFields = () => legacyError("Parameter 'fields' must be array.");

function stageDefaults(p: Portal, row: Row, creating: boolean, changed: string[]): void {
  if (creating || changed.includes('CATEGORY_ID')) row.CATEGORY_ID ??= 0;
  const cat = row.CATEGORY_ID ?? 0;
  if (!p.t.category.get(cat)) throw legacyError(`Category ${cat} not found.`);
  const stages = p.stages(cat);
  if (!row.STAGE_ID || (!creating && changed.includes('CATEGORY_ID') && !changed.includes('STAGE_ID'))) {
    row.STAGE_ID = stages[0]?.STATUS_ID ?? 'NEW';
  }
  const entity = cat === 0 ? 'DEAL_STAGE' : `DEAL_STAGE_${cat}`;
  if (!stages.some((s) => s.STATUS_ID === row.STAGE_ID)) {
    throw legacyError(`Stage '${row.STAGE_ID}' does not belong to pipeline ${cat}.`);
  }
  row.STAGE_SEMANTIC_ID = p.semantic(entity, row.STAGE_ID);
  row.CLOSED = row.STAGE_SEMANTIC_ID === 'P' ? 'N' : 'Y';
  row.IS_NEW = /(^|:)NEW$/.test(row.STAGE_ID) ? 'Y' : 'N';
}

/** Create/update with the entity's derived fields (stages, HAS_PHONE, …). */
function write(
  ctx: CallCtx,
  entity: string,
  row: Row,
  input: Record<string, unknown>,
  creating: boolean,
  moveCategory = false,
): string[] {
  const p = ctx.portal;
  const def = p.def(entity);
  const fields = p.fields(def);
  const now = p.clock.now();
  const prevStage = row.STAGE_ID ?? row.STATUS_ID;
  if (creating) {
    for (const [k, f] of Object.entries(fields)) if (!(k in row)) row[k] = f.multi ? [] : null;
  }
  // legacy crm.deal.update ignores CATEGORY_ID (immutable); crm.item.update may move a deal to another pipeline
  const changed = applyFields(p, fields, row, input, { creating: creating || moveCategory });
  if (entity === 'deal') {
    stageDefaults(p, row, creating, changed);
    row.CURRENCY_ID ??= 'RUB';
    row.OPPORTUNITY ??= 0;
    row.IS_MANUAL_OPPORTUNITY ??= 'N';
    row.OPENED ??= 'Y';
    row.IS_RECURRING ??= 'N';
    row.IS_RETURN_CUSTOMER ??= 'N';
    row.IS_REPEATED_APPROACH ??= 'N';
    row.TAX_VALUE ??= 0;
    if (changed.includes('CONTACT_IDS')) row.CONTACT_ID = row.CONTACT_IDS[0] ?? null;
    else if (changed.includes('CONTACT_ID')) row.CONTACT_IDS = row.CONTACT_ID ? [row.CONTACT_ID] : [];
    if (creating || row.STAGE_ID !== prevStage) {
      row.MOVED_TIME = now;
      row.MOVED_BY_ID = ctx.userId;
    }
  }
  if (entity === 'lead') {
    row.STATUS_ID ??= 'NEW';
    if (!p.t.status.rows.some((s) => s.ENTITY_ID === 'STATUS' && s.STATUS_ID === row.STATUS_ID)) {
      throw legacyError(`Status '${row.STATUS_ID}' is not found.`);
    }
    row.STATUS_SEMANTIC_ID = p.semantic('STATUS', row.STATUS_ID);
    row.CURRENCY_ID ??= 'RUB';
    row.OPPORTUNITY ??= 0;
    row.OPENED ??= 'Y';
    row.IS_RETURN_CUSTOMER ??= 'N';
    row.IS_MANUAL_OPPORTUNITY ??= 'N';
    if (row.STATUS_ID !== prevStage) {
      row.MOVED_TIME = now;
      row.MOVED_BY_ID = ctx.userId;
    }
  }
  if ('HAS_PHONE' in fields) {
    row.HAS_PHONE = row.PHONE?.length ? 'Y' : 'N';
    row.HAS_EMAIL = row.EMAIL?.length ? 'Y' : 'N';
    row.HAS_IMOL = row.IM?.length ? 'Y' : 'N';
  }
  if (entity === 'contact') {
    if (changed.includes('COMPANY_IDS')) row.COMPANY_ID = row.COMPANY_IDS[0] ?? null;
    else if (changed.includes('COMPANY_ID')) row.COMPANY_IDS = row.COMPANY_ID ? [row.COMPANY_ID] : [];
    row.OPENED ??= 'Y';
    row.EXPORT ??= 'Y';
  }
  if (entity === 'company') {
    row.OPENED ??= 'Y';
    row.IS_MY_COMPANY ??= 'N';
    row.CURRENCY_ID ??= 'RUB';
  }
  if (creating) {
    row.DATE_CREATE = now;
    row.CREATED_BY_ID = ctx.userId;
    row.ASSIGNED_BY_ID ??= ctx.userId;
  }
  row.DATE_MODIFY = now;
  row.MODIFY_BY_ID = ctx.userId;
  return changed;
}

/** Creates a deal/lead/contact/company row from legacy (UPPER) input; fires ONCRM<ENTITY>ADD. @throws legacy ApiError */
export function insert(ctx: CallCtx, entity: string, input: Record<string, unknown>): Row {
  const p = ctx.portal;
  const table = p.t[entity as 'deal'];
  const row: Row = {};
  write(ctx, entity, row, input, true);
  table.insert(row);
  if (!row.TITLE && entity === 'deal') row.TITLE = `Сделка #${row.ID}`;
  if (!row.TITLE && entity === 'lead') row.TITLE = `Лид #${row.ID}`;
  if (!row.TITLE && entity === 'company') row.TITLE = `Компания #${row.ID}`;
  fireCrm(p, entity, 'ADD', row.ID, ctx.connector);
  return row;
}

/**
 * Changes a row from legacy (UPPER) input, all or nothing (the row is restored when a check fails); fires
 * ONCRM<ENTITY>UPDATE. `moveCategory` lets a deal change pipeline (crm.item.update; legacy update ignores it).
 */
export function update(
  ctx: CallCtx,
  entity: string,
  row: Row,
  input: Record<string, unknown>,
  moveCategory = false,
): void {
  const backup = { ...row };
  try {
    write(ctx, entity, row, input, false, moveCategory);
  } catch (e) {
    Object.assign(row, backup);
    throw e;
  }
  fireCrm(ctx.portal, entity, 'UPDATE', row.ID, ctx.connector);
}

/** Deletes a row; fires ONCRM<ENTITY>DELETE. */
export function remove(ctx: CallCtx, entity: string, id: number): void {
  ctx.portal.t[entity as 'deal'].delete(id);
  fireCrm(ctx.portal, entity, 'DELETE', id, ctx.connector);
}

/** Exposed for the simulator: create/update rows the way the API does (fires events). */
export const crmWrites = { insert, update, remove };
