import type { Finding } from '../../../lib/failures.js';
import { isExpression, isTemplate } from '../../expr.js';
import type { Rule } from '../rule.js';
import { namedParams } from './params.js';

/**
 * Params the catalog marks `required: true` are present, including required fields of literal objects
 * (`fields.TITLE` of crm.deal.add). Values computed by an expression are checked at run time.
 */
export const requiredParams: Rule = {
  name: 'required-param',
  description: 'a required param is missing',
  check(ctx) {
    const out: Omit<Finding, 'rule'>[] = [];
    ctx.p.pipeline.steps.forEach((s, i) => {
      const m = ctx.methodOf(s);
      if (!m) return;
      const given = namedParams(s, m);
      const where = s.params !== undefined ? ['steps', i, 'params'] : ['steps', i, 'method'];
      for (const def of m.params ?? []) {
        const g = given.get(def.name.toLowerCase());
        if (!g) {
          if (def.required === true)
            out.push(ctx.at(where, `${m.name} requires param "${def.name}"`, { key: s.params !== undefined }));
          continue;
        }
        const v = g.value;
        if (!def.fields || !v || typeof v !== 'object' || Array.isArray(v) || isExpression(v) || isTemplate(v))
          continue;
        const keys = new Set(Object.keys(v).map((k) => k.toLowerCase()));
        for (const f of def.fields)
          if (f.required === true && !keys.has(f.name.toLowerCase()))
            out.push(ctx.at(['steps', i, 'params', g.key], `${m.name} requires ${def.name}.${f.name}`, { key: true }));
      }
    });
    return out;
  },
};
