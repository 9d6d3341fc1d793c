import { existsSync } from 'node:fs';
import { subPipelinePath } from '../../expand.js';
import type { Rule } from '../rule.js';

/**
 * `use:` names a recipe of the catalog; `pipeline:` names an existing file inside this pipeline's folder (an
 * absolute path, `../` out of it or a symlink leading out is refused, and never read).
 */
export const useTarget: Rule = {
  name: 'unknown-recipe',
  description: 'recipe or sub-pipeline not found, or outside the pipeline folder',
  check(ctx) {
    return ctx.p.pipeline.steps.flatMap((s, i) => {
      if (s.use && ctx.catalog.recipe && !ctx.catalog.recipe(s.use))
        return [ctx.at(['steps', i, 'use'], `unknown recipe "${s.use}" (catalog/recipes)`)];
      if (s.pipeline) {
        let path: string;
        try {
          path = subPipelinePath(ctx.p, s);
        } catch (err) {
          return [ctx.at(['steps', i, 'pipeline'], (err as Error).message.replace(/^step "[^"]*": /, ''))];
        }
        if (!existsSync(path)) return [ctx.at(['steps', i, 'pipeline'], `sub-pipeline file "${s.pipeline}" not found`)];
      }
      return [];
    });
  },
};
