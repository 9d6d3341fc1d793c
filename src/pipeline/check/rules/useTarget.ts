import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Rule } from '../rule.js';

/** `use:` names a recipe of the catalog; `pipeline:` names an existing file next to this one. */
export const useTarget: Rule = {
  name: 'unknown-recipe',
  description: 'recipe or sub-pipeline not found',
  check(ctx) {
    return ctx.p.pipeline.steps.flatMap((s, i) => {
      if (s.use && ctx.catalog.recipe && !ctx.catalog.recipe(s.use))
        return [ctx.at(['steps', i, 'use'], `unknown recipe "${s.use}" (catalog/recipes)`)];
      if (s.pipeline) {
        const base = ctx.p.path ? dirname(ctx.p.path) : process.cwd();
        if (!existsSync(resolve(base, s.pipeline)))
          return [ctx.at(['steps', i, 'pipeline'], `sub-pipeline file "${s.pipeline}" not found`)];
      }
      return [];
    });
  },
};
