/**
 * REST 3.0 (`/rest/api/…`, JSON only): `tasks.task.add/get/update/delete/list/field.list` — typed values,
 * `{item}`/`{items}`, filter as `[field, op, value]` triples, `pagination` {page, limit, offset}, validation errors
 * with `validation[]` — and the service method `rest.scope.list`. Sources: doc api-reference/rest-v3.md,
 * api-reference/tasks/tasks-task-list-rest-v3.md, tasks-task-get-rest-v3.md (apidocs.bitrix24.com/api-reference/
 * rest-v3.html); rest-protocol.md §8.
 */
import { v3Error } from '../apiError.js';
import type { Params } from '../params.js';
import type { CallCtx, Registry } from '../registry.js';
import { compileFilter, compileOrder, type Row, runQuery } from '../store.js';
import { createTask, fireTask, updateTask } from './taskRows.js';
import { PRIORITY_WORDS, STATUS_WORDS, taskV3, taskV3FieldList } from './taskV3View.js';

/** Registers the REST 3.0 `tasks.task.*` methods. */
export function taskV3Methods(r: Registry): void {
  const validation = (field: string, message: string) =>
    v3Error(400, 'VALIDATION_REQUESTVALIDATIONEXCEPTION', 'Request validation failed', [{ field, message }]);
  const fromV3 = (f: Record<string, unknown>): Record<string, unknown> => {
    // writable DTO properties (fields-rest-v3.md); booleans become the stored Y/N
    const map: Record<string, string> = {
      title: 'TITLE',
      description: 'DESCRIPTION',
      creatorId: 'CREATED_BY',
      responsibleId: 'RESPONSIBLE_ID',
      deadline: 'DEADLINE',
      groupId: 'GROUP_ID',
      stageId: 'STAGE_ID',
      parentId: 'PARENT_ID',
      accomplices: 'ACCOMPLICES',
      auditors: 'AUDITORS',
      startPlan: 'START_DATE_PLAN',
      endPlan: 'END_DATE_PLAN',
      estimatedTime: 'TIME_ESTIMATE',
      crmItemIds: 'UF_CRM_TASK',
    };
    const flags: Record<string, string> = {
      needsControl: 'TASK_CONTROL',
      allowsChangeDeadline: 'ALLOW_CHANGE_DEADLINE',
      isMultitask: 'MULTITASK',
      replicate: 'REPLICATE',
    };
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(f)) {
      if (flags[k]) {
        out[flags[k]] = v === true || v === 'Y' ? 'Y' : 'N';
        continue;
      }
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
    created: 'CREATED_DATE',
    changed: 'CHANGED_DATE',
    closed: 'CLOSED_DATE',
    parentId: 'PARENT_ID',
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
    CLOSED_DATE: 'date',
    PARENT_ID: 'num',
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
        return { result: { item: taskV3(ctx.portal, row) }, write: true };
      },
      'tasks.task.get': (ctx, p) => {
        const row = getRow(ctx, p);
        return { result: { item: taskV3(ctx.portal, row, Array.isArray(p.select) ? p.select : undefined) }, rows: 1 };
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
        return { result: { items: q.rows.map((row) => taskV3(ctx.portal, row, select)) }, rows: q.rows.length };
      },
      'tasks.task.field.list': () => ({ result: { items: taskV3FieldList(new Set(Object.keys(V3_FIELDS))) } }),
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
