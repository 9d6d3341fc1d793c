/**
 * The generic CRUD fallback: a v1 method outside the curated set (`<entity>.<verb>`, e.g. `lists.element.add`,
 * `calendar.event.get`) is served from an untyped table per entity path, so pipelines that use less common methods
 * still run against the sandbox. Not a Bitrix24 behaviour: the verb table follows the naming of the documented
 * methods (apidocs.bitrix24.com/api-reference/, b24-spec spec/index.json).
 */
import { ApiError, argError } from '../apiError.js';
import { type Params, pick } from '../params.js';
import { listOut, type MethodResult, type MethodSpec, PAGE, readStart } from '../registry.js';
import { compileFilter, compileOrder, runQuery } from '../store.js';
import { readId } from './common.js';

/** Verb → generic operation. Actions (start, complete, …) answer `true` and stamp the row when an id is given. */
const GENERIC_VERBS: Record<string, 'add' | 'get' | 'list' | 'update' | 'delete' | 'fields' | 'action'> = {
  add: 'add',
  create: 'add',
  register: 'add',
  addsubfolder: 'add',
  uploadfile: 'add',
  addtask: 'add',
  addcard: 'add',
  get: 'get',
  list: 'list',
  getlist: 'list',
  getchildren: 'list',
  getstages: 'list',
  search: 'list',
  update: 'update',
  set: 'update',
  delete: 'delete',
  remove: 'delete',
  unregister: 'delete',
  deletetask: 'delete',
  fields: 'fields',
  getfields: 'fields',
  start: 'action',
  complete: 'action',
  terminate: 'action',
  kill: 'action',
  finish: 'action',
  answer: 'action',
  open: 'action',
  close: 'action',
  pause: 'action',
  renew: 'action',
  copyto: 'action',
  moveto: 'action',
};
const SCOPE_OF: Record<string, string> = {
  tasks: 'task',
  task: 'task',
  sonet_group: 'sonet_group',
  socialnetwork: 'sonet_group',
  log: 'log',
  im: 'im',
  imopenlines: 'imopenlines',
};

/**
 * Generic CRUD for methods outside the curated set: `<entity>.<verb>` over an untyped table, the verb mapped by
 * {@link GENERIC_VERBS} (add/create/register → id; get; list/getlist → list + total; update → true; delete/
 * unregister → true; actions like start/complete → true). Returns undefined when the verb is unknown
 * (→ ERROR_METHOD_NOT_FOUND).
 */
export function genericMethod(name: string): MethodSpec | undefined {
  const parts = name.toLowerCase().split('.');
  if (parts.length < 2) return undefined;
  const op = GENERIC_VERBS[parts[parts.length - 1]!];
  if (!op) return undefined;
  const verb = op;
  const entity = parts.slice(0, -1).join('.');
  const scope = SCOPE_OF[parts[0]!] ?? parts[0]!;
  const notFound = () => new ApiError(400, 'ERROR_NOT_FOUND', 'Not found');
  const fieldsOf = (p: Params) => {
    const f = pick(p, 'fields', 'FIELDS');
    if (f && typeof f === 'object') return f as Record<string, unknown>;
    const rest = { ...p };
    for (const k of ['id', 'ID', 'auth']) delete rest[k];
    return rest;
  };
  return {
    name,
    scope,
    handler: (ctx, p): MethodResult => {
      const t = ctx.portal.genericTable(entity);
      const id = () => readId(p, () => argError('ID is not defined or invalid.'));
      switch (verb) {
        case 'action': {
          const given = pick(p, 'id', 'ID');
          const row = given !== undefined ? t.get(given) : undefined;
          if (row)
            Object.assign(row, { LAST_ACTION: name, LAST_ACTION_BY: ctx.userId, DATE_MODIFY: ctx.portal.nowIso() });
          ctx.portal.dirty();
          return { result: true, write: true };
        }
        case 'add': {
          const row = t.insert({
            ...fieldsOf(p),
            ID: undefined,
            CREATED_BY: ctx.userId,
            DATE_CREATE: ctx.portal.nowIso(),
          });
          ctx.portal.dirty();
          return { result: row.ID, write: true };
        }
        case 'update': {
          const row = t.get(id());
          if (!row) throw notFound();
          Object.assign(row, fieldsOf(p), { ID: row.ID });
          ctx.portal.dirty();
          return { result: true, write: true };
        }
        case 'delete': {
          if (!t.delete(id())) throw notFound();
          ctx.portal.dirty();
          return { result: true, write: true };
        }
        case 'fields':
          return { result: [] };
        default: {
          if (verb === 'get' && pick(p, 'id', 'ID') !== undefined) {
            const row = t.get(id());
            if (!row) throw notFound();
            return { result: row };
          }
          // a `get` without id lists, as `list` / `getlist` do
          const resolve = (n: string) => ({
            key: n.toUpperCase() === 'ID' ? 'ID' : n,
            kind: n.toUpperCase() === 'ID' ? ('num' as const) : ('str' as const),
          });
          const f = compileFilter(pick(p, 'filter', 'FILTER'), resolve);
          const order = compileOrder(pick(p, 'order', 'ORDER'), resolve, () => argError('Invalid order'));
          const start = readStart(pick(p, 'start'));
          const q = runQuery(t, f, order, Math.max(0, start), PAGE, start >= 0);
          return listOut(q.rows, q.rows.length, q.total, start);
        }
      }
    },
  };
}
