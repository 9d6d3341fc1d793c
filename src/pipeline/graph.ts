/**
 * The step graph: edges come from `needs` and from every `steps.<id>` reference inside a step's expressions.
 */
import { collectExpressions, expressionBody, isExpression } from './expr.js';
import type { DocPath, LoadedPipeline, Step } from './load.js';

/** One reference to another step found in an expression. */
export interface StepRef {
  id: string;
  /** Document path of the field holding the expression. */
  path: DocPath;
  /** Offset of the reference inside that field's string. */
  offset: number;
}

const REF_RE = /\bsteps\s*(?:\.\s*([A-Za-z_][A-Za-z0-9_]*)|\[\s*["']([^"']+)["']\s*\])/g;

/** Expressions (with document paths) of a step: params, if, foreach, idempotency_key, outputs, with. */
export function stepExpressions(
  step: Step,
  index: number,
): { expr: string; path: DocPath; offset: number; field: string }[] {
  const out: { expr: string; path: DocPath; offset: number; field: string }[] = [];
  const base: (string | number)[] = ['steps', index];
  for (const field of ['params', 'with', 'outputs', 'idempotency_key'] as const) {
    const v = (step as Record<string, unknown>)[field];
    if (v === undefined) continue;
    for (const e of collectExpressions(v, [...base, field]))
      out.push({ expr: e.expr, path: e.path, offset: e.offset, field });
  }
  for (const field of ['if', 'foreach'] as const) {
    const v = step[field];
    if (isExpression(v)) {
      const b = expressionBody(v);
      out.push({ expr: b.expr, path: [...base, field], offset: b.offset, field });
    }
  }
  return out;
}

/** `steps.<id>` references inside an expression text, with their offsets. */
export function refsInExpression(expr: string): { id: string; offset: number }[] {
  const out: { id: string; offset: number }[] = [];
  for (const m of expr.matchAll(REF_RE)) {
    const id = m[1] ?? m[2] ?? '';
    const idx = (m.index ?? 0) + m[0].lastIndexOf(id);
    out.push({ id, offset: idx });
  }
  return out;
}

/** Dependency graph of a pipeline. */
export interface StepGraph {
  ids: string[];
  index: Map<string, number>;
  /** step id → ids it depends on (needs ∪ references), unknown ids excluded */
  deps: Map<string, Set<string>>;
  refs: Map<string, StepRef[]>;
  /** Steps only run as `on_error` handlers. */
  handlers: Set<string>;
  /** A cycle as a list of ids (first = last), or undefined. */
  cycle?: string[];
  /** Topological order (reads before writes when free to choose); complete only without a cycle. */
  order: string[];
}

/** Builds the graph. `isWrite(step)` helps the order run reads first. */
export function buildGraph(p: LoadedPipeline, isWrite: (s: Step) => boolean = () => false): StepGraph {
  const steps = p.pipeline.steps;
  const ids = steps.map((s) => s.id);
  const index = new Map(ids.map((id, i) => [id, i] as const));
  const deps = new Map<string, Set<string>>();
  const refs = new Map<string, StepRef[]>();
  const handlers = new Set<string>();
  steps.forEach((s, i) => {
    const d = new Set<string>();
    for (const n of s.needs ?? []) if (index.has(n)) d.add(n);
    const r: StepRef[] = [];
    for (const e of stepExpressions(s, i))
      for (const ref of refsInExpression(e.expr)) {
        r.push({ id: ref.id, path: e.path, offset: e.offset + ref.offset });
        if (index.has(ref.id) && ref.id !== s.id) d.add(ref.id);
      }
    refs.set(s.id, r);
    deps.set(s.id, d);
    if (s.on_error && s.on_error !== 'fail' && s.on_error !== 'continue' && index.has(s.on_error))
      handlers.add(s.on_error);
  });
  // cycle detection (DFS, colours)
  const colour = new Map<string, 0 | 1 | 2>();
  const stack: string[] = [];
  let cycle: string[] | undefined;
  const visit = (id: string) => {
    if (cycle) return;
    colour.set(id, 1);
    stack.push(id);
    for (const d of deps.get(id) ?? []) {
      const c = colour.get(d) ?? 0;
      if (c === 1) {
        cycle = [...stack.slice(stack.indexOf(d)), d];
        return;
      }
      if (c === 0) visit(d);
      if (cycle) return;
    }
    stack.pop();
    colour.set(id, 2);
  };
  for (const id of ids) if (!colour.get(id)) visit(id);
  // self references count as a cycle too
  if (!cycle)
    for (const s of steps)
      if ((refs.get(s.id) ?? []).some((r) => r.id === s.id) || (s.needs ?? []).includes(s.id)) cycle = [s.id, s.id];
  // Kahn with preference: reads first, then declaration order
  const order: string[] = [];
  if (!cycle) {
    const remaining = new Map(ids.map((id) => [id, new Set(deps.get(id))] as const));
    while (remaining.size) {
      const ready = [...remaining.entries()].filter(([, d]) => d.size === 0).map(([id]) => id);
      if (!ready.length) break;
      ready.sort((a, b) => {
        const wa = isWrite(steps[index.get(a)!]!) ? 1 : 0;
        const wb = isWrite(steps[index.get(b)!]!) ? 1 : 0;
        return wa - wb || index.get(a)! - index.get(b)!;
      });
      const next = ready[0]!;
      order.push(next);
      remaining.delete(next);
      for (const d of remaining.values()) d.delete(next);
    }
  }
  return { ids, index, deps, refs, handlers, cycle, order };
}

/** All transitive dependencies of `id`. */
export function ancestors(g: StepGraph, id: string): Set<string> {
  const out = new Set<string>();
  const walk = (x: string) => {
    for (const d of g.deps.get(x) ?? []) if (!out.has(d)) out.add(d), walk(d);
  };
  walk(id);
  return out;
}
