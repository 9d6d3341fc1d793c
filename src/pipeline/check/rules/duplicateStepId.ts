import type { Rule } from '../rule.js';

/** Step ids are unique: `steps.<id>` must name one step. */
export const duplicateStepId: Rule = {
  name: 'duplicate-step-id',
  description: 'two steps share an id',
  check(ctx) {
    const seen = new Set<string>();
    return ctx.p.pipeline.steps.flatMap((s, i) => {
      if (!seen.has(s.id)) {
        seen.add(s.id);
        return [];
      }
      return [ctx.at(['steps', i, 'id'], `duplicate step id "${s.id}"`)];
    });
  },
};
