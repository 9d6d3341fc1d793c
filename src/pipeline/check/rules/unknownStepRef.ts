import type { Finding } from '../../../lib/failures.js';
import type { Rule } from '../rule.js';

/** `needs`, `on_error` and `steps.<id>` in expressions must name an existing step. */
export const unknownStepRef: Rule = {
  name: 'unknown-step-ref',
  description: 'a reference to a step that does not exist',
  check(ctx) {
    const out: Omit<Finding, 'rule'>[] = [];
    const { index } = ctx.graph;
    const known = () => [...index.keys()].join(', ');
    ctx.p.pipeline.steps.forEach((s, i) => {
      (s.needs ?? []).forEach((n, j) => {
        if (!index.has(n))
          out.push(ctx.at(['steps', i, 'needs', j], `unknown step "${n}" in needs (steps: ${known()})`));
      });
      if (s.on_error && !['fail', 'continue'].includes(s.on_error) && !index.has(s.on_error))
        out.push(
          ctx.at(
            ['steps', i, 'on_error'],
            `on_error names unknown step "${s.on_error}" (use fail, continue or a step id)`,
          ),
        );
      for (const r of ctx.graph.refs.get(s.id) ?? [])
        if (!index.has(r.id))
          out.push(ctx.at(r.path, `unknown step "${r.id}" referenced (steps: ${known()})`, { offset: r.offset }));
    });
    return out;
  },
};
