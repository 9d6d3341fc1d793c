/**
 * The sandbox's own method table (it does not read src/catalog at run time). A handler receives the call
 * context and the decoded params and returns the result plus list metadata and cost hints. Method names are
 * matched case-insensitively, as the portal does; v1 lists page by 50 (`start`, `next`, `total`). Sources:
 * apidocs.bitrix24.com/settings/how-to-call-rest-api/list-methods-pecularities.html (doc
 * settings/how-to-call-rest-api/list-methods-pecularities.md); rest-protocol.md §0, §3.
 */
import type { Params } from './params.js';
import type { Portal } from './portal.js';

/** Who is calling and how. */
export interface CallCtx {
  portal: Portal;
  userId: number;
  authKind: 'webhook' | 'oauth';
  /** operating-budget key part: webhook code hash or app client id */
  authKey: string;
  /** granted scopes; null = every scope */
  scopes: Set<string> | null;
  v3: boolean;
  inBatch: boolean;
  /** `auth_connector` of the call (offline loop breaker) */
  connector: string;
}

/** What a handler returns. */
export interface MethodResult {
  result: unknown;
  /** list methods: total matches (`total` in the envelope) */
  total?: number;
  /** list methods: offset of the next page */
  next?: number;
  /** rows returned, for the simulated cost */
  rows?: number;
  /** rows counted (COUNT query), for the simulated cost */
  counted?: number;
  /** marks writes (stats.writes, cost) */
  write?: boolean;
}

/** A method implementation. */
export interface MethodSpec {
  /** exact documented case */
  name: string;
  scope: string;
  handler: (ctx: CallCtx, p: Params) => MethodResult | Promise<MethodResult>;
  /** needs application (OAuth) context: webhook → 403 WRONG_AUTH_TYPE */
  appOnly?: boolean;
  /** positional parameter names for `0=`, `1[..]=` style calls (legacy task.*item.*) */
  positional?: string[];
  /** REST 3.0 only (served under /rest/api/) */
  v3?: boolean;
  /** not allowed inside batch (batch itself) */
  noBatch?: boolean;
}

/** Registry: lower-case name → spec; separate maps for v1 and v3. */
export class Registry {
  readonly v1 = new Map<string, MethodSpec>();
  readonly v3 = new Map<string, MethodSpec>();

  /** Adds (or replaces) a method under its lower-case name. */
  add(spec: MethodSpec): void {
    (spec.v3 ? this.v3 : this.v1).set(spec.name.toLowerCase(), spec);
  }

  /** Shorthand for many methods of one scope. */
  many(scope: string, defs: Record<string, MethodSpec['handler']>, extra: Partial<MethodSpec> = {}): void {
    for (const [name, handler] of Object.entries(defs)) this.add({ name, scope, handler, ...extra });
  }

  /** The method of that name, any case; `v3` looks in the REST 3.0 table. */
  get(name: string, v3 = false): MethodSpec | undefined {
    return (v3 ? this.v3 : this.v1).get(name.toLowerCase());
  }
}

/** The 50-row page size of every v1 list. */
export const PAGE = 50;

/**
 * Reads `start`: negative = first page without a count; otherwise the portal turns it into a page number
 * (`floor(start / 50) + 1`), so the effective offset is rounded down to a multiple of 50 (start=30 → rows 1–50).
 */
export function readStart(v: unknown): number {
  if (v === undefined || v === null || v === '') return 0;
  const n = Number(v);
  if (!Number.isFinite(n)) return 0;
  if (n < 0) return -1;
  return Math.floor(n / PAGE) * PAGE;
}

/** Builds a v1 list result: `total` always (0 when start < 0), `next` only when more rows exist. */
export function listOut(result: unknown, rows: number, total: number, start: number): MethodResult {
  if (start < 0) return { result, total: 0, rows };
  const out: MethodResult = { result, total, rows, counted: total };
  if (start + rows < total) out.next = start + PAGE;
  return out;
}
