/**
 * In-memory tables: rows kept in an ID-sorted array plus a Map by ID, so `get` is O(1), keyset pages
 * (`>ID` + `order ID`) are a binary search plus 50 steps, and counted lists are one linear scan. Filters take the
 * portal's key prefixes (`=`, `!`, `>`, `>=`, `<`, `<=`, `%`, `@`, `!@`, …) and `logic: OR` groups. Sources:
 * doc settings/how-to-call-rest-api/list-methods-pecularities.md, settings/performance/huge-data.md,
 * api-reference/crm/deals/crm-deal-list.md (apidocs.bitrix24.com); rest-protocol.md §3, §4.
 */

import { type ApiError, argError } from './apiError.js';
import { parseDate } from './portalTime.js';

/** A stored record; keys are the entity's upper-case (legacy) field names, ids are numbers, dates ms. */
export type Row = Record<string, any>;

/** Field categories used by filters and ordering. */
export type Kind = 'num' | 'date' | 'str' | 'bool';

/** An ID-ordered table. */
export class Table {
  rows: Row[] = [];
  readonly byId = new Map<number, Row>();
  nextId = 1;

  constructor(
    readonly name: string,
    readonly idKey = 'ID',
  ) {}

  /** Number of rows. */
  get size(): number {
    return this.rows.length;
  }

  /** The row with that ID (number or numeric string), or undefined. */
  get(id: unknown): Row | undefined {
    const n = typeof id === 'number' ? id : Number(id);
    return Number.isFinite(n) ? this.byId.get(n) : undefined;
  }

  /** Inserts a row; assigns the next ID when the row has none. Returns the row. */
  insert(row: Row): Row {
    let id = row[this.idKey];
    if (typeof id !== 'number' || !Number.isFinite(id)) {
      id = this.nextId;
      row[this.idKey] = id;
    }
    if (id >= this.nextId) this.nextId = id + 1;
    const last = this.rows[this.rows.length - 1];
    if (!last || last[this.idKey] < id) this.rows.push(row);
    else this.rows.splice(this.lowerBound(id), 0, row);
    this.byId.set(id, row);
    return row;
  }

  /** Removes the row with that ID; false when there was none. */
  delete(id: number): boolean {
    const row = this.byId.get(id);
    if (!row) return false;
    this.byId.delete(id);
    const i = this.lowerBound(id);
    if (this.rows[i] === row) this.rows.splice(i, 1);
    return true;
  }

  /** Index of the first row whose id is >= `id`. */
  lowerBound(id: number): number {
    let lo = 0;
    let hi = this.rows.length;
    const k = this.idKey;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.rows[mid]![k] < id) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Replaces all rows (used when loading persisted data). */
  load(rows: Row[], nextId?: number): void {
    rows.sort((a, b) => a[this.idKey] - b[this.idKey]);
    this.rows = rows;
    this.byId.clear();
    let max = 0;
    for (const r of rows) {
      this.byId.set(r[this.idKey], r);
      if (r[this.idKey] > max) max = r[this.idKey];
    }
    this.nextId = Math.max(nextId ?? 0, max + 1);
  }
}

/** Resolves a filter/order/select name to a stored key and its kind; null = unknown field. */
export type Resolver = (name: string) => { key: string; kind: Kind } | null;

type Pred = (r: Row) => boolean;

/** The compiled filter: a predicate plus ID bounds usable for a range scan. */
export interface CompiledFilter {
  pred: Pred | null;
  lo: number;
  hi: number;
  /** number of conditions not on the id (0 = the id range is the whole filter) */
  other: number;
}

const PREFIX = /^(!%=|!=%|!%|=%|%=|!@|!=|>=|<=|!|=|>|<|@|%)?(.*)$/s;

/** Options for {@link compileFilter}. */
export interface FilterOptions {
  /** allow `logic: OR` groups and numeric-keyed sub-filters (crm.item.list) */
  logic?: boolean;
  /** what to do with an unknown field: ignore it (legacy), or throw the given error */
  unknown?: (field: string) => ApiError | null;
  /** allowed operations; anything else → ERROR_ARGUMENT "Filter operation not allowed" */
  ops?: Set<string>;
}

function toKind(kind: Kind, v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (kind === 'num') {
    if (v === '') return null;
    const n = typeof v === 'number' ? v : Number(v);
    return Number.isNaN(n) ? v : n;
  }
  if (kind === 'date') {
    if (v === '') return null;
    const n = parseDate(v);
    return Number.isNaN(n) ? v : n;
  }
  if (kind === 'bool') {
    if (typeof v === 'boolean') return v;
    const s = String(v).toLowerCase();
    return s === 'y' || s === '1' || s === 'true';
  }
  return typeof v === 'string' ? v.toLowerCase() : String(v).toLowerCase();
}

/** Multifield entries (`{ID, VALUE_TYPE, VALUE}`) compare on their VALUE, as PHONE/EMAIL filters do. */
const scalar = (v: unknown): unknown =>
  v !== null && typeof v === 'object' && 'VALUE' in v ? (v as { VALUE: unknown }).VALUE : v;

function norm(kind: Kind, v: unknown): unknown {
  v = scalar(v);
  if (v === null || v === undefined || v === '') return null;
  if (kind === 'str') return typeof v === 'string' ? v.toLowerCase() : String(v).toLowerCase();
  if (kind === 'bool') return toKind('bool', v);
  return v;
}

function likeRegex(pattern: string, explicit: boolean): RegExp {
  const esc = pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  if (!explicit) return new RegExp(esc, 'i');
  return new RegExp('^' + esc.replace(/%/g, '.*').replace(/_/g, '.') + '$', 'is');
}

function eqAny(a: unknown, kind: Kind, wanted: unknown[]): boolean {
  if (Array.isArray(a)) {
    for (const x of a) if (eqAny(x, kind, wanted)) return true;
    return a.length === 0 && wanted.includes(null);
  }
  const v = norm(kind, a);
  for (const w of wanted) if (v === w) return true;
  return false;
}

function cmp(a: unknown, kind: Kind, op: string, w: unknown): boolean {
  if (Array.isArray(a)) return a.some((x) => cmp(x, kind, op, w));
  const v = norm(kind, a);
  if (v === null || w === null) return false;
  switch (op) {
    case '>':
      return (v as any) > (w as any);
    case '>=':
      return (v as any) >= (w as any);
    case '<':
      return (v as any) < (w as any);
    default:
      return (v as any) <= (w as any);
  }
}

/**
 * Compiles a v1 filter map (`{">ID": 5, "%TITLE": "x", "@STAGE_ID": [...]}`, optional `logic` groups) into a
 * predicate. Throws ApiError for operations outside `opts.ops` or unknown fields when `opts.unknown` says so.
 */
export function compileFilter(
  filter: unknown,
  resolve: Resolver,
  opts: FilterOptions = {},
  idKey = 'ID',
): CompiledFilter {
  const out: CompiledFilter = { pred: null, lo: -Infinity, hi: Infinity, other: 0 };
  if (!filter || typeof filter !== 'object') return out;
  const preds: Pred[] = [];
  let orGroup = false;
  for (const [rawKey, value] of Object.entries(filter as Record<string, unknown>)) {
    if (opts.logic && rawKey.toLowerCase() === 'logic') {
      orGroup = String(value).toUpperCase() === 'OR';
      continue;
    }
    if (
      opts.logic &&
      value &&
      typeof value === 'object' &&
      !Array.isArray(value) &&
      (/^\d+$/.test(rawKey) || !resolve(rawKey.replace(PREFIX, '$2')))
    ) {
      const sub = compileFilter(value, resolve, opts, idKey);
      if (sub.pred) preds.push(sub.pred);
      out.other++;
      continue;
    }
    const m = PREFIX.exec(rawKey)!;
    const op = m[1] ?? '=';
    const name = m[2]!;
    if (opts.ops && !opts.ops.has(op)) throw argError('Filter operation not allowed: ' + op);
    const f = resolve(name);
    if (!f) {
      const err = opts.unknown?.(name);
      if (err) throw err;
      continue;
    }
    const { key, kind } = f;
    let p: Pred;
    let captured = false;
    const arr = Array.isArray(value) ? value : value && typeof value === 'object' ? Object.values(value) : null;
    switch (op) {
      case '=':
      case '@':
      case '!':
      case '!=':
      case '!@': {
        const wanted = (arr ?? [value]).map((x) => toKind(kind, x === '' ? null : x));
        const neg = op.startsWith('!');
        p = neg ? (r) => !eqAny(r[key], kind, wanted) : (r) => eqAny(r[key], kind, wanted);
        if (!neg && key === idKey && wanted.length === 1 && typeof wanted[0] === 'number') {
          out.lo = Math.max(out.lo, wanted[0]);
          out.hi = Math.min(out.hi, wanted[0]);
          captured = true;
        }
        break;
      }
      case '>':
      case '>=':
      case '<':
      case '<=': {
        const w = toKind(kind, Array.isArray(value) ? value[0] : value);
        p = (r) => cmp(r[key], kind, op, w);
        if (key === idKey && typeof w === 'number') {
          if (op === '>') out.lo = Math.max(out.lo, Math.floor(w) + 1);
          else if (op === '>=') out.lo = Math.max(out.lo, Math.ceil(w));
          else if (op === '<') out.hi = Math.min(out.hi, Math.ceil(w) - 1);
          else out.hi = Math.min(out.hi, Math.floor(w));
          captured = true;
        }
        break;
      }
      default: {
        const explicit = op === '=%' || op === '%=' || op === '!=%' || op === '!%=';
        const res = (arr ?? [value]).map((x) => likeRegex(String(x ?? ''), explicit));
        const neg = op.startsWith('!');
        const test = (v: unknown): boolean =>
          Array.isArray(v)
            ? v.some(test)
            : v !== null && v !== undefined && res.some((re) => re.test(String(scalar(v))));
        p = neg ? (r) => !test(r[key]) : (r) => test(r[key]);
      }
    }
    if (!captured) out.other++;
    preds.push(p);
  }
  if (orGroup) {
    out.lo = -Infinity;
    out.hi = Infinity;
    out.other = preds.length || 0;
    out.pred = preds.length ? (r) => preds.some((p) => p(r)) : null;
    return out;
  }
  if (preds.length === 1) out.pred = preds[0]!;
  else if (preds.length > 1) out.pred = (r) => preds.every((p) => p(r));
  return out;
}

/** One order term. */
export interface OrderTerm {
  key: string;
  kind: Kind;
  desc: boolean;
}

/**
 * Parses an order map `{FIELD: 'ASC'|'DESC'}` (case-insensitive directions). Unknown fields are skipped;
 * a bad direction throws `badDirection()`.
 */
export function compileOrder(order: unknown, resolve: Resolver, badDirection: () => ApiError): OrderTerm[] {
  const terms: OrderTerm[] = [];
  if (!order || typeof order !== 'object') return terms;
  for (const [name, dir] of Object.entries(order as Record<string, unknown>)) {
    const d = String(dir).toUpperCase();
    if (d !== 'ASC' && d !== 'DESC') throw badDirection();
    const f = resolve(name);
    if (!f) continue;
    terms.push({ key: f.key, kind: f.kind, desc: d === 'DESC' });
  }
  return terms;
}

/** Result of {@link runQuery}. */
export interface QueryResult {
  rows: Row[];
  /** matches in total (only computed when `count`), else -1 */
  total: number;
  /** rows looked at, drives the simulated operating cost */
  scanned: number;
}

/**
 * Runs a list query. Order by the id only (or none) walks the id range in order and stops after
 * `offset + limit` matches unless a count is needed; any other order collects matches and sorts.
 */
export function runQuery(
  table: Table,
  f: CompiledFilter,
  order: OrderTerm[],
  offset: number,
  limit: number,
  count: boolean,
): QueryResult {
  const rows = table.rows;
  const idKey = table.idKey;
  const byIdOnly = order.length === 0 || (order.length === 1 && order[0]!.key === idKey);
  const desc = byIdOnly && order.length === 1 && order[0]!.desc;
  let from = 0;
  let to = rows.length; // exclusive
  if (f.lo > -Infinity) from = table.lowerBound(f.lo);
  if (f.hi < Infinity) to = table.lowerBound(f.hi + 1);
  const pred = f.pred;
  const out: Row[] = [];
  let scanned = 0;
  if (byIdOnly) {
    if (!pred || f.other === 0) {
      const total = Math.max(0, to - from);
      const start = desc ? to - 1 - offset : from + offset;
      for (let i = 0; i < limit; i++) {
        const idx = desc ? start - i : start + i;
        if (idx < from || idx >= to) break;
        const r = rows[idx]!;
        if (pred && !pred(r)) continue;
        out.push(r);
      }
      return { rows: out, total: count ? total : -1, scanned: out.length };
    }
    let matched = 0;
    const need = offset + limit;
    for (let n = 0; n < to - from; n++) {
      const r = rows[desc ? to - 1 - n : from + n]!;
      scanned++;
      if (!pred(r)) continue;
      if (matched >= offset && out.length < limit) out.push(r);
      matched++;
      if (!count && matched >= need) break;
    }
    return { rows: out, total: count ? matched : -1, scanned };
  }
  const all: Row[] = [];
  for (let i = from; i < to; i++) {
    const r = rows[i]!;
    scanned++;
    if (!pred || pred(r)) all.push(r);
  }
  const compare = (a: Row, b: Row): number => {
    for (const t of order) {
      const x = norm(t.kind, a[t.key]) as any;
      const y = norm(t.kind, b[t.key]) as any;
      if (x === y) continue;
      if (x === null) return t.desc ? 1 : -1;
      if (y === null) return t.desc ? -1 : 1;
      const c = x < y ? -1 : 1;
      return t.desc ? -c : c;
    }
    return a[idKey] - b[idKey];
  };
  const k = offset + limit;
  if (all.length > 8 * k && k <= 5000) {
    // top-k selection: O(n log k) instead of sorting every match of a large table
    const top: Row[] = [];
    for (const r of all) {
      if (top.length === k && compare(r, top[k - 1]!) >= 0) continue;
      let lo = 0;
      let hi = top.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (compare(top[mid]!, r) <= 0) lo = mid + 1;
        else hi = mid;
      }
      top.splice(lo, 0, r);
      if (top.length > k) top.pop();
    }
    return { rows: top.slice(offset, k), total: count ? all.length : -1, scanned };
  }
  all.sort(compare);
  return { rows: all.slice(offset, offset + limit), total: count ? all.length : -1, scanned };
}
