/**
 * `tasks.task.*` in the D7 controller dialect: add/update/get/list/delete, status transitions
 * (complete/start/pause/defer/renew/approve/disapprove), `tasks.task.getFields`; input accepts UPPER and camelCase
 * keys, answers wrap rows in `{task}`/`{tasks}`. Sources: apidocs.bitrix24.com/api-reference/tasks/
 * tasks-task-add.html, …/tasks-task-list.html, …/tasks-task-get.html, api-reference/tasks/status/
 * tasks-task-complete.html (b24-spec spec/index.json maps each method to its page).
 */
import { missingParam } from '../apiError.js';
import { camelName, legacyResolver } from '../fieldViews.js';
import { type Params, pick } from '../params.js';
import { type CallCtx, type MethodResult, PAGE, type Registry, readStart } from '../registry.js';
import { compileFilter, compileOrder, runQuery } from '../store.js';
import { TASK_FIELD_META, taskListExtras } from './taskFields.js';
import { coreErr, createTask, fireTask, getTask, readSelect, taskView, updateTask } from './taskRows.js';

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

/**
 * Registers `tasks.task.*` (v1). `portalTaskFields` are the task entity's fields (their camelCase names are
 * accepted as input keys).
 */
export function taskMethods(r: Registry, portalTaskFields: Record<string, unknown>): void {
  taskDefFields = portalTaskFields;
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
      if (!f || typeof f !== 'object') throw missingParam('fields');
      const row = createTask(ctx, normTaskFields(f), (field) =>
        coreErr(field === 'TITLE' ? 'Task title is not specified' : 'Responsible person is not specified'),
      );
      return { result: { task: taskView(ctx.portal, row) }, write: true };
    },
    'tasks.task.update': (ctx, p) => {
      const row = getTask(ctx, p);
      const f = pick(p, 'fields');
      if (!f || typeof f !== 'object') throw missingParam('fields');
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
      const params = (pick(p, 'params') ?? {}) as Record<string, unknown>;
      const tasks = q.rows.map((row) => ({
        ...taskView(ctx.portal, row, select),
        ...taskListExtras(row, params, select),
      }));
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
      // the documented descriptions first, then the portal's other fields (tags, user fields)
      const fields = ctx.portal.def('task').fields;
      const out: Record<string, unknown> = {};
      for (const [k, m] of Object.entries(TASK_FIELD_META)) out[k] = { title: fields[k]?.title ?? k, ...m };
      for (const [k, f] of Object.entries(fields))
        out[k] ??= { title: f.title, type: f.type, ...(f.req ? { required: true } : {}) };
      return { result: { fields: out } };
    },
  });
}
