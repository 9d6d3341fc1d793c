import type { Rule } from '../rule.js';

/**
 * A method step names a method the catalog marks deprecated: a warning naming the successor when the catalog knows
 * one (e.g. `crm.deal.list` → `crm.item.list`). Kept apart from `unknown-method` so that deprecations can be
 * filtered or counted on their own.
 */
export const deprecatedMethod: Rule = {
  name: 'deprecated-method',
  description: 'method deprecated by Bitrix24; the recommended successor is named',
  check(ctx) {
    return ctx.p.pipeline.steps.flatMap((s, i) => {
      if (!s.method) return [];
      const m = ctx.catalog.method(s.method);
      if (!m?.deprecated) return [];
      return [
        ctx.at(['steps', i, 'method'], `"${m.name}" is deprecated${m.successor ? `; use ${m.successor}` : ''}`, {
          severity: 'warning',
        }),
      ];
    });
  },
};
