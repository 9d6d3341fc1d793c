import type { Finding } from '../../../lib/failures.js';
import { findPartialInterpolations } from '../../expr.js';
import type { Rule } from '../rule.js';

/**
 * `${{ }}` must span the whole field: text with placeholders is written as `{ $template: "..." }`, so a value never
 * turns into request syntax by string interpolation.
 */
export const partialInterpolation: Rule = {
  name: 'partial-interpolation',
  description: `'\${{ }}' inside a longer string`,
  check(ctx) {
    const out: Omit<Finding, 'rule'>[] = [];
    ctx.p.pipeline.steps.forEach((s, i) => {
      for (const field of ['params', 'with', 'outputs', 'idempotency_key'] as const) {
        const v = (s as Record<string, unknown>)[field];
        for (const path of findPartialInterpolations(v, ['steps', i, field]))
          out.push(
            ctx.at(
              path,
              `an expression \${{ ... }} must be the whole value; for text use { $template: "... {{ expr }} ..." }`,
            ),
          );
      }
    });
    return out;
  },
};
