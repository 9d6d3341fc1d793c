/**
 * Tasks: `tasks.task.*` (D7 controller, `{task}`/`{tasks}` wrappers, camelCase string values), the REST 3.0
 * variants under /rest/api/ (`{item}`/`{items}`, typed, status words), and the legacy positional
 * `task.commentitem.*` / `task.checklistitem.*`. Sources: api-reference/tasks/*.md.
 */

import { ApiError, v3Error } from '../apiError.js';
import { camelName, legacyResolver, legacyRow } from '../entities.js';
import { type Params, pick } from '../params.js';
import type { Portal } from '../portal.js';
import { isoDate, parseDate } from '../portalTime.js';
import { type CallCtx, type MethodResult, PAGE, type Registry, readStart } from '../registry.js';
import { compileFilter, compileOrder, type Row, runQuery } from '../store.js';
import { applyFields, readObject } from './common.js';

const d7 = (code: string, text: string, status = 400) => new ApiError(status, code, text);
const missing = (name: string) => d7('100', `Could not find value for parameter {${name}}`);
const taskNotFound = () => d7('0', 'Task not found or access denied');
const coreErr = (text: string) => new ApiError(400, 'ERROR_CORE', text);

const sv = (v: unknown) => (v === null || v === undefined ? null : String(v));

function userCard(p: Portal, id: unknown) {
  const u = p.t.user.get(id);
  return {
    id: String(id ?? ''),
    name: u ? `${u.NAME} ${u.LAST_NAME}` : '',
    link: `/company/personal/user/${id}/`,
    icon: '/bitrix/images/tasks/default_avatar.png',
    workPosition: u?.WORK_POSITION ?? '',
  };
}

/** The `tasks.task.*` view of a task (camelCase, string scalars). */
export function taskView(p: Portal, row: Row, select?: string[]): Record<string, unknown> {
  const fields = p.def('task').fields;
  const keys =
    select?.length && !select.includes('*')
      ? ['ID', ...select.filter((s) => fields[s] && s !== 'ID')]
      : Object.keys(fields);
  const o: Record<string, unknown> = {};
  for (const k of keys) {
    const f = fields[k]!;
    const v = row[k];
    const name = camelName(k, f);
    if (f.type === 'datetime' || f.type === 'date') o[name] = typeof v === 'number' ? isoDate(v) : null;
    else if (Array.isArray(v)) o[name] = v.map((x) => String(x));
    else o[name] = sv(v);
  }
  if (keys.includes('STATUS')) o.subStatus = sv(row.STATUS);
  if (keys.includes('GROUP_ID')) {
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
  o.favorite = 'N';
  return o;
}

const STATUS_WORDS: Record<number, string> = {
  1: 'new',
  2: 'pending',
  3: 'in_progress',
  4: 'supposedly_completed',
  5: 'completed',
  6: 'deferred',
  7: 'declined',
};
const PRIORITY_WORDS: Record<number, string> = { 0: 'low', 1: 'average', 2: 'high' };

/** The REST 3.0 view of a task (typed). */
function taskV3(row: Row, select?: string[]): Record<string, unknown> {
  const o: Record<string, unknown> = {
    id: row.ID,
    title: row.TITLE,
    description: row.DESCRIPTION ?? '',
    creatorId: row.CREATED_BY,
    responsibleId: row.RESPONSIBLE_ID,
    deadline: row.DEADLINE ? isoDate(row.DEADLINE) : null,
    status: STATUS_WORDS[row.STATUS] ?? 'pending',
    priority: PRIORITY_WORDS[row.PRIORITY] ?? 'average',
    groupId: row.GROUP_ID ?? 0,
    parentId: row.PARENT_ID ?? 0,
    accomplices: row.ACCOMPLICES ?? [],
    auditors: row.AUDITORS ?? [],
    createdDate: row.CREATED_DATE ? isoDate(row.CREATED_DATE) : null,
    changedDate: row.CHANGED_DATE ? isoDate(row.CHANGED_DATE) : null,
    closedDate: row.CLOSED_DATE ? isoDate(row.CLOSED_DATE) : null,
  };
  if (!select?.length) return o;
  const out: Record<string, unknown> = { id: o.id };
  for (const s of select) if (s in o) out[s] = o[s];
  return out;
}

/** Task field input: accepts UPPER and camelCase keys. */
function normTaskFields(input: Record<string, unknown>): Record<string, unknown> {
  const fields = TASK_KEYS();
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(input)) {
    const up = k.toUpperCase();
    if (fields.has(up)) out[up] = v;
    else {
      const m = CAMEL_TO_UP().get(k.toLowerCase());
      if (m) out[m] = v;
    }
  }
  return out;
}
let taskKeys: Set<string> | null = null;
let camelToUp: Map<string, string> | null = null;
let taskDefFields: Record<string, any> = {};
const TASK_KEYS = () => (taskKeys ??= new Set(Object.keys(taskDefFields)));
const CAMEL_TO_UP = () =>
  (camelToUp ??= new Map([
    ...Object.entries(taskDefFields).map(([k, f]) => [camelName(k, f).toLowerCase(), k] as [string, string]),
    ['creatorid', 'CREATED_BY'],
  ]));

function fireTask(ctx: CallCtx, event: 'ADD' | 'UPDATE' | 'DELETE', id: number): void {
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

function getTask(ctx: CallCtx, p: Params): Row {
  const v = pick(p, 'taskId', 'id');
  if (v === undefined || v === '') throw missing('taskId');
  const row = ctx.portal.t.task.get(v);
  if (!row) throw taskNotFound();
  return row;
}

const readSelect = (v: unknown): string[] | undefined => {
  const list = Array.isArray(v) ? v : v && typeof v === 'object' ? Object.values(v) : [];
  return list.length ? list.map((x) => String(x).toUpperCase()) : undefined;
};

function v1(r: Registry): void {
  const transition =
    (status: number) =>
    (ctx: CallCtx, p: Params): MethodResult => {
      const row = getTask(ctx, p);
      updateTask(ctx, row, { STATUS: status });
      return { result: { task: taskView(ctx.portal, row) }, write: true };
    };
  r.many('task', {
    'tasks.task.add': (ctx, p) => {
      const f = pick(p, 'fields');
      if (!f || typeof f !== 'object') throw missing('fields');
      const row = createTask(ctx, normTaskFields(f), (field) =>
        coreErr(field === 'TITLE' ? 'Task title is not specified' : 'Responsible person is not specified'),
      );
      return { result: { task: taskView(ctx.portal, row) }, write: true };
    },
    'tasks.task.update': (ctx, p) => {
      const row = getTask(ctx, p);
      const f = pick(p, 'fields');
      if (!f || typeof f !== 'object') throw missing('fields');
      updateTask(ctx, row, normTaskFields(f));
      return { result: { task: taskView(ctx.portal, row) }, write: true };
    },
    'tasks.task.get': (ctx, p) => {
      const row = getTask(ctx, p);
      return { result: { task: taskView(ctx.portal, row, readSelect(pick(p, 'select'))) }, rows: 1 };
    },
    'tasks.task.list': (ctx, p) => {
      const fields = ctx.portal.def('task').fields;
      const base = legacyResolver(fields);
      const resolve = (name: string) => {
        const up = name.toUpperCase();
        if (up === 'REAL_STATUS') return base('STATUS');
        if (up === 'CREATED_BY' || up === 'CREATOR_ID') return base('CREATED_BY');
        return base(up) ?? base(CAMEL_TO_UP().get(name.toLowerCase()) ?? '');
      };
      const filterIn = { ...(pick(p, 'filter') ?? {}) };
      delete filterIn['::SUBFILTER-PARAMS'];
      const filter = compileFilter(filterIn, resolve);
      const order = compileOrder(pick(p, 'order') ?? { ID: 'DESC' }, resolve, () => coreErr('Invalid order'));
      const start = readStart(pick(p, 'start'));
      const q = runQuery(ctx.portal.t.task, filter, order, Math.max(0, start), PAGE, start >= 0);
      const select = readSelect(pick(p, 'select'));
      const tasks = q.rows.map((row) => taskView(ctx.portal, row, select));
      const out: MethodResult = {
        result: { tasks },
        total: start < 0 ? 0 : q.total,
        rows: tasks.length,
        counted: start >= 0 ? q.total : 0,
      };
      if (start >= 0 && start + tasks.length < q.total) out.next = start + PAGE;
      return out;
    },
    'tasks.task.delete': (ctx, p) => {
      const row = getTask(ctx, p);
      ctx.portal.t.task.delete(row.ID);
      fireTask(ctx, 'DELETE', row.ID);
      return { result: { task: true }, write: true };
    },
    'tasks.task.complete': transition(5),
    'tasks.task.start': transition(3),
    'tasks.task.pause': transition(2),
    'tasks.task.defer': transition(6),
    'tasks.task.renew': transition(2),
    'tasks.task.approve': transition(5),
    'tasks.task.disapprove': transition(2),
    'tasks.task.getFields': (ctx) => {
      const fields = ctx.portal.def('task').fields;
      const out: Record<string, unknown> = {};
      for (const [k, f] of Object.entries(fields))
        out[k] = { title: f.title, type: f.type, ...(f.req ? { required: true } : {}) };
      return { result: { fields: out } };
    },
  });
  // legacy positional methods
  const taskOf = (ctx: CallCtx, v: unknown): Row => {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) {
      throw coreErr(
        'TASKS_ERROR_EXCEPTION_#256; Param #0 (taskId) expected to be of type "integer"; 256/TE/WRONG_ARGUMENTS<br>',
      );
    }
    const row = ctx.portal.t.task.get(n);
    if (!row) throw coreErr('TASKS_ERROR_EXCEPTION_#8; Action failed; 8/TE/ACTION_FAILED_TO_BE_PROCESSED<br>');
    return row;
  };
  const itemOf = (ctx: CallCtx, table: 'task_comment' | 'checklist_item', task: Row, v: unknown): Row => {
    const row = ctx.portal.t[table].get(v);
    if (!row || row.TASK_ID !== task.ID)
      throw coreErr('TASKS_ERROR_EXCEPTION_#8; Action failed; 8/TE/ACTION_FAILED_TO_BE_PROCESSED<br>');
    return row;
  };
  const commentView = (ctx: CallCtx, c: Row) => {
    const u = ctx.portal.t.user.get(c.AUTHOR_ID);
    return {
      POST_MESSAGE_HTML: null,
      ID: String(c.ID),
      AUTHOR_ID: String(c.AUTHOR_ID),
      AUTHOR_NAME: u ? `${u.NAME} ${u.LAST_NAME}` : '',
      AUTHOR_EMAIL: u?.EMAIL ?? '',
      POST_DATE: isoDate(c.POST_DATE),
      POST_MESSAGE: c.POST_MESSAGE,
    };
  };
  r.add({
    name: 'task.commentitem.add',
    scope: 'task',
    positional: ['TASKID', 'FIELDS'],
    handler: (ctx, p) => {
      const task = taskOf(ctx, p.TASKID);
      const f = readObject(p.FIELDS, () =>
        coreErr(
          'TASKS_ERROR_EXCEPTION_#256; Param #1 (arFields) expected to be of type "array"; 256/TE/WRONG_ARGUMENTS<br>',
        ),
      );
      const msg = pick(f, 'POST_MESSAGE');
      if (!msg) throw coreErr('TASKS_ERROR_EXCEPTION_#256; POST_MESSAGE is required; 256/TE/WRONG_ARGUMENTS<br>');
      const c = ctx.portal.t.task_comment.insert({
        TASK_ID: task.ID,
        AUTHOR_ID: Number(pick(f, 'AUTHOR_ID') ?? ctx.userId),
        POST_DATE: pick(f, 'POST_DATE') ? parseDate(pick(f, 'POST_DATE')) : ctx.portal.clock.now(),
        POST_MESSAGE: String(msg),
      });
      ctx.portal.events.fire(
        'ONTASKCOMMENTADD',
        { FIELDS_AFTER: { ID: c.ID, TASK_ID: task.ID } },
        `task_comment:${c.ID}`,
        ctx.connector,
      );
      ctx.portal.dirty();
      return { result: c.ID, write: true };
    },
  });
  r.add({
    name: 'task.commentitem.getlist',
    scope: 'task',
    positional: ['TASKID', 'ORDER', 'FILTER'],
    handler: (ctx, p) => {
      const task = taskOf(ctx, p.TASKID);
      const rows = ctx.portal.t.task_comment.rows.filter((c) => c.TASK_ID === task.ID);
      return { result: rows.map((c) => commentView(ctx, c)), rows: rows.length };
    },
  });
  r.add({
    name: 'task.commentitem.get',
    scope: 'task',
    positional: ['TASKID', 'ITEMID'],
    handler: (ctx, p) => ({ result: commentView(ctx, itemOf(ctx, 'task_comment', taskOf(ctx, p.TASKID), p.ITEMID)) }),
  });
  r.add({
    name: 'task.commentitem.update',
    scope: 'task',
    positional: ['TASKID', 'ITEMID', 'FIELDS'],
    handler: (ctx, p) => {
      const task = taskOf(ctx, p.TASKID);
      const c = itemOf(ctx, 'task_comment', task, p.ITEMID);
      const f = readObject(p.FIELDS, () =>
        coreErr('TASKS_ERROR_EXCEPTION_#256; Param #2 (arFields) expected to be of type "array"'),
      );
      if (pick(f, 'POST_MESSAGE') !== undefined) c.POST_MESSAGE = String(pick(f, 'POST_MESSAGE'));
      ctx.portal.events.fire(
        'ONTASKCOMMENTUPDATE',
        { FIELDS_AFTER: { ID: c.ID, TASK_ID: task.ID } },
        `task_comment:${c.ID}`,
        ctx.connector,
      );
      ctx.portal.dirty();
      return { result: true, write: true };
    },
  });
  r.add({
    name: 'task.commentitem.delete',
    scope: 'task',
    positional: ['TASKID', 'ITEMID'],
    handler: (ctx, p) => {
      const task = taskOf(ctx, p.TASKID);
      const c = itemOf(ctx, 'task_comment', task, p.ITEMID);
      ctx.portal.t.task_comment.delete(c.ID);
      ctx.portal.events.fire(
        'ONTASKCOMMENTDELETE',
        { FIELDS_BEFORE: { ID: c.ID, TASK_ID: task.ID } },
        `task_comment:${c.ID}`,
        ctx.connector,
      );
      return { result: true, write: true };
    },
  });
  const chkFields = (ctx: CallCtx) => ctx.portal.def('checklist_item').fields;
  const chkView = (ctx: CallCtx, c: Row) => legacyRow(chkFields(ctx), c, Object.keys(chkFields(ctx)));
  r.add({
    name: 'task.checklistitem.add',
    scope: 'task',
    positional: ['TASKID', 'FIELDS'],
    handler: (ctx, p) => {
      const task = taskOf(ctx, p.TASKID);
      const f = readObject(p.FIELDS, () =>
        coreErr('TASKS_ERROR_EXCEPTION_#256; Param #1 (arFields) expected to be of type "array"'),
      );
      const title = pick(f, 'TITLE');
      if (!title) throw coreErr('TASKS_ERROR_EXCEPTION_#256; TITLE is required; 256/TE/WRONG_ARGUMENTS<br>');
      const siblings = ctx.portal.t.checklist_item.rows.filter((c) => c.TASK_ID === task.ID);
      const row: Row = {
        TASK_ID: task.ID,
        PARENT_ID: Number(pick(f, 'PARENT_ID') ?? 0),
        CREATED_BY: ctx.userId,
        TITLE: String(title),
        SORT_INDEX: Number(pick(f, 'SORT_INDEX') ?? siblings.length),
        IS_COMPLETE: String(pick(f, 'IS_COMPLETE') ?? 'N') === 'Y' ? 'Y' : 'N',
        IS_IMPORTANT: String(pick(f, 'IS_IMPORTANT') ?? 'N') === 'Y' ? 'Y' : 'N',
        TOGGLED_BY: null,
        TOGGLED_DATE: null,
        MEMBERS: [],
        ATTACHMENTS: [],
      };
      ctx.portal.t.checklist_item.insert(row);
      ctx.portal.dirty();
      return { result: row.ID, write: true };
    },
  });
  r.add({
    name: 'task.checklistitem.getlist',
    scope: 'task',
    positional: ['TASKID', 'ORDER'],
    handler: (ctx, p) => {
      const task = taskOf(ctx, p.TASKID);
      const rows = ctx.portal.t.checklist_item.rows
        .filter((c) => c.TASK_ID === task.ID)
        .sort((a, b) => a.SORT_INDEX - b.SORT_INDEX);
      return { result: rows.map((c) => chkView(ctx, c)), rows: rows.length };
    },
  });
  r.add({
    name: 'task.checklistitem.get',
    scope: 'task',
    positional: ['TASKID', 'ITEMID'],
    handler: (ctx, p) => ({ result: chkView(ctx, itemOf(ctx, 'checklist_item', taskOf(ctx, p.TASKID), p.ITEMID)) }),
  });
  r.add({
    name: 'task.checklistitem.update',
    scope: 'task',
    positional: ['TASKID', 'ITEMID', 'FIELDS'],
    handler: (ctx, p) => {
      const c = itemOf(ctx, 'checklist_item', taskOf(ctx, p.TASKID), p.ITEMID);
      const f = readObject(p.FIELDS, () =>
        coreErr('TASKS_ERROR_EXCEPTION_#256; Param #2 (arFields) expected to be of type "array"'),
      );
      applyFields(ctx.portal, chkFields(ctx), c, f, { creating: false });
      ctx.portal.dirty();
      return { result: true, write: true };
    },
  });
  r.add({
    name: 'task.checklistitem.delete',
    scope: 'task',
    positional: ['TASKID', 'ITEMID'],
    handler: (ctx, p) => {
      const c = itemOf(ctx, 'checklist_item', taskOf(ctx, p.TASKID), p.ITEMID);
      ctx.portal.t.checklist_item.delete(c.ID);
      ctx.portal.dirty();
      return { result: true, write: true };
    },
  });
  for (const [name, value] of [
    ['task.checklistitem.complete', 'Y'],
    ['task.checklistitem.renew', 'N'],
  ] as const) {
    r.add({
      name,
      scope: 'task',
      positional: ['TASKID', 'ITEMID'],
      handler: (ctx, p) => {
        const c = itemOf(ctx, 'checklist_item', taskOf(ctx, p.TASKID), p.ITEMID);
        c.IS_COMPLETE = value;
        c.TOGGLED_BY = ctx.userId;
        c.TOGGLED_DATE = ctx.portal.clock.now();
        ctx.portal.dirty();
        return { result: true, write: true };
      },
    });
  }
  r.add({
    name: 'task.checklistitem.isactionallowed',
    scope: 'task',
    positional: ['TASKID', 'ITEMID', 'ACTIONID'],
    handler: (ctx, p) => {
      itemOf(ctx, 'checklist_item', taskOf(ctx, p.TASKID), p.ITEMID);
      return { result: true };
    },
  });
}

/** REST 3.0 tasks (JSON only, typed, `{item}`/`{items}`; filter as `[field, op, value]` triples). */
function v3(r: Registry): void {
  const validation = (field: string, message: string) =>
    v3Error(400, 'VALIDATION_REQUESTVALIDATIONEXCEPTION', 'Request validation failed', [{ field, message }]);
  const fromV3 = (f: Record<string, unknown>): Record<string, unknown> => {
    const map: Record<string, string> = {
      title: 'TITLE',
      description: 'DESCRIPTION',
      creatorId: 'CREATED_BY',
      responsibleId: 'RESPONSIBLE_ID',
      deadline: 'DEADLINE',
      groupId: 'GROUP_ID',
      parentId: 'PARENT_ID',
      accomplices: 'ACCOMPLICES',
      auditors: 'AUDITORS',
    };
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(f)) {
      if (k === 'status') {
        const n = Object.entries(STATUS_WORDS).find(([, w]) => w === v)?.[0];
        if (!n) throw validation('status', `Unknown status '${String(v)}'`);
        out.STATUS = Number(n);
      } else if (k === 'priority') {
        const n = Object.entries(PRIORITY_WORDS).find(([, w]) => w === v)?.[0];
        if (!n) throw validation('priority', `Unknown priority '${String(v)}'`);
        out.PRIORITY = Number(n);
      } else if (map[k]) out[map[k]] = v;
      else throw v3Error(400, 'UNKNOWNDTOPROPERTYEXCEPTION', `Unknown property '${k}'`);
    }
    return out;
  };
  const getRow = (ctx: CallCtx, p: Params): Row => {
    const id = p.id;
    if (id === undefined) throw validation('id', 'Field is required');
    if (!Number.isInteger(Number(id))) throw validation('id', 'Value must be an integer');
    const row = ctx.portal.t.task.get(id);
    if (!row) throw v3Error(400, 'ENTITYNOTFOUNDEXCEPTION', `Entity with id ${id} not found`);
    return row;
  };
  const V3_FIELDS: Record<string, string> = {
    id: 'ID',
    title: 'TITLE',
    creatorId: 'CREATED_BY',
    responsibleId: 'RESPONSIBLE_ID',
    deadline: 'DEADLINE',
    status: 'STATUS',
    priority: 'PRIORITY',
    groupId: 'GROUP_ID',
    createdDate: 'CREATED_DATE',
    changedDate: 'CHANGED_DATE',
  };
  const kinds: Record<string, 'num' | 'str' | 'date'> = {
    ID: 'num',
    TITLE: 'str',
    CREATED_BY: 'num',
    RESPONSIBLE_ID: 'num',
    DEADLINE: 'date',
    STATUS: 'num',
    PRIORITY: 'num',
    GROUP_ID: 'num',
    CREATED_DATE: 'date',
    CHANGED_DATE: 'date',
  };
  const resolve = (name: string) => {
    const key = V3_FIELDS[name];
    return key ? { key, kind: kinds[key]! } : null;
  };
  const toV1Filter = (f: unknown): Record<string, unknown> => {
    if (f === undefined) return {};
    if (!Array.isArray(f)) throw validation('filter', 'Filter must be an array of conditions');
    const out: Record<string, unknown> = {};
    let i = 0;
    for (const cond of f as any[]) {
      if (cond && !Array.isArray(cond) && typeof cond === 'object') {
        const sub: Record<string, unknown> = { logic: String(cond.logic ?? 'and').toUpperCase() };
        (cond.conditions ?? []).forEach((c: unknown, j: number) => {
          sub[String(j)] = toV1Filter([c]);
        });
        out[String(i++)] = sub;
        continue;
      }
      const [field, a, b] = cond as [string, unknown, unknown];
      if (!V3_FIELDS[field]) throw validation('filter', `Unknown field '${field}'`);
      let op = '=';
      let value: unknown = a;
      if (b !== undefined) {
        op = String(a);
        value = b;
      } else if (Array.isArray(a)) op = 'in';
      let v = value;
      if (field === 'status' && typeof v === 'string')
        v = Number(Object.entries(STATUS_WORDS).find(([, w]) => w === v)?.[0]);
      const opMap: Record<string, string> = {
        '=': '=',
        '!=': '!=',
        '>': '>',
        '>=': '>=',
        '<': '<',
        '<=': '<=',
        in: '@',
      };
      if (op === 'between') {
        const [lo, hi] = v as unknown[];
        out[String(i++)] = { ['>=' + field]: lo, ['<=' + field]: hi };
        continue;
      }
      const prefix = opMap[op];
      if (!prefix) throw v3Error(400, 'UNKNOWNFILTEROPERATOREXCEPTION', `Unknown filter operator '${op}'`);
      out[String(i++)] = { [prefix + field]: v };
    }
    return out;
  };
  r.many(
    'tasks',
    {
      'tasks.task.add': (ctx, p) => {
        const f = p.fields;
        if (!f || typeof f !== 'object') throw validation('fields', 'Field is required');
        const row = createTask(ctx, fromV3(f), (field) =>
          validation(field === 'TITLE' ? 'title' : 'responsibleId', 'Field is required'),
        );
        return { result: { item: taskV3(row) }, write: true };
      },
      'tasks.task.get': (ctx, p) => {
        const row = getRow(ctx, p);
        return { result: { item: taskV3(row, Array.isArray(p.select) ? p.select : undefined) }, rows: 1 };
      },
      'tasks.task.update': (ctx, p) => {
        const row = getRow(ctx, p);
        const f = p.fields;
        if (!f || typeof f !== 'object') throw validation('fields', 'Field is required');
        updateTask(ctx, row, fromV3(f));
        return { result: { result: true }, write: true };
      },
      'tasks.task.delete': (ctx, p) => {
        const row = getRow(ctx, p);
        ctx.portal.t.task.delete(row.ID);
        fireTask(ctx, 'DELETE', row.ID);
        return { result: { result: true }, write: true };
      },
      'tasks.task.list': (ctx, p) => {
        const filter = compileFilter(toV1Filter(p.filter), resolve, { logic: true });
        const orderIn: Record<string, string> = {};
        for (const [k, v] of Object.entries((p.order as Record<string, string>) ?? { id: 'asc' })) {
          if (!V3_FIELDS[k]) throw v3Error(400, 'INVALIDORDEREXCEPTION', `Unknown order field '${k}'`);
          orderIn[k] = String(v);
        }
        const order = compileOrder(orderIn, resolve, () =>
          v3Error(400, 'INVALIDORDEREXCEPTION', 'Order direction must be asc or desc'),
        );
        const pg = (p.pagination ?? {}) as { page?: number; limit?: number; offset?: number };
        const limit = Number(pg.limit ?? 50);
        if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
          throw v3Error(400, 'INVALIDPAGINATIONEXCEPTION', 'limit must be 1..1000');
        const page = Number(pg.page ?? 1);
        const offset = Number(pg.offset ?? 0) + (page > 1 ? (page - 1) * limit : 0);
        const q = runQuery(ctx.portal.t.task, filter, order, offset, limit, false);
        const select = Array.isArray(p.select) ? (p.select as string[]) : undefined;
        return { result: { items: q.rows.map((row) => taskV3(row, select)) }, rows: q.rows.length };
      },
      'tasks.task.field.list': () => ({
        result: {
          items: Object.keys(V3_FIELDS).map((name) => ({
            name,
            type:
              kinds[V3_FIELDS[name]!] === 'num' ? 'int' : kinds[V3_FIELDS[name]!] === 'date' ? 'datetime' : 'string',
            filterable: true,
            sortable: true,
          })),
        },
      }),
    },
    { v3: true },
  );
}

/** REST 3.0 service methods: `rest.scope.list` (method → scope of the portal's v3 methods). */
export function registerV3Service(r: Registry): void {
  r.add({
    name: 'rest.scope.list',
    scope: 'basic',
    v3: true,
    handler: () => {
      const items = [...r.v3.values()]
        .filter((m) => m.name !== 'rest.scope.list')
        .map((m) => ({ method: m.name, scope: m.scope }));
      return { result: { items } };
    },
  });
}

/** Registers task methods. */
export function registerTasks(r: Registry, portalTaskFields: Record<string, unknown>): void {
  taskDefFields = portalTaskFields;
  v1(r);
  v3(r);
}
