/**
 * Static types of what an expression in a step can see: inputs (declared types), upstream step results
 * (from the catalog: list methods → list<map>, foreach steps → list), `item` (element type of the foreach list).
 */
import { type CheckScope, celTypeOfInput, checkExpression, expressionBody, isExpression } from '../expr.js';
import type { Step } from '../load.js';
import type { RuleContext } from './rule.js';

/** CEL type of `steps.<id>.result` for a step. */
export function resultType(ctx: RuleContext, s: Step): string {
  if (s.use || s.pipeline) return 'map';
  const m = ctx.methodOf(s);
  if (s.foreach) return m?.risk === 'read' && m.list ? 'list<list<map>>' : 'list';
  if (!m) return 'dyn';
  if (m.risk === 'read' && m.list) return 'list<map>';
  return 'dyn';
}

const cache = new WeakMap<RuleContext, Map<string, CheckScope>>();

/** Scope for expressions of step `i` (`withItem`: inside the foreach, i.e. params/idempotency_key/outputs/if). */
export function scopeFor(ctx: RuleContext, i: number | undefined, withItem = true): CheckScope {
  let c = cache.get(ctx);
  if (!c) {
    c = new Map();
    cache.set(ctx, c);
  }
  const key = `${i}:${withItem}`;
  const hit = c.get(key);
  if (hit) return hit;
  const inputs: Record<string, string> = {};
  for (const [k, v] of Object.entries(ctx.p.pipeline.inputs ?? {})) inputs[k] = celTypeOfInput(v.type);
  // event triggers deliver the event as inputs.event (src/triggers)
  if ((ctx.p.pipeline.triggers ?? []).some((t) => t.event) && !inputs.event) inputs.event = 'map';
  const steps: CheckScope['steps'] = {};
  const self = i === undefined ? undefined : ctx.p.pipeline.steps[i];
  for (const s of ctx.p.pipeline.steps) {
    if (s === self) continue;
    steps[s.id] = { result: resultType(ctx, s), outputs: Object.keys(s.outputs ?? {}) };
  }
  const scope: CheckScope = { inputs, steps, env: ctx.p.pipeline.env ?? [] };
  if (self?.foreach && withItem && isExpression(self.foreach)) {
    const r = checkExpression(expressionBody(self.foreach).expr, scopeFor(ctx, i, false));
    const m = r.valid ? /^list<(.+)>$/.exec(r.type) : null;
    scope.item = m ? m[1]! : 'dyn';
  }
  c.set(key, scope);
  return scope;
}
