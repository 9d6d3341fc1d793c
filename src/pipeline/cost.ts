/**
 * Cost estimate of a run before it happens: REST calls, HTTP requests after batching, wall time under the portal's
 * request rate, and operating-budget risk (480 s of server time per method per 10 minutes).
 * Source: Bitrix24 REST limits (rest-protocol.md; apidocs "Limits on requests").
 */

import type { OperatingOutlook } from '../bitrix/client.js';
import type { CatalogView } from './catalog.js';
import { BATCH_SIZE } from './compile/batches.js';
import type { Program } from './compile/program.js';
import type { LoadedPipeline } from './load.js';

/** Request rate and burst per plan (leaky bucket). */
export const PLAN_RATES: Record<string, { rate: number; burst: number }> = {
  standard: { rate: 2, burst: 50 },
  enterprise: { rate: 5, burst: 250 },
  unlimited: { rate: 1000, burst: 100_000 },
};

/** Rows per list page; pages and calls per batch request: {@link BATCH_SIZE}. */
const PAGE = 50;
/** Assumed server time per call (s) for the operating budget. */
const SERVER_S = { read: 0.05, write: 0.15, destructive: 0.15 };
const OPERATING_BUDGET_S = 480;

/** Per-step and total cost. `seconds` = estimated wall time; `operatingRisk` from the busiest method. */
export interface CostEstimate {
  calls: number;
  requests: number;
  requestsUnbatched: number;
  seconds: number;
  operatingRisk: 'low' | 'medium' | 'high';
  byStep: { step: string; method?: string; items: number; calls: number; requests: number }[];
  notes: string[];
  /** true when item counts are assumptions (static check), false when measured by a plan. */
  assumed: boolean;
  /**
   * Real seconds the run is expected to wait for methods' operating budgets (included in `seconds`): 0 when every
   * method fits what is left of its budget; from the client's {@link OperatingOutlook} (spent sums, reset times,
   * measured cost per call) when one was given.
   */
  operatingWaitS?: number;
}

/**
 * Portal seconds a method waits for its operating budget to spend `need` more seconds: the budget `limit` per
 * `windowS` is a sliding window, so what was spent returns `windowS` after it was spent. Of the `spent` seconds known
 * now, the oldest return at `resetAt` and the newest a window from now; without the portal's per-minute detail they
 * are taken as spread evenly between the two (ten slices). What the run spends returns a window after it spends it.
 * Source: settings/performance/limits (`operating` sums per method over 10 minutes, `operating_reset_at`).
 */
export function operatingWait(
  need: number,
  o: { limit: number; windowS: number; now: number; spent: number; resetAt: number },
): number {
  if (o.limit <= 0 || need <= 0) return 0;
  // what is in the window and when it leaves it (portal s)
  const first = Math.max(o.now, o.resetAt);
  const last = Math.max(first, o.now + o.windowS);
  const SLICES = 10;
  const window: { at: number; s: number }[] =
    o.spent > 0
      ? Array.from({ length: SLICES }, (_, i) => ({
          at: first + ((last - first) * i) / (SLICES - 1),
          s: o.spent / SLICES,
        }))
      : [];
  let used = o.spent;
  let t = o.now;
  let left = need;
  // a call is never split: at least a small step per round, and a bound on rounds for absurd inputs
  for (let round = 0; left > 1e-9 && round < 100_000; round++) {
    const free = o.limit - used;
    if (free > 1e-9) {
      const spend = Math.min(free, left);
      left -= spend;
      used += spend;
      window.push({ at: t + o.windowS, s: spend });
      continue;
    }
    window.sort((a, b) => a.at - b.at);
    const next = window.shift();
    if (!next) break;
    t = Math.max(t, next.at);
    used -= next.s;
  }
  return t - o.now;
}

/**
 * Estimates the cost of a pipeline, or of its compiled program (src/pipeline/compile: the program carries this
 * estimate with assumed item counts as `cost`; plans re-estimate it with the measured counts).
 * @param items measured item counts per step (list sizes, foreach lengths); missing ones default to `defaultItems`
 */
export function estimateCost(
  source: LoadedPipeline | Program,
  catalog: CatalogView,
  opts: {
    plan?: string;
    items?: Record<string, number>;
    defaultItems?: number;
    batching?: boolean;
    /** The client's view of the operating budget (spent sums, measured costs): the estimate adds the waits. */
    operating?: OperatingOutlook;
  } = {},
): CostEstimate {
  const p = 'graph' in source ? source.pipeline : source;
  const rate = PLAN_RATES[opts.plan ?? 'standard'] ?? PLAN_RATES.standard!;
  const batching = opts.batching !== false;
  const def = opts.defaultItems ?? 100;
  const assumed = !opts.items;
  const byStep: CostEstimate['byStep'] = [];
  const serverByMethod = new Map<string, number>();
  let singleReads = 0;
  for (const s of p.pipeline.steps) {
    const m = s.method ? catalog.method(s.method) : undefined;
    const n = opts.items?.[s.id] ?? (s.foreach || s.all ? def : 1);
    let calls = 1;
    let requests = 1;
    if (s.all && m?.list) {
      calls = Math.max(1, Math.ceil(n / PAGE));
      requests = batching ? Math.max(1, Math.ceil(calls / BATCH_SIZE)) : calls;
    } else if (s.foreach) {
      calls = n;
      requests = batching && m?.batchable !== false ? Math.ceil(n / BATCH_SIZE) : n;
    } else if (m?.risk === 'read' && !s.if) {
      singleReads++;
      requests = 0; // grouped below
    }
    byStep.push({ step: s.id, method: m?.name ?? s.method, items: n, calls, requests });
    const perCall = (m && opts.operating?.methods[m.name]?.avgCost) || (m ? SERVER_S[m.risk] : 0);
    if (m) serverByMethod.set(m.name, (serverByMethod.get(m.name) ?? 0) + calls * perCall);
  }
  const groupedReads = singleReads ? (batching ? Math.ceil(singleReads / BATCH_SIZE) : singleReads) : 0;
  const calls = byStep.reduce((a, s) => a + s.calls, 0);
  const requests = byStep.reduce((a, s) => a + s.requests, 0) + groupedReads;
  const requestsUnbatched = calls;
  const notes: string[] = [];
  // the methods' waits for their operating budgets, one after the other (steps run in order), in real seconds
  const op = opts.operating;
  let waitPortalS = 0;
  if (op)
    for (const [method, need] of serverByMethod) {
      const known = op.methods[method];
      const w = operatingWait(need, {
        limit: op.limit,
        windowS: op.windowS,
        now: op.now,
        spent: known?.operating ?? 0,
        resetAt: known?.resetAt ?? op.now,
      });
      if (w > 0) {
        waitPortalS += w;
        notes.push(
          `${method}: ≈ ${Math.round(need)} s of server time${known ? ` with ${Math.round(known.operating)} s of its ${op.limit} s budget spent` : ''} — waits ≈ ${Math.round(w / Math.max(op.factor, 1e-9))} s for the budget`,
        );
      }
    }
  const operatingWaitS = op ? waitPortalS / Math.max(op.factor, 1e-9) : 0;
  const seconds = Math.max(0, requests - rate.burst) / rate.rate + requests * 0.05 + operatingWaitS;
  const budget = op?.limit || OPERATING_BUDGET_S;
  let worst = 0;
  for (const [method, sec] of serverByMethod) {
    const share = (sec + (op?.methods[method]?.operating ?? 0)) / budget;
    if (share > worst) worst = share;
    if (share >= 0.5 && !notes.some((n) => n.startsWith(`${method}:`)))
      notes.push(`${method} ≈ ${Math.round(sec)} s of its ${budget} s operating budget`);
  }
  return {
    calls,
    requests,
    requestsUnbatched,
    seconds: Math.round(seconds * 10) / 10,
    operatingRisk: worst >= 0.9 ? 'high' : worst >= 0.5 ? 'medium' : 'low',
    byStep,
    notes,
    assumed,
    ...(op ? { operatingWaitS: Math.round(operatingWaitS * 10) / 10 } : {}),
  };
}
