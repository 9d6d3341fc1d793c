/**
 * The documented field set of `tasks.task.*` (v1) beyond the stored task columns: the field descriptions of
 * `tasks.task.getFields` (type, `values` of enumerations, `default`, `primary`, `required`) and the read-only
 * members of the camelCase task view (`guid`, `commentsCount`, `siteId`, `action`, `checkListTree`, …) with the values
 * a fresh portal gives them. Facts (names, types, enumerations) from apidocs.bitrix24.com/api-reference/tasks/
 * tasks-task-get-fields.html, tasks-task-get.html, tasks-task-list.html, status/tasks-task-complete.html (doc
 * api-reference/tasks/*.md).
 */
import type { Portal } from '../portal.js';
import { isoDate } from '../portalTime.js';
import type { Row } from '../store.js';

const YN = { Y: 'Yes', N: 'No' };

/** One `tasks.task.getFields` description (title comes from the portal's field or the key). */
interface TaskFieldMeta {
  type: string;
  values?: Record<string, string> | string[];
  default?: string | number | null;
  primary?: boolean;
  required?: boolean;
}

const meta = (type: string, extra: Omit<TaskFieldMeta, 'type'> = {}): TaskFieldMeta => ({ type, ...extra });
const yn = (d: string | null) => meta('enum', { values: YN, default: d });

/** `tasks.task.getFields` descriptions in documented order (UPPER names). */
export const TASK_FIELD_META: Record<string, TaskFieldMeta> = {
  ID: meta('integer', { primary: true }),
  PARENT_ID: meta('integer', { default: 0 }),
  TITLE: meta('string', { required: true }),
  DESCRIPTION: meta('string'),
  MARK: meta('enum', { values: { N: 'Negative', P: 'Positive' }, default: null }),
  PRIORITY: meta('enum', { values: { 0: 'Low', 1: 'Medium', 2: 'High' }, default: 1 }),
  STATUS: meta('enum', {
    values: { 2: 'Pending', 3: 'In progress', 4: 'Supposedly completed', 5: 'Completed', 6: 'Deferred' },
    default: 2,
  }),
  MULTITASK: yn('N'),
  NOT_VIEWED: yn('N'),
  REPLICATE: yn('N'),
  GROUP_ID: meta('integer', { default: 0 }),
  STAGE_ID: meta('integer', { default: 0 }),
  SPRINT_ID: meta('integer', { default: 0 }),
  BACKLOG_ID: meta('integer', { default: 0 }),
  CREATED_BY: meta('integer', { required: true }),
  CREATED_DATE: meta('datetime'),
  RESPONSIBLE_ID: meta('integer', { required: true }),
  ACCOMPLICES: meta('array'),
  AUDITORS: meta('array'),
  CHANGED_BY: meta('integer'),
  CHANGED_DATE: meta('datetime'),
  STATUS_CHANGED_BY: meta('integer'),
  STATUS_CHANGED_DATE: meta('datetime'),
  CLOSED_BY: meta('integer', { default: null }),
  CLOSED_DATE: meta('datetime', { default: null }),
  ACTIVITY_DATE: meta('datetime', { default: null }),
  DATE_START: meta('datetime', { default: null }),
  DEADLINE: meta('datetime', { default: null }),
  START_DATE_PLAN: meta('datetime', { default: null }),
  END_DATE_PLAN: meta('datetime', { default: null }),
  GUID: meta('string', { default: null }),
  XML_ID: meta('string', { default: null }),
  COMMENTS_COUNT: meta('integer', { default: 0 }),
  SERVICE_COMMENTS_COUNT: meta('integer', { default: 0 }),
  NEW_COMMENTS_COUNT: meta('integer', { default: 0 }),
  ALLOW_CHANGE_DEADLINE: yn('N'),
  ALLOW_TIME_TRACKING: yn('N'),
  TASK_CONTROL: yn('N'),
  ADD_IN_REPORT: yn('N'),
  FORKED_BY_TEMPLATE_ID: yn('N'),
  TIME_ESTIMATE: meta('integer'),
  TIME_SPENT_IN_LOGS: meta('integer'),
  MATCH_WORK_TIME: meta('integer'),
  FORUM_TOPIC_ID: meta('integer'),
  FORUM_ID: meta('integer'),
  SITE_ID: meta('string'),
  SUBORDINATE: yn(null),
  FAVORITE: yn(null),
  EXCHANGE_MODIFIED: meta('datetime', { default: null }),
  EXCHANGE_ID: meta('integer', { default: null }),
  OUTLOOK_VERSION: meta('integer', { default: null }),
  VIEWED_DATE: meta('datetime'),
  SORTING: meta('double'),
  DURATION_PLAN: meta('integer'),
  DURATION_FACT: meta('integer'),
  CHECKLIST: meta('array'),
  DURATION_TYPE: meta('enum', {
    values: ['secs', 'mins', 'hours', 'days', 'weeks', 'months', 'years'],
    default: 'days',
  }),
  IS_MUTED: yn('N'),
  IS_PINNED: yn('N'),
  IS_PINNED_IN_GROUP: yn('N'),
  FLOW_ID: meta('integer', { default: 0 }),
  UF_CRM_TASK: meta('crm'),
  UF_TASK_WEBDAV_FILES: meta('disk_file'),
  UF_MAIL_MESSAGE: meta('mail_message'),
};

/** The `action` map of a task view: what the caller may do (every user may do everything in the sandbox). */
function actions(row: Row): Record<string, boolean> {
  const done = row.STATUS === 5;
  return {
    accept: false,
    decline: false,
    complete: !done,
    approve: row.STATUS === 4,
    disapprove: row.STATUS === 4,
    start: row.STATUS !== 3 && !done,
    pause: row.STATUS === 3,
    delegate: true,
    remove: true,
    edit: true,
    defer: !done && row.STATUS !== 6,
    renew: done || row.STATUS === 6,
    create: true,
    changeDeadline: true,
    checklistAddItems: true,
    addFavorite: true,
    deleteFavorite: false,
    rate: true,
    take: false,
    'edit.originator': false,
    'checklist.reorder': true,
    'elapsedtime.add': true,
    'dayplan.timer.toggle': false,
    'edit.plan': true,
    'checklist.add': true,
    'favorite.add': true,
    'favorite.delete': false,
  };
}

/**
 * Members of the camelCase task view that are not stored columns, keyed by their UPPER field (so `select` can ask
 * for them); scalars are strings or null as the portal gives them.
 */
export function taskViewExtras(p: Portal, row: Row): Record<string, [string, unknown]> {
  const id = Number(row.ID);
  const comments = p.t.task_comment.rows.filter((c) => Number(c.TASK_ID) === id);
  const date = (v: unknown) => (typeof v === 'number' ? isoDate(v) : null);
  return {
    SPRINT_ID: ['sprintId', null],
    BACKLOG_ID: ['backlogId', null],
    STATUS_CHANGED_BY: ['statusChangedBy', String(row.CHANGED_BY ?? row.CREATED_BY ?? '')],
    GUID: ['guid', `{${String(id).padStart(8, '0')}-0000-4000-8000-000000000000}`],
    XML_ID: ['xmlId', null],
    COMMENTS_COUNT: ['commentsCount', String(comments.length)],
    SERVICE_COMMENTS_COUNT: ['serviceCommentsCount', '0'],
    NEW_COMMENTS_COUNT: ['newCommentsCount', 0],
    ALLOW_TIME_TRACKING: ['allowTimeTracking', 'N'],
    ADD_IN_REPORT: ['addInReport', 'N'],
    FORKED_BY_TEMPLATE_ID: ['forkedByTemplateId', null],
    TIME_SPENT_IN_LOGS: ['timeSpentInLogs', '0'],
    MATCH_WORK_TIME: ['matchWorkTime', 'N'],
    FORUM_TOPIC_ID: ['forumTopicId', comments.length ? String(id) : null],
    FORUM_ID: ['forumId', comments.length ? '11' : null],
    SITE_ID: ['siteId', 's1'],
    SUBORDINATE: ['subordinate', 'N'],
    EXCHANGE_MODIFIED: ['exchangeModified', null],
    EXCHANGE_ID: ['exchangeId', null],
    OUTLOOK_VERSION: ['outlookVersion', '1'],
    VIEWED_DATE: ['viewedDate', date(row.CHANGED_DATE)],
    SORTING: ['sorting', null],
    DURATION_PLAN: ['durationPlan', '0'],
    DURATION_FACT: ['durationFact', null],
    DURATION_TYPE: ['durationType', 'days'],
    IS_MUTED: ['isMuted', 'N'],
    IS_PINNED: ['isPinned', 'N'],
    IS_PINNED_IN_GROUP: ['isPinnedInGroup', 'N'],
    FLOW_ID: ['flowId', null],
  };
}

/** The task's checklist as the view gives it: `{itemId: item}`, or `[]` when it has none. */
function checklistOf(p: Portal, row: Row): Record<string, unknown> | unknown[] {
  const id = Number(row.ID);
  const items = p.t.checklist_item.rows.filter((c) => Number(c.TASK_ID) === id);
  if (!items.length) return [];
  const s = (v: unknown) => (v === null || v === undefined ? null : String(v));
  return Object.fromEntries(
    items.map((c) => [
      String(c.ID),
      {
        id: String(c.ID),
        taskId: String(id),
        createdBy: s(c.CREATED_BY),
        // a root item's parent is the number 0, others a string (tasks-task-disapprove.md)
        parentId: c.PARENT_ID ? String(c.PARENT_ID) : 0,
        title: String(c.TITLE ?? ''),
        sortIndex: s(c.SORT_INDEX ?? 0),
        isComplete: c.IS_COMPLETE === 'Y' ? 'Y' : 'N',
        isImportant: c.IS_IMPORTANT === 'Y' ? 'Y' : 'N',
        toggledBy: s(c.TOGGLED_BY),
        toggledDate: typeof c.TOGGLED_DATE === 'number' ? isoDate(c.TOGGLED_DATE) : null,
        ufChecklistFiles: false,
        members: Array.isArray(c.MEMBERS) ? c.MEMBERS : [],
        attachments: Array.isArray(c.ATTACHMENTS) ? c.ATTACHMENTS : [],
        entityId: String(id),
        action: { modify: true, remove: true, toggle: true, add: true, addAccomplice: true },
      },
    ]),
  );
}

/** View members that come with every task view whatever the select (the portal adds them itself). */
export function taskViewAlways(p: Portal, row: Row): Record<string, unknown> {
  const items = p.t.checklist_item.rows.filter((c) => Number(c.TASK_ID) === Number(row.ID));
  return {
    ufTaskWebdavFiles: [],
    ufMailMessage: null,
    checklist: checklistOf(p, row),
    action: actions(row),
    checkListTree: {
      nodeId: 0,
      fields: {
        id: null,
        copiedId: null,
        entityId: null,
        userId: Number(row.CREATED_BY ?? 0),
        createdBy: null,
        parentId: null,
        title: '',
        sortIndex: null,
        displaySortIndex: '',
        isComplete: false,
        isImportant: false,
        completedCount: items.filter((c) => c.IS_COMPLETE === 'Y').length,
        members: [],
        attachments: [],
        nodeId: null,
      },
      action: [],
      descendants: [],
    },
    checkListCanAdd: true,
  };
}

/**
 * Members `tasks.task.list` adds on request: `params.WITH_TIMER_INFO` (timer), `WITH_RESULT_INFO` (results),
 * `WITH_PARSED_DESCRIPTION`, select `COUNTERS` (the counter block), and `lengthDeadline` with a deadline.
 */
export function taskListExtras(row: Row, params: Record<string, unknown>, select: string[] | undefined) {
  const on = (k: string) => {
    const v = params[k];
    return v === true || v === 'Y' || v === 'y' || v === 1 || v === '1' || v === 'true';
  };
  const o: Record<string, unknown> = {};
  if (!select || select.includes('DEADLINE') || select.includes('*'))
    o.lengthDeadline =
      typeof row.DEADLINE === 'number' ? String(Math.max(0, row.DEADLINE - (row.CREATED_DATE ?? 0))) : '0';
  if (on('WITH_RESULT_INFO')) Object.assign(o, { taskRequireResult: 'N', taskHasOpenResult: 'N', taskHasResult: 'N' });
  if (on('WITH_TIMER_INFO')) Object.assign(o, { timeElapsed: null, timerIsRunningForCurrentUser: 'N' });
  if (on('WITH_PARSED_DESCRIPTION')) o.parsedDescription = String(row.DESCRIPTION ?? '');
  if (select?.includes('COUNTERS')) {
    o.counter = {
      counters: {
        expired: 0,
        newComments: 0,
        projectExpired: 0,
        projectNewComments: 0,
        mutedExpired: 0,
        mutedNewComments: 0,
      },
      color: 'gray',
      value: 0,
    };
  }
  return o;
}
