/**
 * Fused fan-outs: two `foreach` write steps over the same list where the second reads the first's result per item
 * (`steps.A.result[index].ID`) run as pairs in the same batch — the second command reads the first's answer through
 * `$result[a<i>][ID]` — instead of one fan-out after the other. Decided here, statically; the runner still declines
 * a pair when the run's state says otherwise (shadow mode, resume, a refused permission, an earlier key).
 */
import { expressionBody, isExpression, isTemplate } from '../expr.js';
import type { StepGraph } from '../graph.js';
import type { Step } from '../load.js';
import type { StepMethod } from '../modes.js';

/** A fused pair: `first` (A) and `second` (B); `refs` maps a path inside B's params to the field path in A's result. */
export interface FusedPair {
  first: string;
  second: string;
  /** `/fields/CONTACT_ID` → `["ID"]` (empty = the whole result of A's item). */
  refs: Record<string, (string | number)[]>;
}

/**
 * The step B that can run in the same batches as write step A: B is the first later step (in execution order) that
 * depends on A, with only reads in between (the declared write order holds); B has the same `foreach`, no retry,
 * `if`, outputs, concurrency or sub-pipeline, a batchable named-params write method, and every mention of A in its
 * params is a whole field `steps.A.result[index](.field)*`.
 * @returns undefined when A has no such partner
 */
export function fusedPartner(
  a: Step,
  order: readonly string[],
  byId: ReadonlyMap<string, Step>,
  methodOf: (s: Step) => StepMethod | undefined,
  graph: StepGraph,
): FusedPair | undefined {
  const am = methodOf(a);
  if (!am || am.risk === 'read' || !a.foreach || a.retry || a.if || a.use || a.pipeline) return;
  if (am.batchable === false) return;
  let b: Step | undefined;
  for (let k = order.indexOf(a.id) + 1; k < order.length && !b; k++) {
    const t = byId.get(order[k]!)!;
    if ((graph.deps.get(t.id) ?? new Set()).has(a.id)) b = t;
    else if (methodOf(t)?.risk !== 'read') return;
  }
  if (!b?.method || !b.foreach || b.retry || b.if || b.use || b.pipeline || b.outputs || b.concurrency) return;
  if (b.foreach.replace(/\s+/g, '') !== a.foreach.replace(/\s+/g, '')) return;
  const bm = methodOf(b);
  if (!bm || bm.risk === 'read' || bm.batchable === false || bm.positional) return;
  const refRe = new RegExp(`^steps\\.${a.id}\\.result\\[index\\]((?:\\.[A-Za-z_][A-Za-z0-9_]*)*)$`);
  const refs: Record<string, (string | number)[]> = {};
  const check = (v: unknown, path: string): boolean => {
    if (isExpression(v)) {
      const body = expressionBody(v).expr;
      if (!new RegExp(`\\bsteps\\s*(\\.\\s*${a.id}\\b|\\[)`).test(body)) return true;
      const m = refRe.exec(body);
      if (!m) return false;
      refs[path] = m[1] ? m[1].slice(1).split('.') : [];
      return true;
    }
    if (isTemplate(v)) return !new RegExp(`\\bsteps\\s*\\.\\s*${a.id}\\b`).test(v.$template);
    if (Array.isArray(v)) return v.every((x, i) => check(x, `${path}/${i}`));
    if (v && typeof v === 'object') return Object.entries(v).every(([k, x]) => check(x, `${path}/${k}`));
    return true;
  };
  if (!check(b.params ?? {}, '') || !check(b.idempotency_key, '#key')) return;
  if ('#key' in refs || !Object.keys(refs).length) return;
  return { first: a.id, second: b.id, refs };
}
