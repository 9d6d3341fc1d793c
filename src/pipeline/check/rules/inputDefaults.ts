import { inputTypeOk } from '../../inputs.js';
import type { Rule } from '../rule.js';

/** Input defaults match their declared type (and `enum`). */
export const inputDefaults: Rule = {
  name: 'input-default',
  description: 'input default of the wrong type',
  check(ctx) {
    return Object.entries(ctx.p.pipeline.inputs ?? {}).flatMap(([name, def]) => {
      if (def.default === undefined) return [];
      const err = inputTypeOk(def, def.default);
      return err ? [ctx.at(['inputs', name, 'default'], `default of input "${name}": ${err}`)] : [];
    });
  },
};
