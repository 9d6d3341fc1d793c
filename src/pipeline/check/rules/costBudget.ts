import { estimateCost } from '../../cost.js';
import type { Rule } from '../rule.js';

/** Warns when the estimated run would use most of a method's operating budget (480 s per 10 min). */
export const costBudget: Rule = {
  name: 'cost',
  description: 'the estimated run risks the operating budget',
  check(ctx) {
    // the compiled program's cost (with the caller's --items) when there is one: one estimate for check and plan
    const c =
      ctx.program?.pipeline === ctx.p ? ctx.program.cost : estimateCost(ctx.p, ctx.catalog, { plan: ctx.portal?.plan });
    return c.operatingRisk === 'high'
      ? [
          ctx.at(['steps'], `estimated ${c.calls} calls may exhaust the operating budget: ${c.notes.join('; ')}`, {
            key: true,
            severity: 'warning',
          }),
        ]
      : [];
  },
};
