import type { Finding } from '../../../lib/failures.js';
import { checkExpression, collectExpressions, expressionBody, isExpression } from '../../expr.js';
import { stepExpressions } from '../../graph.js';
import type { Rule } from '../rule.js';
import { scopeFor } from '../scope.js';

/**
 * Every CEL expression parses and type-checks against inputs, upstream step outputs and `item`; `if` and check
 * conditions are bool, `foreach` is a list. Unknown step references are left to `unknown-step-ref`.
 */
export const expressionTypes: Rule = {
  name: 'expression-type',
  description: 'CEL expression does not parse or type-check',
  check(ctx) {
    const out: Omit<Finding, 'rule'>[] = [];
    const known = ctx.graph.index;
    ctx.p.pipeline.steps.forEach((s, i) => {
      for (const e of stepExpressions(s, i)) {
        const refs = ctx.graph.refs.get(s.id) ?? [];
        if (refs.some((r) => JSON.stringify(r.path) === JSON.stringify(e.path) && !known.has(r.id))) continue;
        const r = checkExpression(e.expr, scopeFor(ctx, i, e.field !== 'foreach'));
        if (!r.valid) {
          out.push(ctx.at(e.path, `expression \`${e.expr}\`: ${r.message}`, { offset: e.offset + r.start }));
          continue;
        }
        if (e.field === 'if' && !['bool', 'dyn'].includes(r.type))
          out.push(ctx.at(e.path, `\`if\` must be bool, \`${e.expr}\` is ${r.type}`, { offset: e.offset }));
        if (e.field === 'foreach' && !/^(list|dyn)/.test(r.type))
          out.push(ctx.at(e.path, `\`foreach\` must be a list, \`${e.expr}\` is ${r.type}`, { offset: e.offset }));
      }
    });
    (ctx.p.pipeline.checks ?? []).forEach((c, i) => {
      if (!isExpression(c.condition)) return;
      const b = expressionBody(c.condition);
      const r = checkExpression(b.expr, scopeFor(ctx, undefined, false));
      const path = ['checks', i, 'condition'];
      if (!r.valid) out.push(ctx.at(path, `expression \`${b.expr}\`: ${r.message}`, { offset: b.offset + r.start }));
      else if (!['bool', 'dyn'].includes(r.type))
        out.push(ctx.at(path, `a check condition must be bool, \`${b.expr}\` is ${r.type}`, { offset: b.offset }));
    });
    for (const [name, v] of Object.entries(ctx.p.pipeline.outputs ?? {})) {
      for (const e of collectExpressions(v, ['outputs', name])) {
        const r = checkExpression(e.expr, scopeFor(ctx, undefined, false));
        if (!r.valid)
          out.push(ctx.at(e.path, `expression \`${e.expr}\`: ${r.message}`, { offset: e.offset + r.start }));
      }
    }
    (ctx.p.pipeline.triggers ?? []).forEach((t, i) => {
      const cond = t.event?.if;
      if (!cond || !isExpression(cond)) return;
      const b = expressionBody(cond);
      const r = checkExpression(b.expr, scopeFor(ctx, undefined, false));
      if (!r.valid)
        out.push(
          ctx.at(['triggers', i, 'event', 'if'], `expression \`${b.expr}\`: ${r.message}`, {
            offset: b.offset + r.start,
          }),
        );
    });
    return out;
  },
};
