import type { Rule } from '../rule.js';

/** A method step names a method the catalog knows (case-insensitive; the documented case is suggested). */
export const unknownMethod: Rule = {
  name: 'unknown-method',
  description: 'method not in the catalog',
  check(ctx) {
    return ctx.p.pipeline.steps.flatMap((s, i) => {
      if (!s.method) return [];
      const m = ctx.catalog.method(s.method);
      if (!m) return [ctx.at(['steps', i, 'method'], `unknown method "${s.method}" (not in the catalog)`)];
      if (m.name !== s.method)
        return [ctx.at(['steps', i, 'method'], `method is spelled "${m.name}"`, { severity: 'warning' })];
      return []; // deprecation: the deprecated-method rule
    });
  },
};
