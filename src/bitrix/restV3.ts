/**
 * REST 3.0 routing: which calls the client sends over `/rest/api/` by default, how their REST 2 params become
 * REST 3.0 params (and the answer goes back to the REST 2 shape, so callers see one dialect), and which portals
 * answered that REST 3.0 is missing (remembered per portal and method).
 *
 * Sources (apidocs.bitrix24.com/<path>.html): api-reference/rest-v3.md (URL, JSON body, `Idempotency-Key`,
 * 404 `ERROR_METHOD_NOT_FOUND`), api-reference/tasks/tasks-task-add-rest-v3.md, tasks-task-update-rest-v3.md,
 * tasks-task-delete-rest-v3.md (`fields{title, responsibleId, …}`, `id`, `{item}` / `{result: true}`);
 * rest-protocol.md §8.
 */
import { B24Error, MethodNotFound } from './restErrors.js';

/** A call translated to REST 3.0: the params to send, and how to bring the answer back to the REST 2 shape. */
export interface V3Call {
  params: Record<string, unknown>;
  /** The REST 3.0 `result` → the REST 2 `result` of the same method. */
  answer: (result: unknown) => unknown;
  /** A list's REST 2 `next` (REST 3.0 answers no `next`/`total`): the next offset after a full page. */
  next?: (result: unknown) => number | undefined;
}

/** REST 2 task field (`UPPER_SNAKE`) → REST 3.0 DTO property (tasks-task-add-rest-v3.md). */
const TASK_FIELDS: Record<string, string> = {
  TITLE: 'title',
  DESCRIPTION: 'description',
  CREATED_BY: 'creatorId',
  RESPONSIBLE_ID: 'responsibleId',
  DEADLINE: 'deadline',
  GROUP_ID: 'groupId',
  PARENT_ID: 'parentId',
  ACCOMPLICES: 'accomplices',
  AUDITORS: 'auditors',
};
/** REST 2 numeric status / priority → REST 3.0 words. */
const STATUS_WORDS: Record<string, string> = {
  '1': 'new',
  '2': 'pending',
  '3': 'in_progress',
  '4': 'supposedly_completed',
  '5': 'completed',
  '6': 'deferred',
};
const PRIORITY_WORDS: Record<string, string> = { '0': 'low', '1': 'average', '2': 'high' };

/** Task fields in REST 3.0 form, or undefined when one has no REST 3.0 property (the call then stays on REST 2). */
function taskFields(f: unknown): Record<string, unknown> | undefined {
  if (!f || typeof f !== 'object' || Array.isArray(f)) return undefined;
  const out: Record<string, unknown> = {};
  const v3Names = new Set(Object.values(TASK_FIELDS));
  for (const [k, v] of Object.entries(f as Record<string, unknown>)) {
    const up = k.toUpperCase();
    if (up === 'STATUS' || up === 'PRIORITY') {
      const words = up === 'STATUS' ? STATUS_WORDS : PRIORITY_WORDS;
      const w = words[String(v)] ?? (Object.values(words).includes(String(v)) ? String(v) : undefined);
      if (!w) return undefined;
      out[up.toLowerCase()] = w;
    } else if (TASK_FIELDS[up]) out[TASK_FIELDS[up]] = v;
    else if (v3Names.has(k)) out[k] = v;
    else return undefined;
  }
  return out;
}

/** The task id of a REST 2 call (`taskId`, `id`, `TASKID`). */
function taskId(p: Record<string, unknown>): unknown {
  for (const [k, v] of Object.entries(p)) if (k.toLowerCase() === 'taskid' || k.toLowerCase() === 'id') return v;
  return undefined;
}

/** REST 2 task field names usable in a REST 3.0 list's select / filter / order (tasks-task-list-rest-v3.md). */
const TASK_LIST_FIELDS: Record<string, string> = {
  ...TASK_FIELDS,
  ID: 'id',
  STATUS: 'status',
  PRIORITY: 'priority',
  CREATED_DATE: 'created',
  CHANGED_DATE: 'changed',
  CLOSED_DATE: 'closed',
};
const FILTER_OPS: Array<[string, string]> = [
  ['>=', '>='],
  ['<=', '<='],
  ['!=', '!='],
  ['>', '>'],
  ['<', '<'],
  ['!', '!='],
  ['@', 'in'],
  ['=', '='],
];

/** A REST 2 task field name → its REST 3.0 name (case-insensitive), or undefined. */
function listField(name: string): string | undefined {
  const up = name.toUpperCase();
  return TASK_LIST_FIELDS[up] ?? Object.values(TASK_LIST_FIELDS).find((v) => v === name);
}

/** A REST 2 filter map → REST 3.0 triples; undefined for an operator or field without a REST 3.0 form. */
function taskFilter(f: unknown): unknown[] | undefined {
  if (f === undefined) return [];
  if (!f || typeof f !== 'object' || Array.isArray(f)) return undefined;
  const out: unknown[] = [];
  for (const [k, v] of Object.entries(f as Record<string, unknown>)) {
    const [prefix, op] = FILTER_OPS.find(([p]) => k.startsWith(p)) ?? ['', Array.isArray(v) ? 'in' : '='];
    const field = listField(k.slice(prefix.length));
    if (!field || (v !== null && typeof v === 'object' && !Array.isArray(v))) return undefined;
    if (Array.isArray(v) && op !== 'in' && op !== '=') return undefined;
    out.push([field, Array.isArray(v) ? 'in' : op, v]);
  }
  return out;
}

/** A REST 3.0 task row in the REST 2 value form: status / priority as codes, numbers as strings. */
function v2TaskRow(row: unknown): unknown {
  if (!row || typeof row !== 'object' || Array.isArray(row)) return row;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row as Record<string, unknown>)) {
    const words = k === 'status' ? STATUS_WORDS : k === 'priority' ? PRIORITY_WORDS : undefined;
    const code = words ? Object.entries(words).find(([, w]) => w === v)?.[0] : undefined;
    out[k] = code ?? (typeof v === 'number' ? String(v) : v);
  }
  return out;
}

/** Only these top-level params (case-insensitive) may be present; anything else keeps the call on REST 2. */
function onlyKeys(p: Record<string, unknown>, allowed: string[]): boolean {
  return Object.keys(p).every((k) => allowed.includes(k.toLowerCase()));
}

const TRANSLATORS: Record<string, (p: Record<string, unknown>) => V3Call | undefined> = {
  'tasks.task.add': (p) => {
    if (!onlyKeys(p, ['fields'])) return undefined;
    const fields = taskFields(p.fields ?? (p as any).FIELDS);
    if (!fields) return undefined;
    return { params: { fields }, answer: (r) => ({ task: (r as { item?: unknown })?.item ?? r }) };
  },
  'tasks.task.update': (p) => {
    if (!onlyKeys(p, ['taskid', 'id', 'fields'])) return undefined;
    const id = taskId(p);
    const fields = taskFields(p.fields ?? (p as any).FIELDS);
    if (id === undefined || !fields) return undefined;
    // REST 2 answers the task; REST 3.0 answers `{result: true}`: the id is what callers can rely on
    return { params: { id: Number(id), fields }, answer: () => ({ task: { id: String(id) } }) };
  },
  'tasks.task.list': (p) => {
    // one page of 50 (the REST 2 page: list.ts's keyset stops on a short page); `start` is the REST 2 offset
    if (!onlyKeys(p, ['filter', 'select', 'order', 'start'])) return undefined;
    const start = Number(p.start ?? 0);
    if (!Number.isInteger(start)) return undefined;
    const filter = taskFilter(p.filter);
    if (!filter) return undefined;
    const params: Record<string, unknown> = { pagination: { limit: 50, offset: Math.max(0, start) } };
    if (filter.length) params.filter = filter;
    if (p.select !== undefined) {
      if (!Array.isArray(p.select)) return undefined;
      if (!p.select.includes('*')) {
        const sel = p.select.map((f) => listField(String(f)));
        if (sel.some((f) => !f)) return undefined;
        params.select = sel;
      }
    }
    if (p.order !== undefined) {
      if (!p.order || typeof p.order !== 'object' || Array.isArray(p.order)) return undefined;
      const order: Record<string, string> = {};
      for (const [k, dir] of Object.entries(p.order as Record<string, unknown>)) {
        const f = listField(k);
        if (!f || !/^(asc|desc)$/i.test(String(dir))) return undefined;
        order[f] = String(dir).toLowerCase();
      }
      params.order = order;
    }
    const items = (r: unknown) => (r as { items?: unknown[] })?.items ?? [];
    return {
      params,
      answer: (r) => ({ tasks: items(r).map(v2TaskRow) }),
      next: (r) => (items(r).length >= 50 ? Math.max(0, start) + 50 : undefined),
    };
  },
  'tasks.task.delete': (p) => {
    if (!onlyKeys(p, ['taskid', 'id'])) return undefined;
    const id = taskId(p);
    if (id === undefined) return undefined;
    return { params: { id: Number(id) }, answer: (r) => ({ task: (r as { result?: unknown })?.result ?? true }) };
  },
};

/** Whether the client knows how to send `method` over REST 3.0 (its REST 2 params can be translated). */
export function hasV3Translation(method: string): boolean {
  return method.toLowerCase() in TRANSLATORS;
}

/**
 * The REST 3.0 form of a REST 2 call, or undefined when the method has no translation or a param has no REST 3.0
 * counterpart (a user field, a positional list): such a call goes over REST 2 unchanged.
 */
export function toV3Call(method: string, params: Record<string, unknown> | unknown[]): V3Call | undefined {
  if (Array.isArray(params)) return undefined;
  return TRANSLATORS[method.toLowerCase()]?.(params);
}

/**
 * Whether an error of a `/rest/api/` call means the portal has no REST 3.0 for the method: 404 with
 * `ERROR_METHOD_NOT_FOUND` (a portal without REST 3.0 routes `/rest/api/…` as an unknown method) or the v3
 * `…METHODNOTFOUNDEXCEPTION`, or a bare 404 page. Nothing ran, so the call may be sent over REST 2.
 */
export function isV3Missing(err: unknown): boolean {
  if (!(err instanceof B24Error)) return false;
  if (err instanceof MethodNotFound) return true;
  return err.status === 404 && /METHOD_?NOT_?FOUND|^HTTP_404$|^NOT_FOUND$/i.test(err.code);
}

/**
 * Where the client remembers that a portal answered "no REST 3.0" for a method (in memory per process by default;
 * the CLI may pass one backed by the store).
 */
export interface V3Memory {
  /** True when `portal` is known to have no REST 3.0 route for `method`. */
  isV2Only(portal: string, method: string): boolean;
  /** Remembers that `portal` has no REST 3.0 route for `method`. */
  rememberV2Only(portal: string, method: string): void;
}

const missing = new Map<string, Set<string>>();

/** The process-wide memory (the default of every client). */
export const processV3Memory: V3Memory = {
  isV2Only: (portal, method) => missing.get(portal)?.has(method.toLowerCase()) ?? false,
  rememberV2Only: (portal, method) => {
    const s = missing.get(portal) ?? new Set<string>();
    s.add(method.toLowerCase());
    missing.set(portal, s);
  },
};

/**
 * Reads a REST 3.0 batch answer (`result` is an array in command order; a failed command holds its error body):
 * per command key its result in the REST 2 shape, or the typed error `toError` makes of its error body.
 */
export function readV3Batch<E>(
  result: unknown,
  commands: Array<{ key: string; method: string; call: V3Call }>,
  toError: (method: string, body: unknown) => E,
): { results: Record<string, unknown>; errors: Record<string, E> } {
  const arr = Array.isArray(result) ? result : [];
  const results: Record<string, unknown> = {};
  const errors: Record<string, E> = {};
  commands.forEach(({ key, method, call }, i) => {
    const r = arr[i];
    if (r === undefined || (r && typeof r === 'object' && 'error' in r)) errors[key] = toError(method, r ?? {});
    else results[key] = call.answer(r);
  });
  return { results, errors };
}
