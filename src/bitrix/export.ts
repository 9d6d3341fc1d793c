/**
 * Fast export: keyset pages chained 50 per batch (`>ID = $result[prev][49][ID]`, `start=-1`, no COUNT), disjoint ID
 * windows run in parallel inside the portal's limiter. One request moves up to 2,500 rows.
 *
 * Algorithm:
 * 1. probe (1 request): the first page in ID order (full select) and the highest id;
 * 2. the rest of the range is cut into windows `(lo, hi]` sized from the observed id density to hold ~2,500 rows
 *    (one batch); the last window is open-ended, so rows added during the export are still picked up;
 * 3. each window runs one batch of chained pages; the chain stops at the first short page (rows of later commands,
 *    whose `$result` reference could not resolve, are ignored); a window whose 50 pages were all full continues from
 *    its last id in another batch.
 * Every row is yielded once: windows are disjoint and within a window ids must increase.
 *
 * Sources: settings/performance/huge-data.md, settings/how-to-call-rest-api/batch.md, settings/performance/limits.md.
 */
import { BatchRef } from './batch.js';
import type { B24Client } from './client.js';
import {
  detectIdRow,
  extractRows,
  type KeysetShape,
  keysetParams,
  type ListParams,
  listShape,
  PAGE_SIZE,
  rowId,
} from './list.js';

/** Pages chained in one batch. */
export const CHAIN_PAGES = 50;

/** Progress of an export. */
export interface ExportProgress {
  rows: number;
  /** Requests this export sent. */
  requests: number;
  /** Highest id known at the start (for a progress bar), when the ids are numeric. */
  maxId?: number;
  minId?: number;
  /** Ids covered so far (sum of finished window spans), for a progress estimate. */
  covered?: number;
}

/** Options of {@link B24Client.exportAll}. */
export interface ExportOptions {
  signal?: AbortSignal;
  onProgress?: (p: ExportProgress) => void;
  /** Windows in flight at once (default 4; the limiter still caps the portal's concurrency). */
  parallel?: number;
  wrapper?: string | null;
  idParam?: string;
}

interface Window {
  lo: number; // exclusive
  hi: number; // inclusive; Infinity = open
}

/** A bounded async queue of pages, so a slow consumer holds the producers back. */
class PageQueue<T> {
  private readonly items: T[][] = [];
  private waiters: Array<() => void> = [];
  private spaceWaiters: Array<() => void> = [];
  done = false;
  error: unknown;
  constructor(private readonly highWater: number) {}
  async push(page: T[]): Promise<void> {
    while (this.items.length >= this.highWater && !this.done) await new Promise<void>((r) => this.spaceWaiters.push(r));
    this.items.push(page);
    this.wake();
  }
  finish(err?: unknown): void {
    this.done = true;
    if (err !== undefined && this.error === undefined) this.error = err;
    this.wake();
    for (const w of this.spaceWaiters.splice(0)) w();
  }
  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
  async next(): Promise<T[] | undefined> {
    for (;;) {
      const p = this.items.shift();
      if (p) {
        this.spaceWaiters.shift()?.();
        return p;
      }
      if (this.done) return undefined;
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }
}

/**
 * Exports every row of a list method (see module doc). Ids must be numeric for the parallel windows; otherwise the
 * export falls back to one sequential chain.
 * @throws B24Error from the portal (a failed chain command fails the export — nothing is skipped silently)
 */
export async function* exportAll<T>(
  client: B24Client,
  method: string,
  params: ListParams,
  opts: ExportOptions,
): AsyncGenerator<T[]> {
  const shape = await listShape(method, opts);
  const idParam = shape.idParam;
  let wrapper: string | null = shape.wrapper ?? null;
  const signal = opts.signal;
  let requests = 0;
  let rows = 0;

  // 1. probe: first page (all selected fields) + highest id
  const probe = await client.batch(
    {
      first: { method, params: keysetParams(params, shape, undefined, 'ASC') },
      last: {
        method,
        params: keysetParams(
          { ...params, [shape.selectParam]: [idParam], select: [idParam] },
          shape,
          undefined,
          'DESC',
        ),
      },
    },
    signal ? { signal } : {},
  );
  requests += probe.requests;
  const first = extractRows(probe.get('first'), wrapper);
  wrapper = first.wrapper;
  const lastPage = extractRows(probe.get('last'), wrapper);
  const idRow = first.rows.length ? detectIdRow(first.rows[0], idParam) : idParam;
  if (first.rows.length) {
    rows += first.rows.length;
    yield first.rows as T[];
    signal?.throwIfAborted();
  }
  const maxRaw = lastPage.rows.length ? rowId(lastPage.rows[0], idRow) : undefined;
  const firstLast = first.rows.length ? rowId(first.rows[first.rows.length - 1], idRow) : undefined;
  const firstId = first.rows.length ? rowId(first.rows[0], idRow) : undefined;
  const progress = (covered?: number) =>
    opts.onProgress?.({
      rows,
      requests,
      ...(typeof maxRaw === 'number' ? { maxId: maxRaw } : {}),
      ...(typeof firstId === 'number' ? { minId: firstId } : {}),
      ...(covered !== undefined ? { covered } : {}),
    });
  progress(typeof firstLast === 'number' && typeof firstId === 'number' ? firstLast - firstId + 1 : 0);
  if (first.rows.length < PAGE_SIZE) return;

  if (typeof firstLast !== 'number' || typeof maxRaw !== 'number' || typeof firstId !== 'number') {
    // Non-numeric ids: a single sequential chain.
    let after: number | string | undefined = firstLast;
    for (;;) {
      const r = await runChain(client, method, params, shape, idRow, wrapper, after, undefined, CHAIN_PAGES, signal);
      requests++;
      wrapper = r.wrapper;
      if (r.rows.length) {
        rows += r.rows.length;
        yield r.rows as T[];
      }
      progress();
      if (!r.full || r.lastId === undefined) return;
      after = r.lastId;
    }
  }

  // 2. windows sized from the observed density (rows per id)
  let densityRows = first.rows.length;
  let densitySpan = Math.max(1, firstLast - firstId + 1);
  const maxId = maxRaw;
  let cursor = firstLast;
  let covered = firstLast - firstId + 1;
  const retryQueue: Window[] = [];
  const target = CHAIN_PAGES * PAGE_SIZE;
  const nextWindow = (): Window | undefined => {
    const w = retryQueue.shift();
    if (w) return w;
    if (cursor === Number.POSITIVE_INFINITY) return undefined;
    const density = Math.min(1, densityRows / densitySpan);
    const span = Math.max(PAGE_SIZE, Math.floor(target / Math.max(density, 1e-6)));
    const lo = cursor;
    if (lo + span >= maxId) {
      cursor = Number.POSITIVE_INFINITY; // last window is open-ended
      return { lo, hi: Number.POSITIVE_INFINITY };
    }
    cursor = lo + span;
    return { lo, hi: lo + span };
  };

  const queue = new PageQueue<T>(Math.max(4, (opts.parallel ?? 4) * 2));
  let active = 0;
  let failed = false;
  const ac = new AbortController();
  const onAbort = () => ac.abort(signal?.reason);
  signal?.addEventListener('abort', onAbort, { once: true });

  const worker = async (): Promise<void> => {
    for (;;) {
      if (failed) return;
      const w = nextWindow();
      if (!w) return;
      active++;
      try {
        const expected =
          w.hi === Number.POSITIVE_INFINITY
            ? CHAIN_PAGES
            : Math.min(
                CHAIN_PAGES,
                Math.ceil(((w.hi - w.lo) * Math.min(1, densityRows / densitySpan)) / PAGE_SIZE) + 1,
              );
        const open = w.hi === Number.POSITIVE_INFINITY;
        const pages = open
          ? Math.min(CHAIN_PAGES, Math.ceil(((maxId - w.lo) * densityRows) / densitySpan / PAGE_SIZE) + 2)
          : expected;
        const r = await runChain(
          client,
          method,
          params,
          shape,
          idRow,
          wrapper,
          w.lo,
          open ? undefined : w.hi,
          Math.max(1, pages),
          ac.signal,
        );
        requests++;
        if (r.rows.length) {
          rows += r.rows.length;
          await queue.push(r.rows as T[]);
        }
        if (r.full && typeof r.lastId === 'number' && r.lastId < w.hi) {
          retryQueue.unshift({ lo: r.lastId, hi: w.hi });
          if (!open) {
            covered += r.lastId - w.lo;
            densityRows += r.rows.length;
            densitySpan += Math.max(1, r.lastId - w.lo);
          }
        } else if (!open) {
          covered += w.hi - w.lo;
          densityRows += r.rows.length;
          densitySpan += Math.max(1, w.hi - w.lo);
        } else covered = maxId - firstId + 1;
        progress(covered);
      } finally {
        active--;
      }
    }
  };

  const parallel = Math.max(1, opts.parallel ?? 4);
  const workers = Array.from({ length: parallel }, () =>
    worker().catch((err) => {
      failed = true;
      ac.abort(err);
      throw err;
    }),
  );
  void Promise.all(workers).then(
    () => queue.finish(),
    (err) => queue.finish(err),
  );
  try {
    for (;;) {
      signal?.throwIfAborted();
      const page = await queue.next();
      if (!page) break;
      yield page;
    }
    signal?.throwIfAborted();
    if (queue.error !== undefined) throw queue.error;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    if (!queue.done) {
      failed = true;
      ac.abort(new Error('export consumer stopped'));
      queue.finish();
    }
    void active;
  }
}

interface ChainResult {
  rows: unknown[];
  lastId: number | string | undefined;
  /** All pages were full: more rows may follow in the window. */
  full: boolean;
  wrapper: string | null;
}

/** Runs one batch of `pages` chained keyset pages after `lo` (exclusive) up to `hi` (inclusive, optional). */
async function runChain(
  client: B24Client,
  method: string,
  params: ListParams,
  shape: KeysetShape,
  idRow: string,
  wrapper: string | null,
  lo: number | string | undefined,
  hi: number | undefined,
  pages: number,
  signal: AbortSignal | undefined,
): Promise<ChainResult> {
  const cmds: Record<string, { method: string; params: Record<string, unknown> }> = {};
  const idParam = shape.idParam;
  const upper = hi === undefined ? {} : { [`<=${idParam}`]: hi };
  for (let i = 0; i < pages; i++) {
    const after: unknown =
      i === 0 ? lo : new BatchRef(`p${i - 1}`, wrapper ? [wrapper, PAGE_SIZE - 1, idRow] : [PAGE_SIZE - 1, idRow]);
    const p = keysetParams(params, shape, undefined);
    const f: Record<string, unknown> = { ...((p[shape.filterParam] as Record<string, unknown>) ?? {}), ...upper };
    if (after !== undefined) f[`>${idParam}`] = after;
    p[shape.filterParam] = f;
    cmds[`p${i}`] = { method, params: p };
  }
  const res = await client.batch(cmds, signal ? { signal } : {});
  const out: unknown[] = [];
  let last: number | string | undefined = lo;
  let full = true;
  let w = wrapper;
  for (let i = 0; i < pages; i++) {
    const key = `p${i}`;
    if (key in res.errors) throw res.errors[key];
    const page = extractRows(res.results[key], w);
    w = page.wrapper;
    for (const row of page.rows) {
      const id = rowId(row, idRow);
      if (id === undefined || (last !== undefined && !(id > last))) continue;
      if (hi !== undefined && typeof id === 'number' && id > hi) continue;
      last = id;
      out.push(row);
    }
    if (page.rows.length < PAGE_SIZE) {
      full = false;
      break;
    }
  }
  return { rows: out, lastId: last, full, wrapper: w };
}
