import type { Rule } from '../rule.js';

/** Each method's scope is granted to the configured webhook/app (from the `scope` method). */
export const scopes: Rule = {
  name: 'scope',
  description: 'the portal credentials lack a scope a method needs',
  check(ctx) {
    const granted = ctx.portal?.scopes;
    if (!granted) return [];
    const have = new Set(granted.map((s) => s.toLowerCase()));
    return ctx.p.pipeline.steps.flatMap((s, i) => {
      const m = ctx.methodOf(s);
      if (!m?.scope || m.scope === 'basic' || have.has(m.scope.toLowerCase())) return [];
      return [
        ctx.at(
          ['steps', i, 'method'],
          `${m.name} needs scope "${m.scope}", granted: ${[...have].join(', ') || 'none'}`,
        ),
      ];
    });
  },
};
