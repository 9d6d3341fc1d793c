/**
 * Task rows whatever the dialect of the call: creation (TITLE and an existing RESPONSIBLE_ID required, defaults
 * of a new task), changes (status dates, CLOSED_DATE on completion), ONTASKADD/UPDATE/DELETE with their
 * FIELDS_BEFORE/FIELDS_AFTER payloads, and the `tasks.task.*` read view (camelCase, string scalars; the REST 3.0
 * view is taskV3View.ts). Sources: apidocs.bitrix24.com/api-reference/tasks/tasks-task-add.html,
 * …/tasks-task-update.html, …/tasks-task-get.html, api-reference/tasks/events-tasks/on-task-add.html (b24-spec
 * spec/index.json maps each method to its page), doc api-reference/tasks/tasks-task-get-rest-v3.md.
 */
import { ApiError, d7Error, missingParam } from '../apiError.js';
import { camelName } from '../fieldViews.js';
import { type Params, pick } from '../params.js';
import type { Portal } from '../portal.js';
import { isoDate } from '../portalTime.js';
import type { CallCtx } from '../registry.js';
import type { Row } from '../store.js';
import { applyFields } from './common.js';
import { taskViewAlways, taskViewExtras } from './taskFields.js';

/** D7 "Task not found or access denied" (code 0). */
export const taskNotFound = () => d7Error('0', 'Task not found or access denied');
/** ERROR_CORE 400 with the portal's text (legacy task methods, tasks.task.add checks). */
export const coreErr = (text: string) => new ApiError(400, 'ERROR_CORE', text);

/** A scalar as the legacy task views give it: a string, or null. */
export const sv = (v: unknown) => (v === null || v === undefined ? null : String(v));

/** The `{id, name, link, icon, workPosition}` card of a user in task views. */
export function userCard(p: Portal, id: unknown) {
  const u = p.t.user.get(id);
  return {
    id: String(id ?? ''),
    name: u ? `${u.NAME} ${u.LAST_NAME}` : '',
    link: `/company/personal/user/${id}/`,
    icon: '/bitrix/images/tasks/default_avatar.png',
    workPosition: u?.WORK_POSITION ?? '',
  };
}

/** The `{userId: card}` map of accomplices / auditors in task views (`[]` when empty, as PHP encodes it). */
function cards(p: Portal, ids: unknown): Record<string, unknown> | unknown[] {
  const list = Array.isArray(ids) ? ids : [];
  if (!list.length) return [];
  return Object.fromEntries(list.map((id) => [String(id), userCard(p, id)]));
}

/**
 * The `tasks.task.*` view of a task (camelCase, string scalars): the stored columns, the documented read-only
 * members (taskFields.ts), related cards (`creator`, `responsible`, `accomplicesData`, `auditorsData`, `group`) and
 * the members every view carries (`action`, `checkListTree`); `select` (UPPER names) limits the columns.
 */
export function taskView(p: Portal, row: Row, select?: string[]): Record<string, unknown> {
  const fields = p.def('task').fields;
  const extras = taskViewExtras(p, row);
  const all = select?.length && !select.includes('*') ? undefined : true;
  const wanted = (k: string) => all || k === 'ID' || select!.includes(k);
  const keys = Object.keys(fields).filter(wanted);
  const o: Record<string, unknown> = {};
  for (const k of keys) {
    const f = fields[k]!;
    const v = row[k];
    const name = camelName(k, f);
    if (f.type === 'datetime' || f.type === 'date') o[name] = typeof v === 'number' ? isoDate(v) : null;
    else if (Array.isArray(v)) o[name] = v.map((x) => String(x));
    else if (k === 'MARK' || k === 'DESCRIPTION') o[name] = v === null || v === undefined ? '' : String(v);
    else o[name] = sv(v);
    if (k === 'DESCRIPTION') o.descriptionInBbcode = row.DESCRIPTION_IN_BBCODE ?? 'Y';
  }
  for (const [k, [name, v]] of Object.entries(extras)) if (wanted(k)) o[name] = v;
  if (keys.includes('STATUS')) o.subStatus = sv(row.STATUS);
  {
    // the portal adds the group card whatever the select (`[]` without a group)
    const g = p.t.workgroup.get(row.GROUP_ID);
    o.group = g
      ? {
          id: String(g.ID),
          name: g.NAME,
          opened: g.OPENED === 'Y',
          membersCount: g.NUMBER_OF_MEMBERS,
          image: '',
          additionalData: [],
        }
      : [];
  }
  if (keys.includes('CREATED_BY')) o.creator = userCard(p, row.CREATED_BY);
  if (keys.includes('RESPONSIBLE_ID')) o.responsible = userCard(p, row.RESPONSIBLE_ID);
  if (keys.includes('ACCOMPLICES')) o.accomplicesData = cards(p, row.ACCOMPLICES);
  if (keys.includes('AUDITORS')) o.auditorsData = cards(p, row.AUDITORS);
  o.favorite = 'N';
  return Object.assign(o, taskViewAlways(p, row));
}

/** Fires ONTASK<event> for a task and marks the portal changed. */
export function fireTask(ctx: CallCtx, event: 'ADD' | 'UPDATE' | 'DELETE', id: number): void {
  const data =
    event === 'ADD'
      ? {
          FIELDS_BEFORE: 'undefined',
          FIELDS_AFTER: { ID: id },
          IS_ACCESSIBLE_BEFORE: 'N',
          IS_ACCESSIBLE_AFTER: 'undefined',
        }
      : event === 'UPDATE'
        ? {
            FIELDS_BEFORE: { ID: id },
            FIELDS_AFTER: { ID: id },
            IS_ACCESSIBLE_BEFORE: 'undefined',
            IS_ACCESSIBLE_AFTER: 'undefined',
          }
        : { FIELDS_BEFORE: { ID: id } };
  ctx.portal.events.fire('ONTASK' + event, data, `task:${id}`, ctx.connector);
  ctx.portal.dirty();
}

/** Creates a task from UPPER-keyed input. Throws `err(field)` for missing required fields. */
export function createTask(ctx: CallCtx, input: Record<string, unknown>, err: (field: string) => ApiError): Row {
  const p = ctx.portal;
  const fields = p.def('task').fields;
  if (!input.TITLE || String(input.TITLE).trim() === '') throw err('TITLE');
  if (input.RESPONSIBLE_ID === undefined || input.RESPONSIBLE_ID === '') throw err('RESPONSIBLE_ID');
  if (!p.t.user.get(input.RESPONSIBLE_ID)) throw err('RESPONSIBLE_ID');
  const now = p.clock.now();
  const row: Row = {};
  for (const [k, f] of Object.entries(fields)) row[k] = f.multi ? [] : null;
  applyFields(p, fields, row, input, { creating: true });
  Object.assign(row, {
    STATUS: row.STATUS ?? 2,
    PRIORITY: row.PRIORITY ?? 1,
    CREATED_BY: row.CREATED_BY ?? ctx.userId,
    CREATED_DATE: now,
    CHANGED_BY: ctx.userId,
    CHANGED_DATE: now,
    STATUS_CHANGED_DATE: now,
    ACTIVITY_DATE: now,
    GROUP_ID: row.GROUP_ID ?? 0,
    STAGE_ID: 0,
    MULTITASK: 'N',
    NOT_VIEWED: 'N',
    REPLICATE: 'N',
    ALLOW_CHANGE_DEADLINE: row.ALLOW_CHANGE_DEADLINE ?? 'Y',
    TASK_CONTROL: row.TASK_CONTROL ?? 'N',
    TIME_ESTIMATE: row.TIME_ESTIMATE ?? 0,
    DESCRIPTION: row.DESCRIPTION ?? '',
    DESCRIPTION_IN_BBCODE: 'Y',
  });
  p.t.task.insert(row);
  fireTask(ctx, 'ADD', row.ID);
  return row;
}

/** Updates a task (UPPER-keyed input); fires ONTASKUPDATE. */
export function updateTask(ctx: CallCtx, row: Row, input: Record<string, unknown>): void {
  const p = ctx.portal;
  const before = row.STATUS;
  applyFields(p, p.def('task').fields, row, input, { creating: false });
  const now = p.clock.now();
  row.CHANGED_DATE = now;
  row.CHANGED_BY = ctx.userId;
  if (row.STATUS !== before) {
    row.STATUS_CHANGED_DATE = now;
    if (row.STATUS === 5) {
      row.CLOSED_DATE = now;
      row.CLOSED_BY = ctx.userId;
    } else row.CLOSED_DATE = null;
  }
  fireTask(ctx, 'UPDATE', row.ID);
}

/** The task named by `taskId` (or `id`). @throws D7 100 when absent, {@link taskNotFound} when unknown */
export function getTask(ctx: CallCtx, p: Params): Row {
  const v = pick(p, 'taskId', 'id');
  if (v === undefined || v === '') throw missingParam('taskId');
  const row = ctx.portal.t.task.get(v);
  if (!row) throw taskNotFound();
  return row;
}

/** `select` of tasks.task.* as UPPER names; undefined when empty (= every field). */
export const readSelect = (v: unknown): string[] | undefined => {
  const list = Array.isArray(v) ? v : v && typeof v === 'object' ? Object.values(v) : [];
  return list.length ? list.map((x) => String(x).toUpperCase()) : undefined;
};
