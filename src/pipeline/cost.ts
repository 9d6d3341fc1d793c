/**
 * Cost estimate of a run before it happens: REST calls, HTTP requests after batching, wall time under the portal's
 * request rate, and operating-budget risk (480 s of server time per method per 10 minutes).
 * Source: Bitrix24 REST limits (rest-protocol.md; apidocs "Limits on requests").
 */

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
}

/**
 * Estimates the cost of a pipeline, or of its compiled program (src/pipeline/compile: the program carries this
 * estimate with assumed item counts as `cost`; plans re-estimate it with the measured counts).
 * @param items measured item counts per step (list sizes, foreach lengths); missing ones default to `defaultItems`
 */
export function estimateCost(
  source: LoadedPipeline | Program,
  catalog: CatalogView,
  opts: { plan?: string; items?: Record<string, number>; defaultItems?: number; batching?: boolean } = {},
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
    if (m) serverByMethod.set(m.name, (serverByMethod.get(m.name) ?? 0) + calls * SERVER_S[m.risk]);
  }
  const groupedReads = singleReads ? (batching ? Math.ceil(singleReads / BATCH_SIZE) : singleReads) : 0;
  const calls = byStep.reduce((a, s) => a + s.calls, 0);
  const requests = byStep.reduce((a, s) => a + s.requests, 0) + groupedReads;
  const requestsUnbatched = calls;
  const seconds = Math.max(0, requests - rate.burst) / rate.rate + requests * 0.05;
  const notes: string[] = [];
  let worst = 0;
  for (const [method, sec] of serverByMethod) {
    const share = sec / OPERATING_BUDGET_S;
    if (share > worst) worst = share;
    if (share >= 0.5) notes.push(`${method} ≈ ${Math.round(sec)} s of its ${OPERATING_BUDGET_S} s operating budget`);
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
  };
}
