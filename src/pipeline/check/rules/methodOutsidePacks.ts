import type { Rule } from '../rule.js';

/** Curated methods are allowed only from the pipeline's `packs` (default `[core]`); reference-only ones: see referenceRisk.ts. */
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
      // reference-only methods (no pack) need an `allow` acknowledgement instead (rule reference-risk)
      if (!m?.pack) return;
      if (!packs.includes(m.pack))
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
