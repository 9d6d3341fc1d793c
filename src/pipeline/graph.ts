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
  const cycle = findCycle(steps, deps, refs);
  // Kahn's algorithm; among ready steps reads go first, then declaration order (two ordered queues)
  const order: string[] = [];
  if (!cycle) {
    const indeg = new Map<string, number>();
    const dependents = new Map<string, string[]>();
    for (const id of ids) {
      indeg.set(id, deps.get(id)!.size);
      for (const d of deps.get(id)!) dependents.set(d, [...(dependents.get(d) ?? []), id]);
    }
    const reads = new MinQueue();
    const writes = new MinQueue();
    const push = (id: string) => {
      const i = index.get(id)!;
      (isWrite(steps[i]!) ? writes : reads).push(i);
    };
    for (const id of ids) if (indeg.get(id) === 0) push(id);
    while (reads.size || writes.size) {
      const i = reads.size ? reads.pop() : writes.pop();
      const id = ids[i]!;
      order.push(id);
      for (const t of dependents.get(id) ?? []) {
        const n = indeg.get(t)! - 1;
        indeg.set(t, n);
        if (n === 0) push(t);
      }
    }
  }
  return { ids, index, deps, refs, handlers, cycle, order };
}

/** All transitive dependencies of `id`. */
export function ancestors(g: StepGraph, id: string): Set<string> {
  const out = new Set<string>();
  const walk = (x: string) => {
    for (const d of g.deps.get(x) ?? [])
      if (!out.has(d)) {
        out.add(d);
        walk(d);
      }
  };
  walk(id);
  return out;
}

/** Finds one dependency cycle (iterative DFS), or a self reference; undefined when the graph is acyclic. */
function findCycle(steps: Step[], deps: Map<string, Set<string>>, refs: Map<string, StepRef[]>): string[] | undefined {
  for (const s of steps)
    if ((refs.get(s.id) ?? []).some((r) => r.id === s.id) || (s.needs ?? []).includes(s.id)) return [s.id, s.id];
  const colour = new Map<string, 1 | 2>();
  for (const start of steps.map((s) => s.id)) {
    if (colour.has(start)) continue;
    const stack: { id: string; it: Iterator<string> }[] = [{ id: start, it: (deps.get(start) ?? new Set()).values() }];
    colour.set(start, 1);
    while (stack.length) {
      const top = stack[stack.length - 1]!;
      const n = top.it.next();
      if (n.done) {
        colour.set(top.id, 2);
        stack.pop();
        continue;
      }
      const d = n.value;
      const c = colour.get(d);
      if (c === 1) {
        const ids = stack.map((x) => x.id);
        return [...ids.slice(ids.indexOf(d)), d];
      }
      if (!c) {
        colour.set(d, 1);
        stack.push({ id: d, it: (deps.get(d) ?? new Set()).values() });
      }
    }
  }
  return undefined;
}

/** A binary min-heap of step indexes. */
class MinQueue {
  private h: number[] = [];
  get size(): number {
    return this.h.length;
  }
  push(v: number): void {
    const h = this.h;
    h.push(v);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p]! <= h[i]!) break;
      [h[p], h[i]] = [h[i]!, h[p]!];
      i = p;
    }
  }
  pop(): number {
    const h = this.h;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && h[l]! < h[m]!) m = l;
        if (r < h.length && h[r]! < h[m]!) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i]!, h[m]!];
        i = m;
      }
    }
    return top;
  }
}
