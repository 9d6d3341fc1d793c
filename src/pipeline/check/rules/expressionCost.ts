import type { Finding } from '../../../lib/failures.js';
import { collectExpressions, expressionBody, isExpression } from '../../expr.js';
import { type CostScope, expressionCostProblems } from '../../exprCost.js';
import { stepExpressions } from '../../graph.js';
import type { DocPath } from '../../load.js';
import { stepKind } from '../../load.js';
import type { Rule } from '../rule.js';

/**
 * Refuses expressions that are provably too costly to evaluate (see exprCost.ts): comprehensions nested over lists
 * that are not provably small, `matches` patterns RE2 rejects, values doubled through `cel.bind`. Everything else is
 * bounded at run time by the per-expression and per-run evaluation budgets (exprLimits.ts).
 */
export const expressionCost: Rule = {
  name: 'expression-cost',
  description: 'CEL expression is provably too costly or its regular expression is not RE2',
  check(ctx) {
    const steps = ctx.p.pipeline.steps;
    const scope: CostScope = {
      smallSteps: new Set(steps.filter((s) => stepKind(s) === 'method' && !s.all && !s.foreach).map((s) => s.id)),
    };
    const out: Omit<Finding, 'rule'>[] = [];
    const report = (path: DocPath, expr: string, offset: number) => {
      for (const p of expressionCostProblems(expr, scope))
        out.push(ctx.at(path, `expression \`${expr}\`: ${p.message}`, { offset: offset + p.start }));
    };
    steps.forEach((s, i) => {
      for (const e of stepExpressions(s, i)) report(e.path, e.expr, e.offset);
    });
    (ctx.p.pipeline.checks ?? []).forEach((c, i) => {
      if (!isExpression(c.condition)) return;
      const b = expressionBody(c.condition);
      report(['checks', i, 'condition'], b.expr, b.offset);
    });
    for (const [name, v] of Object.entries(ctx.p.pipeline.outputs ?? {}))
      for (const e of collectExpressions(v, ['outputs', name])) report(e.path, e.expr, e.offset);
    (ctx.p.pipeline.triggers ?? []).forEach((t, i) => {
      const cond = t.event?.if;
      if (!cond || !isExpression(cond)) return;
      const b = expressionBody(cond);
      report(['triggers', i, 'event', 'if'], b.expr, b.offset);
    });
    return out;
  },
};
