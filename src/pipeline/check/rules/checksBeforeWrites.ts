import type { Finding } from '../../../lib/failures.js';
import { expressionBody, isExpression } from '../../expr.js';
import { ancestors, refsInExpression } from '../../graph.js';
import type { Rule } from '../rule.js';

/**
 * `checks` are evaluated after the reads and before the first write, so they may only look at steps that read
 * (and whose own inputs come from reads).
 */
export const checksBeforeWrites: Rule = {
  name: 'check-reads-only',
  description: 'a pre-run check refers to a step that writes',
  check(ctx) {
    const out: Omit<Finding, 'rule'>[] = [];
    const steps = ctx.p.pipeline.steps;
    const writes = (id: string) => {
      const s = steps[ctx.graph.index.get(id) ?? -1];
      if (!s) return false;
      if (s.use || s.pipeline) return true;
      const m = ctx.methodOf(s);
      return !!m && m.risk !== 'read';
    };
    (ctx.p.pipeline.checks ?? []).forEach((c, i) => {
      if (!isExpression(c.condition)) return;
      const b = expressionBody(c.condition);
      for (const r of refsInExpression(b.expr)) {
        if (!ctx.graph.index.has(r.id)) continue;
        const bad = writes(r.id) ? r.id : [...ancestors(ctx.graph, r.id)].find(writes);
        if (bad)
          out.push(
            ctx.at(['checks', i, 'condition'], `checks run before any write, but "${bad}" writes`, {
              offset: b.offset + r.offset,
            }),
          );
      }
    });
    return out;
  },
};
