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
import { dynamicStageEntity, dynamicTypeId } from '../dynamicEntities.js';
import type { Portal } from '../portal.js';
import type { CallCtx } from '../registry.js';
import type { Row } from '../store.js';
import { applyFields, fireCrm } from './common.js';
import { applyFiles, takeFiles } from './crmFiles.js';

/** Legacy "ID is not defined or invalid." (empty code, 400). */
export const badId = () => legacyError('ID is not defined or invalid.');
/** Legacy "Not found" (empty code, 400). */
export const notFound = () => legacyError('Not found');
/** Legacy "Parameter 'fields' must be array." (empty code, 400). */
export const badFields = () => legacyError("Parameter 'fields' must be array.");

function stageDefaults(p: Portal, row: Row, creating: boolean, changed: string[]): void {
  if (creating || changed.includes('CATEGORY_ID')) row.CATEGORY_ID ??= 0;
  const cat = row.CATEGORY_ID ?? 0;
  if (p.t.category.get(cat)?.ENTITY_TYPE_ID !== 2) throw legacyError(`Category ${cat} not found.`);
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

/**
 * Pipeline and stage of a smart process item: the type's default pipeline when none is given, the pipeline's first
 * stage when none is given (or the pipeline changed), a stage of another pipeline refused; PREVIOUS_STAGE_ID follows.
 */
function dynamicStageDefaults(
  p: Portal,
  etid: number,
  row: Row,
  creating: boolean,
  changed: string[],
  prev: unknown,
): void {
  const cats = p.t.category.rows.filter((c) => c.ENTITY_TYPE_ID === etid);
  if (row.CATEGORY_ID === null || row.CATEGORY_ID === undefined) {
    row.CATEGORY_ID = (cats.find((c) => c.IS_DEFAULT === 'Y') ?? cats[0])?.ID ?? null;
  }
  const cat = row.CATEGORY_ID;
  if (!cats.some((c) => c.ID === cat)) throw legacyError(`Category ${cat} not found.`);
  const stages = p.dynamicStages(etid, cat);
  if (!row.STAGE_ID || (!creating && changed.includes('CATEGORY_ID') && !changed.includes('STAGE_ID'))) {
    row.STAGE_ID = stages[0]?.STATUS_ID ?? null;
  }
  if (row.STAGE_ID && !stages.some((s) => s.STATUS_ID === row.STAGE_ID)) {
    throw legacyError(`Stage '${row.STAGE_ID}' does not belong to pipeline ${cat} (${dynamicStageEntity(etid, cat)}).`);
  }
  if (!creating && row.STAGE_ID !== prev) row.PREVIOUS_STAGE_ID = prev ?? null;
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
  const files = takeFiles(fields, input);
  const changed = applyFields(p, fields, row, files.rest, { creating: creating || moveCategory });
  changed.push(...applyFiles(p, fields, row, files.values, entity));
  const etid = dynamicTypeId(entity);
  if (etid !== null) {
    dynamicStageDefaults(p, etid, row, creating, changed, prevStage);
    row.CURRENCY_ID ??= 'RUB';
    row.OPPORTUNITY ??= 0;
    row.IS_MANUAL_OPPORTUNITY ??= 'N';
    row.TAX_VALUE ??= 0;
    row.OPENED ??= 'Y';
    if (changed.includes('CONTACT_IDS')) row.CONTACT_ID = row.CONTACT_IDS[0] ?? null;
    else if (changed.includes('CONTACT_ID')) row.CONTACT_IDS = row.CONTACT_ID ? [row.CONTACT_ID] : [];
    if (creating || row.STAGE_ID !== prevStage) {
      row.MOVED_TIME = now;
      row.MOVED_BY_ID = ctx.userId;
    }
  }
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

/** Creates a deal/lead/contact/company/smart process item row from legacy (UPPER) input; fires ONCRM<ENTITY>ADD. @throws legacy ApiError */
export function insert(ctx: CallCtx, entity: string, input: Record<string, unknown>): Row {
  const p = ctx.portal;
  const table = p.table(entity);
  const row: Row = {};
  write(ctx, entity, row, input, true);
  table.insert(row);
  const etid = dynamicTypeId(entity);
  if (!row.TITLE && etid !== null) row.TITLE = `${p.dynamicType(etid)?.title ?? 'Smart process'} #${row.ID}`;
  if (!row.TITLE && entity === 'deal') row.TITLE = `Сделка #${row.ID}`;
  if (!row.TITLE && entity === 'lead') row.TITLE = `Лид #${row.ID}`;
  if (!row.TITLE && entity === 'company') row.TITLE = `Компания #${row.ID}`;
  fire(p, entity, 'ADD', row.ID, ctx.connector);
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
  fire(ctx.portal, entity, 'UPDATE', row.ID, ctx.connector);
}

/** Deletes a row; fires ONCRM<ENTITY>DELETE. */
export function remove(ctx: CallCtx, entity: string, id: number): void {
  ctx.portal.table(entity).delete(id);
  fire(ctx.portal, entity, 'DELETE', id, ctx.connector);
}

/**
 * The change event: ONCRM<ENTITY><ACTION> for the built-in entities; for a smart process item both
 * ONCRMDYNAMICITEM<ACTION> and ONCRMDYNAMICITEM<ACTION>_<entityTypeId> with `{FIELDS: {ID, ENTITY_TYPE_ID}}`
 * (api-reference/crm/universal/events/on-crm-dynamic-item-add.md).
 */
function fire(p: Portal, entity: string, action: 'ADD' | 'UPDATE' | 'DELETE', id: number, connector: string): void {
  const etid = dynamicTypeId(entity);
  if (etid === null) {
    fireCrm(p, entity, action, id, connector);
    return;
  }
  const data = { FIELDS: { ID: id, ENTITY_TYPE_ID: etid } };
  p.events.fire(`ONCRMDYNAMICITEM${action}`, data, `${entity}:${id}`, connector);
  p.events.fire(`ONCRMDYNAMICITEM${action}_${etid}`, data, `${entity}:${id}`, connector);
  p.dirty();
}

/** Exposed for the simulator: create/update rows the way the API does (fires events). */
export const crmWrites = { insert, update, remove };
