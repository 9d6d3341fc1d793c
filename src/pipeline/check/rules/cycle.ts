import type { Rule } from '../rule.js';

/** The step graph (needs + references) has no cycle; the finding sits on the edge that closes it. */
export const cycle: Rule = {
  name: 'cycle',
  description: 'steps depend on each other in a loop',
  check(ctx) {
    const c = ctx.graph.cycle;
    if (!c) return [];
    const [from, to] = [c[c.length - 2]!, c[c.length - 1]!];
    const i = ctx.graph.index.get(from)!;
    const step = ctx.p.pipeline.steps[i]!;
    const loop = c.join(' → ');
    const n = (step.needs ?? []).indexOf(to);
    if (n >= 0) return [ctx.at(['steps', i, 'needs', n], `dependency cycle: ${loop}`)];
    const ref = (ctx.graph.refs.get(from) ?? []).find((r) => r.id === to);
    if (ref) return [ctx.at(ref.path, `dependency cycle: ${loop}`, { offset: ref.offset })];
    return [ctx.at(['steps', i, 'id'], `dependency cycle: ${loop}`)];
  },
};
