/**
 * Keyset iteration over list methods: `order {ID: ASC}`, `filter {">ID": last}`, `start = -1` (no COUNT query, no
 * offset drift under inserts/deletes). Source: settings/performance/huge-data.md, settings/how-to-call-rest-api/
 * list-methods-pecularities.md (page = 50 rows).
 */

import { methodInfo } from './catalogInfo.js';
import type { B24Client } from './client.js';

/** Page size of every v2 list method. */
export const PAGE_SIZE = 50;

/** Params of a list method; `order` and `start` are managed by the iterator. */
export interface ListParams {
  filter?: Record<string, unknown>;
  select?: string[];
  order?: Record<string, string>;
  [key: string]: unknown;
}

/** Progress of an iteration. */
export interface ListProgress {
  /** Rows yielded so far. */
  rows: number;
  /** List requests sent so far by this iteration. */
  requests: number;
  /** Last id seen. */
  lastId?: number | string;
}

/** Options of {@link B24Client.list}. */
export interface ListOptions {
  signal?: AbortSignal;
  /** Called after every page. */
  onProgress?: (p: ListProgress) => void;
  /** Wrapper key of the rows in `result` (`tasks`, `items`); auto-detected when omitted. */
  wrapper?: string | null;
  /** Id field name used in `order`/`filter` (`ID` or `id`); default from the catalog, else by method name. */
  idParam?: string;
}

/** How a method's list answer is shaped. */
export interface ListShape {
  /** Key of the rows array inside `result`, or null when `result` is the array. */
  wrapper: string | null;
  /** Id name used in the request's order/filter. */
  idParam: string;
  /** Id name in the rows (detected from the first row). */
  idRow: string;
}

const LOWER_ID = /^(crm\.item\.|crm\.category\.|crm\.type\.|crm\.timeline\.(item|note)|booking\.|catalog\.)/i;

/** Guesses the id parameter's case from the method name (typed D7 controllers use `id`). */
export function guessIdParam(method: string): string {
  return LOWER_ID.test(method) ? 'id' : 'ID';
}

/**
 * Finds the rows in a list `result`: the array itself, the catalog's wrapper key, or the single array-valued key
 * (`tasks`, `items`, `workgroups`, `categories`, ...).
 */
export function extractRows(result: unknown, wrapper?: string | null): { rows: unknown[]; wrapper: string | null } {
  if (Array.isArray(result)) return { rows: result, wrapper: null };
  if (result && typeof result === 'object') {
    const o = result as Record<string, unknown>;
    if (wrapper && Array.isArray(o[wrapper])) return { rows: o[wrapper] as unknown[], wrapper };
    const arrays = Object.entries(o).filter(([, v]) => Array.isArray(v));
    if (arrays.length >= 1) {
      const [k, v] = arrays.find(([k]) => k === 'items') ?? arrays[0]!;
      return { rows: v as unknown[], wrapper: k };
    }
    // PHP serialises an empty list under a key as [] — but an empty map as [] too; no rows.
    return { rows: [], wrapper: wrapper ?? null };
  }
  return { rows: [], wrapper: wrapper ?? null };
}

/** The id of a row under `ID` or `id` (numbers compared numerically). */
export function rowId(row: unknown, idRow: string): number | string | undefined {
  if (!row || typeof row !== 'object') return undefined;
  const r = row as Record<string, unknown>;
  const v = r[idRow] ?? r.ID ?? r.id;
  if (v === undefined || v === null) return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : String(v);
}

/** Detects the id key of a row. */
export function detectIdRow(row: unknown, fallback: string): string {
  if (row && typeof row === 'object') {
    if ('ID' in row) return 'ID';
    if ('id' in row) return 'id';
  }
  return fallback;
}

/** How the keyset query of a method is written (from the catalog's `list` block, else by method name). */
export interface KeysetShape {
  /** Id name used in the request's order/filter (`ID`, `id`). */
  idParam: string;
  /** Names of the filter / order / select parameters (`filter`, or `FILTER` for user.get). */
  filterParam: string;
  orderParam: string;
  selectParam: string;
  /** Whether `start=-1` (no COUNT) is supported; otherwise `start=0` on every page. */
  startMinusOne: boolean;
  /** `user.get` orders by `sort=ID` + `order=ASC` instead of an order map. */
  sortStyle: boolean;
  /** Wrapper key of the rows when known. */
  wrapper?: string | null;
}

/**
 * Resolves the keyset shape of a method from options, the catalog and the method name.
 * (`tasks.task.list` filters and orders by `ID` but returns `id`: the row id case is detected separately.)
 */
export async function listShape(
  method: string,
  opts: { wrapper?: string | null; idParam?: string },
): Promise<KeysetShape> {
  const info = await methodInfo(method);
  const l = (info.list ?? {}) as Record<string, any>;
  const m = method.toLowerCase();
  const idParam = opts.idParam ?? (m.startsWith('tasks.task.') ? 'ID' : (l.id_field ?? guessIdParam(method)));
  const shape: KeysetShape = {
    idParam,
    filterParam: l.filter_param ?? (m === 'user.get' ? 'FILTER' : 'filter'),
    orderParam: l.order_param ?? 'order',
    selectParam: l.select_param ?? 'select',
    startMinusOne: l.start_minus_one ?? true,
    sortStyle: m === 'user.get',
  };
  const wrapper = opts.wrapper !== undefined ? opts.wrapper : l.wrapper;
  if (wrapper !== undefined) shape.wrapper = wrapper;
  return shape;
}

/** Shape for callers that only know the id name (defaults everywhere else). */
export function simpleShape(idParam: string): KeysetShape {
  return {
    idParam,
    filterParam: 'filter',
    orderParam: 'order',
    selectParam: 'select',
    startMinusOne: true,
    sortStyle: false,
  };
}

/**
 * Builds the params of one keyset page: the user's params, ordered by id, filtered to ids after `after`, without
 * COUNT (`start=-1`) where the method supports it. The user's own `order`/`start` are replaced.
 */
export function keysetParams(
  params: ListParams,
  shape: KeysetShape | string,
  after: unknown,
  dir: 'ASC' | 'DESC' = 'ASC',
): Record<string, unknown> {
  const sh = typeof shape === 'string' ? simpleShape(shape) : shape;
  const { order: _order, start: _start, sort: _sort, ...rest } = params;
  const userFilter = (params[sh.filterParam] ?? params.filter ?? {}) as Record<string, unknown>;
  if (sh.filterParam !== 'filter') delete rest.filter;
  const filter: Record<string, unknown> = { ...userFilter };
  if (after !== undefined) filter[`>${sh.idParam}`] = after;
  const out: Record<string, unknown> = { ...rest };
  if (sh.sortStyle) {
    out.sort = sh.idParam;
    out.order = dir;
  } else out[sh.orderParam] = { [sh.idParam]: dir };
  out.start = sh.startMinusOne ? -1 : 0;
  if (Object.keys(filter).length || params[sh.filterParam] !== undefined) out[sh.filterParam] = filter;
  const select = (params[sh.selectParam] ?? params.select) as string[] | undefined;
  if (Array.isArray(select) && select.length && !select.includes('*')) {
    const has = select.some((f) => f.toLowerCase() === sh.idParam.toLowerCase());
    out[sh.selectParam] = has ? select : [sh.idParam, ...select];
  }
  return out;
}

/**
 * Iterates all rows of a list method by keyset. Stops on a short page (< 50 rows) or when the last id does not
 * advance (a method that ignores the `>ID` filter), so it never loops forever.
 * @throws B24Error from the portal; the signal's reason when aborted
 */
export async function* listAll<T>(
  client: B24Client,
  method: string,
  params: ListParams,
  opts: ListOptions,
): AsyncGenerator<T> {
  const shape = await listShape(method, opts);
  let wrapper = shape.wrapper;
  let idRow: string | undefined;
  let last: number | string | undefined;
  let rows = 0;
  let requests = 0;
  for (;;) {
    opts.signal?.throwIfAborted();
    const res = await client.call(method, keysetParams(params, shape, last), {
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    requests++;
    const page = extractRows(res.result, wrapper);
    wrapper = page.wrapper;
    if (page.rows.length && !idRow) idRow = detectIdRow(page.rows[0], shape.idParam);
    let advanced = false;
    for (const row of page.rows) {
      const id = rowId(row, idRow ?? shape.idParam);
      if (last !== undefined && id !== undefined && !(id > last)) continue; // repeated row: never yield twice
      if (id !== undefined) {
        last = id;
        advanced = true;
      }
      rows++;
      yield row as T;
    }
    opts.onProgress?.({ rows, requests, ...(last !== undefined ? { lastId: last } : {}) });
    if (page.rows.length < PAGE_SIZE || !advanced) return;
  }
}
