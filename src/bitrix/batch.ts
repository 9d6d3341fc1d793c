/**
 * `batch`: up to 50 commands per request, results and errors per command, `$result[...]` references.
 * Source: settings/how-to-call-rest-api/batch.md (≤ 50 commands, no nested batch, `halt`, `result_error`,
 * `result_total`, `result_next`, `result_time`; empty sections serialised as `[]`).
 */

import { BatchRef, encodeParams } from './encode.js';
import type { PortalLimiter, ResponseTime } from './limiter/index.js';
import { type B24Error, BatchError, errorFromCode } from './restErrors.js';

export { BatchRef } from './encode.js';

/** Largest number of commands Bitrix24 accepts in one batch. */
export const BATCH_LIMIT = 50;

/** One command: a method and its params (object, or a positional list). */
export interface BatchCommand {
  method: string;
  params?: Record<string, unknown> | unknown[];
}

/** Results of a batch, per command key (array input → keys `"0"`, `"1"`, ...). */
export interface BatchResult {
  /** Command keys in input order. */
  keys: string[];
  /** Result per succeeded command. */
  results: Record<string, unknown>;
  /** Typed error per failed command (commands skipped by `halt` have neither a result nor an error). */
  errors: Record<string, B24Error>;
  /** `total` per list command. */
  totals: Record<string, number>;
  /** `next` per list command that has more rows. */
  nexts: Record<string, number>;
  /** Timing per command (`result_time`). */
  times: Record<string, ResponseTime>;
  /** HTTP requests spent (chunks of ≤ 50 commands). */
  requests: number;
  /** The result of one command. @throws its B24Error, or BatchError when it did not run (halt) */
  get<T = unknown>(key: string): T;
  /** Results in input order (`undefined` for failed commands). */
  list(): unknown[];
}

type Key<T> = T extends readonly unknown[] ? number : T extends object ? Extract<keyof T, string> : never;
type At<T, K> = T extends readonly (infer E)[] ? E : K extends keyof T ? T[K] : unknown;

/** A command added to a {@link BatchBuilder}; `ref(...)` builds a typed `$result[key][...]` reference. */
export class BatchHandle<T = unknown> {
  constructor(readonly key: string) {}
  ref(): BatchRef;
  ref<K1 extends Key<T>>(k1: K1): BatchRef;
  ref<K1 extends Key<T>, K2 extends Key<At<T, K1>>>(k1: K1, k2: K2): BatchRef;
  ref<K1 extends Key<T>, K2 extends Key<At<T, K1>>, K3 extends Key<At<At<T, K1>, K2>>>(
    k1: K1,
    k2: K2,
    k3: K3,
  ): BatchRef;
  ref(...path: (string | number)[]): BatchRef {
    return new BatchRef(this.key, path);
  }
}

/**
 * Builds a batch with typed references:
 * ```ts
 * const b = new BatchBuilder();
 * const user = b.add<{ UF_DEPARTMENT: number[] }>('user.current');
 * b.add('department.get', { ID: user.ref('UF_DEPARTMENT', 0) });
 * const res = await client.batch(b);
 * ```
 */
export class BatchBuilder {
  private readonly cmds: Record<string, BatchCommand> = {};
  private n = 0;

  /**
   * Adds a command. @param key optional command key (default `c<N>`)
   * @throws BatchError for a nested `batch` or a duplicate key
   */
  add<T = unknown>(method: string, params?: Record<string, unknown> | unknown[], key?: string): BatchHandle<T> {
    const k = key ?? `c${this.n}`;
    this.n++;
    if (k in this.cmds) throw batchError(`duplicate batch command key "${k}"`, 'ERROR_BATCH_DUPLICATE_KEY');
    if (method.toLowerCase() === 'batch') throw nestedError();
    this.cmds[k] = params === undefined ? { method } : { method, params };
    return new BatchHandle<T>(k);
  }

  /** Number of commands. */
  get size(): number {
    return Object.keys(this.cmds).length;
  }

  /** The commands by key. */
  commands(): Record<string, BatchCommand> {
    return { ...this.cmds };
  }
}

function batchError(description: string, code = 'ERROR_BATCH'): BatchError {
  return new BatchError({ code, status: 0, method: 'batch', dialect: 'system', description });
}

function nestedError(): BatchError {
  return new BatchError({
    code: 'ERROR_BATCH_METHOD_NOT_ALLOWED',
    status: 405,
    method: 'batch',
    dialect: 'system',
    description: 'a batch cannot contain another batch (refused before sending)',
    hint: 'Flatten the inner batch into the outer command list',
  });
}

/** Normalises the three accepted inputs into ordered `[key, command]` pairs. @throws BatchError for nested batch */
export function normaliseCommands(
  input: BatchCommand[] | Record<string, BatchCommand> | BatchBuilder,
): Array<[string, BatchCommand]> {
  const pairs: Array<[string, BatchCommand]> =
    input instanceof BatchBuilder
      ? Object.entries(input.commands())
      : Array.isArray(input)
        ? input.map((c, i) => [String(i), c])
        : Object.entries(input);
  for (const [k, c] of pairs) {
    if (!c || typeof c.method !== 'string' || !c.method)
      throw batchError(`batch command "${k}" has no method`, 'ERROR_ARGUMENT');
    if (c.method.toLowerCase() === 'batch') throw nestedError();
    if (!/^[A-Za-z0-9_.-]+$/.test(k))
      throw batchError(`batch command key "${k}" must use letters, digits, _ . - only`, 'ERROR_ARGUMENT');
  }
  return pairs;
}

/** All `$result` references inside params. */
export function refsOf(v: unknown, out: BatchRef[] = []): BatchRef[] {
  if (v instanceof BatchRef) out.push(v);
  else if (Array.isArray(v)) for (const x of v) refsOf(x, out);
  else if (v && typeof v === 'object' && !(v instanceof Date)) for (const x of Object.values(v)) refsOf(x, out);
  return out;
}

/** Replaces references to already known results by their values (refs across chunks). */
export function resolveRefs(v: unknown, known: Record<string, unknown>): unknown {
  if (v instanceof BatchRef) {
    if (!(v.key in known)) return v;
    let cur: any = known[v.key];
    for (const p of v.path) cur = cur == null ? undefined : cur[p];
    return cur === undefined ? null : cur;
  }
  if (Array.isArray(v)) return v.map((x) => resolveRefs(x, known));
  if (v && typeof v === 'object' && !(v instanceof Date)) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) o[k] = resolveRefs(x, known);
    return o;
  }
  return v;
}

/** Encodes one command as the `cmd` string `method?query`. */
export function encodeCommand(c: BatchCommand): string {
  const qs = c.params === undefined ? '' : encodeParams(c.params);
  return qs ? `${c.method}?${qs}` : c.method;
}

/** Splits commands into chunks of ≤ 50; returns whether any chunk references a command of an earlier chunk. */
export function chunkCommands(pairs: Array<[string, BatchCommand]>): {
  chunks: Array<Array<[string, BatchCommand]>>;
  crossRefs: boolean;
} {
  const chunks: Array<Array<[string, BatchCommand]>> = [];
  for (let i = 0; i < pairs.length; i += BATCH_LIMIT) chunks.push(pairs.slice(i, i + BATCH_LIMIT));
  let crossRefs = false;
  const seen = new Set<string>();
  const chunkOf = new Map<string, number>();
  chunks.forEach((ch, i) => {
    for (const [k] of ch) chunkOf.set(k, i);
  });
  chunks.forEach((ch, i) => {
    for (const [k, c] of ch) {
      for (const r of refsOf(c.params)) {
        const target = chunkOf.get(r.key);
        if (target === undefined) throw batchError(`command "${k}" references unknown command "${r.key}"`);
        if (target > i || (target === i && !seen.has(r.key)))
          throw batchError(`command "${k}" references "${r.key}", which runs after it`);
        if (target < i) crossRefs = true;
      }
      seen.add(k);
    }
  });
  return { chunks, crossRefs };
}

const asMap = (v: unknown): Record<string, any> =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, any>) : {};

/** Parsed answer of one batch request. */
export interface BatchChunkAnswer {
  results: Record<string, unknown>;
  errors: Record<string, B24Error>;
  totals: Record<string, number>;
  nexts: Record<string, number>;
  times: Record<string, ResponseTime>;
}

/**
 * Reads a batch answer's `result` block. Empty sections may be `[]` (PHP); list-shaped `result` (array input)
 * is mapped to the keys in order.
 */
export function parseBatchAnswer(
  result: unknown,
  keys: string[],
  methods: Record<string, string>,
  authKind?: 'webhook' | 'oauth',
  scopeOf?: (method: string) => string | undefined,
): BatchChunkAnswer {
  const r = asMap(result);
  const byKey = (section: unknown): Record<string, any> => {
    if (Array.isArray(section)) {
      const o: Record<string, any> = {};
      section.forEach((v, i) => {
        if (keys[i] !== undefined) o[keys[i]!] = v;
      });
      return o;
    }
    return asMap(section);
  };
  const res = byKey(r.result);
  const err = byKey(r.result_error);
  const out: BatchChunkAnswer = { results: {}, errors: {}, totals: {}, nexts: {}, times: {} };
  for (const k of keys) {
    if (k in err && err[k] !== undefined && err[k] !== null) {
      const e = err[k];
      const code = typeof e === 'object' ? String(e.error ?? '') : String(e);
      const desc = typeof e === 'object' ? String(e.error_description ?? '') : '';
      const status = code === 'OPERATION_TIME_LIMIT' ? 429 : code === 'ERROR_BATCH_METHOD_NOT_ALLOWED' ? 405 : 200;
      const scope = scopeOf?.(methods[k] ?? '');
      out.errors[k] = errorFromCode(status, code, desc, {
        method: methods[k] ?? '',
        ...(authKind ? { authKind } : {}),
        ...(scope ? { scope } : {}),
      });
    } else if (k in res) out.results[k] = res[k];
  }
  for (const [k, v] of Object.entries(byKey(r.result_total)))
    if (v !== null && v !== undefined) out.totals[k] = Number(v);
  for (const [k, v] of Object.entries(byKey(r.result_next)))
    if (v !== null && v !== undefined) out.nexts[k] = Number(v);
  for (const [k, v] of Object.entries(byKey(r.result_time))) if (v && typeof v === 'object') out.times[k] = v;
  return out;
}

/** Assembles the public {@link BatchResult}. */
export function makeBatchResult(keys: string[], parts: BatchChunkAnswer[], requests: number): BatchResult {
  const merged: BatchChunkAnswer = { results: {}, errors: {}, totals: {}, nexts: {}, times: {} };
  for (const p of parts) {
    Object.assign(merged.results, p.results);
    Object.assign(merged.errors, p.errors);
    Object.assign(merged.totals, p.totals);
    Object.assign(merged.nexts, p.nexts);
    Object.assign(merged.times, p.times);
  }
  return {
    keys,
    ...merged,
    requests,
    get<T>(key: string): T {
      if (key in merged.errors) throw merged.errors[key];
      if (!(key in merged.results)) throw batchError(`batch command "${key}" did not run (halted or unknown key)`);
      return merged.results[key] as T;
    },
    list() {
      return keys.map((k) => merged.results[k]);
    },
  };
}

/**
 * Tells the limiter the response times of an answer (the request's, and each batch sub-command's `result_time`), and
 * the operating-budget refusals (`OPERATION_TIME_LIMIT` in `result_error`) of a batch's sub-commands.
 * @param spec the request: its method, and for a batch its sub-command methods by key
 * @returns how many sub-commands were refused with OPERATION_TIME_LIMIT
 */
export function observeAnswer(
  limiter: PortalLimiter,
  spec: { method: string; batchMethods?: Record<string, string> },
  body: any,
): number {
  limiter.observe(spec.method, body.time);
  let refused = 0;
  if (spec.batchMethods && body.result && typeof body.result === 'object') {
    const times = body.result.result_time;
    if (times && typeof times === 'object' && !Array.isArray(times)) {
      for (const [k, t] of Object.entries(times)) {
        const m = spec.batchMethods[k];
        if (m && t && typeof t === 'object') limiter.observe(m, t as ResponseTime);
      }
    }
    const errs = body.result.result_error;
    if (errs && typeof errs === 'object' && !Array.isArray(errs)) {
      for (const [k, e] of Object.entries(errs)) {
        if ((e as any)?.error === 'OPERATION_TIME_LIMIT') {
          refused++;
          const m = spec.batchMethods[k];
          if (m) limiter.onOperationLimit(m);
        }
      }
    }
  }
  return refused;
}
