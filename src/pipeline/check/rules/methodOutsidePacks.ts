import type { Rule } from '../rule.js';

/** Methods are allowed only from the pipeline's `packs` (default `[core]`). */
export const methodOutsidePacks: Rule = {
  name: 'method-outside-packs',
  description: 'method not in the packs the pipeline declares',
  check(ctx) {
    const packs = ctx.p.pipeline.packs ?? ['core'];
    const known = new Set(ctx.catalog.packs.map((p) => p.name));
    const out = (ctx.p.pipeline.packs ?? []).flatMap((p, i) =>
      known.has(p) ? [] : [ctx.at(['packs', i], `unknown pack "${p}" (packs: ${[...known].join(', ')})`)],
    );
    ctx.p.pipeline.steps.forEach((s, i) => {
      const m = ctx.methodOf(s);
      if (!m) return;
      if (!m.pack)
        out.push(
          ctx.at(
            ['steps', i, 'method'],
            `"${m.name}" is not in any curated pack; pipelines may call curated methods only`,
          ),
        );
      else if (!packs.includes(m.pack))
        out.push(
          ctx.at(
            ['steps', i, 'method'],
            `"${m.name}" belongs to pack "${m.pack}", outside this pipeline's packs [${packs.join(', ')}]`,
          ),
        );
    });
    return out;
  },
};
