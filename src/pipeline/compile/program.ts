/**
 * The compile step: a loaded pipeline becomes one {@link Program} — steps with their effective catalog entries and
 * kinds, the execution order, recipes and sub-pipelines expanded into sub-programs, the batch groups (packed reads,
 * fused write pairs, fan-outs), the confirmations a full run needs, and the static cost estimate. `check`, `plan`,
 * `run`, `apply`, `graph` and the cost estimate all read the same program; the runner only adds what depends on the
 * run's state (results, failures, mode, confirmations given).
 */
import { readFileSync } from 'node:fs';
import type { CatalogView } from '../catalog.js';
import { type CostEstimate, estimateCost } from '../cost.js';
import { expandSteps, MAX_NESTING, recipePipeline, subPipelinePath } from '../expand.js';
import { buildGraph, type StepGraph } from '../graph.js';
import { type LoadedPipeline, loadPipelineText, type Step } from '../load.js';
import { type StepMethod, stepMethod } from '../modes.js';
import { BATCH_SIZE, canLeadReads, readGroups } from './batches.js';
import { type FusedPair, fusedPartner } from './fusion.js';

/** How a step runs; each kind has one runner (src/pipeline/run/steps/kinds.ts). */
export type StepKind = 'subPipeline' | 'readAll' | 'read' | 'method';

/** One step of a program. */
export interface CompiledStep {
  id: string;
  step: Step;
  /** Effective catalog entry (for `batch`: the worst risk of its commands); undefined for use/pipeline/unknown. */
  method?: StepMethod;
  kind: StepKind;
  /** Ids of the steps it depends on (`needs` ∪ `steps.X` references). */
  deps: string[];
  /** Runs only as another step's `on_error` handler. */
  handler: boolean;
  /** Commands per request for its calls: 50 in batches, 1 when the method cannot sit in a batch. */
  chunk: number;
  /** The recipe (`use:`) or sub-pipeline (`pipeline:`) compiled, when it could be loaded statically. */
  sub?: Program;
}

/** Calls sent together: packed single reads, a fused write pair, or one step's fan-out in chunks. */
export interface BatchGroup {
  id: string;
  kind: 'reads' | 'fused' | 'fanOut';
  steps: string[];
  /** Commands per batch request (fused pairs: 25 pairs = 50 commands). */
  perRequest: number;
}

/** A write step a full run needs a confirmation for (recipes and sub-pipelines included, ids `outer.inner`). */
export interface Confirmation {
  step: string;
  method: StepMethod;
  risk: 'write' | 'destructive';
  /** `--confirm-write`, plus `--confirm-destructive` for destructive steps. */
  flags: ('confirm-write' | 'confirm-destructive')[];
  /** `confirm: true`: only a person may confirm it (an unattended trigger never can). */
  person: boolean;
}

/** Options of {@link compile}. */
export interface CompileOptions {
  /** Pack reads and fan-outs into batch requests (default true); false: every call alone, nothing fused. */
  batching?: boolean;
  /** Portal plan for the cost estimate's request rate. */
  plan?: string;
  /** Assumed rows per list / foreach for the cost estimate (default 100). */
  defaultItems?: number;
}

/** A compiled pipeline. */
export interface Program {
  pipeline: LoadedPipeline;
  catalog: CatalogView;
  graph: StepGraph;
  batching: boolean;
  /** Steps in declaration order. */
  steps: CompiledStep[];
  /** Execution order without the `on_error` handlers (reads first when free to choose). */
  order: string[];
  batchGroups: BatchGroup[];
  /** Candidate fused pairs, one per first step. */
  fused: FusedPair[];
  confirmations: Confirmation[];
  /** Static cost estimate (item counts assumed). */
  cost: CostEstimate;
  /** Lookup by step id. */
  step(id: string): CompiledStep | undefined;
  /** The packed-reads group a step belongs to. */
  readGroupOf(id: string): BatchGroup | undefined;
  /** The fused pair whose first step is `id`. */
  fusedFrom(id: string): FusedPair | undefined;
}

/**
 * Compiles a loaded pipeline. Never throws for a bad pipeline (the checker reports problems): unknown methods stay
 * without `method`, recipes or sub-pipelines that cannot be loaded stay without `sub` (the run fails on them).
 */
export function compile(p: LoadedPipeline, catalog: CatalogView, opts: CompileOptions = {}, depth = 0): Program {
  const batching = opts.batching !== false;
  const methodOf = (s: Step) => stepMethod(s, catalog);
  const graph = buildGraph(p, (s) => {
    const m = methodOf(s);
    return !!m && m.risk !== 'read';
  });
  const byId = new Map(p.pipeline.steps.map((s) => [s.id, s] as const));
  const order = graph.order.filter((id) => !graph.handlers.has(id));
  const steps: CompiledStep[] = p.pipeline.steps.map((s) => {
    const m = methodOf(s);
    const kind: StepKind =
      s.use || s.pipeline
        ? 'subPipeline'
        : m?.risk === 'read' && s.all && m.list
          ? 'readAll'
          : canLeadReads(s, m)
            ? 'read'
            : 'method';
    return {
      id: s.id,
      step: s,
      ...(m ? { method: m } : {}),
      kind,
      deps: [...(graph.deps.get(s.id) ?? [])],
      handler: graph.handlers.has(s.id),
      chunk: batching && m?.batchable !== false ? BATCH_SIZE : 1,
      ...(kind === 'subPipeline' && depth < MAX_NESTING ? subProgram(p, s, catalog, opts, depth) : {}),
    };
  });
  const batchGroups: BatchGroup[] = [];
  const fused: FusedPair[] = [];
  if (batching) {
    for (const g of readGroups(order, byId, methodOf, graph))
      batchGroups.push({ id: `reads${batchGroups.length + 1}`, kind: 'reads', steps: g, perRequest: BATCH_SIZE });
    for (const id of order) {
      const pair = fusedPartner(byId.get(id)!, order, byId, methodOf, graph);
      if (!pair) continue;
      fused.push(pair);
      batchGroups.push({
        id: `fused${fused.length}`,
        kind: 'fused',
        steps: [pair.first, pair.second],
        perRequest: BATCH_SIZE,
      });
    }
    for (const c of steps)
      if (c.step.foreach && c.method && c.chunk > 1 && !fused.some((f) => f.first === c.id || f.second === c.id))
        batchGroups.push({ id: `fanout_${c.id}`, kind: 'fanOut', steps: [c.id], perRequest: c.chunk });
  }
  const confirmations: Confirmation[] = [];
  for (const { id, step: s, method: m } of expandSteps(p, catalog)) {
    if (!m || m.risk === 'read') continue;
    confirmations.push({
      step: id,
      method: m,
      risk: m.risk,
      flags: m.risk === 'destructive' ? ['confirm-write', 'confirm-destructive'] : ['confirm-write'],
      person: !!s.confirm,
    });
  }
  const byStep = new Map(steps.map((c) => [c.id, c] as const));
  const groupOf = new Map<string, BatchGroup>();
  for (const g of batchGroups) if (g.kind === 'reads') for (const id of g.steps) groupOf.set(id, g);
  const fusedOf = new Map(fused.map((f) => [f.first, f] as const));
  const program: Program = {
    pipeline: p,
    catalog,
    graph,
    batching,
    steps,
    order,
    batchGroups,
    fused,
    confirmations,
    cost: undefined as unknown as CostEstimate,
    step: (id) => byStep.get(id),
    readGroupOf: (id) => groupOf.get(id),
    fusedFrom: (id) => fusedOf.get(id),
  };
  program.cost = estimateCost(program, catalog, {
    batching,
    ...(opts.plan ? { plan: opts.plan } : {}),
    ...(opts.defaultItems !== undefined ? { defaultItems: opts.defaultItems } : {}),
  });
  return program;
}

/** The recipe or sub-pipeline of a `use:`/`pipeline:` step, compiled; empty when it cannot be loaded statically. */
function subProgram(
  p: LoadedPipeline,
  s: Step,
  catalog: CatalogView,
  opts: CompileOptions,
  depth: number,
): { sub?: Program } {
  try {
    let sub: LoadedPipeline | undefined;
    if (s.use) {
      const r = catalog.recipe?.(s.use);
      sub = r ? recipePipeline(r) : undefined;
    } else {
      // loaded as loadPipelineFile would: the absolute path is both the display name and the path
      const path = subPipelinePath(p, s);
      sub = loadPipelineText(readFileSync(path, 'utf8'), path, path);
    }
    return sub ? { sub: compile(sub, catalog, opts, depth + 1) } : {};
  } catch {
    return {};
  }
}
