import type { MethodParam } from '../../../generated/catalog-pack.js';
import type { Finding } from '../../../lib/failures.js';
import { checkExpression, expressionBody, isExpression, isTemplate } from '../../expr.js';
import type { DocPath } from '../../load.js';
import type { Rule } from '../rule.js';
import { scopeFor } from '../scope.js';
import { namedParams, paramDefs } from './params.js';

const CEL_OK: Record<string, string[]> = {
  string: ['string', 'int', 'double'],
  char: ['string'],
  integer: ['int', 'string', 'uint'],
  number: ['int', 'double', 'string', 'uint'],
  boolean: ['bool', 'string'],
  object: ['map'],
  array: ['list'],
  date: ['string', 'google.protobuf.Timestamp'],
  datetime: ['string', 'google.protobuf.Timestamp'],
};

function literalOk(type: string, v: unknown): boolean {
  switch (type) {
    case 'string':
    case 'char':
      return typeof v === 'string' || typeof v === 'number';
    case 'integer':
      return (typeof v === 'number' && Number.isInteger(v)) || (typeof v === 'string' && /^-?\d+$/.test(v));
    case 'number':
      return typeof v === 'number' || (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v)));
    case 'boolean':
      return typeof v === 'boolean' || v === 'Y' || v === 'N';
    case 'object':
      return typeof v === 'object' && v !== null && !Array.isArray(v);
    case 'array':
      return Array.isArray(v);
    case 'date':
    case 'datetime':
      return typeof v === 'string';
    default:
      return true;
  }
}

/**
 * Param names exist in the catalog (Bitrix24 silently ignores unknown ones) and values fit the documented types:
 * literals directly, expressions by their static CEL type. Unknown keys inside dynamic objects (filters, UF_*) pass.
 */
export const paramTypes: Rule = {
  name: 'param-type',
  description: 'param name unknown or value of the wrong type',
  check(ctx) {
    const out: Omit<Finding, 'rule'>[] = [];
    ctx.p.pipeline.steps.forEach((s, i) => {
      const m = ctx.methodOf(s);
      if (!m?.params?.length || s.params === undefined) return;
      const defs = paramDefs(m);
      const checkValue = (def: MethodParam, v: unknown, path: DocPath) => {
        if (def.type === 'any' || def.type === 'file') return;
        if (isTemplate(v)) {
          if (!['string', 'char', 'date', 'datetime', 'any'].includes(def.type))
            out.push(ctx.at(path, `${def.name} is ${def.type}, a template gives text`));
          return;
        }
        if (isExpression(v)) {
          const b = expressionBody(v);
          const r = checkExpression(b.expr, scopeFor(ctx, i));
          if (!r.valid || r.type === 'dyn' || r.type === 'null_type') return;
          const base = r.type.replace(/<.*$/, '');
          const ok = CEL_OK[def.type];
          if (ok && !ok.includes(base))
            out.push(ctx.at(path, `${def.name} is ${def.type}, \`${b.expr}\` is ${r.type}`, { offset: b.offset }));
          return;
        }
        if (v === null) return;
        // the catalog types some FILTER params as string (user.get); Bitrix24 takes a map there
        const filterLike = /^filter$/i.test(def.name) && typeof v === 'object' && !Array.isArray(v);
        if (!filterLike && !literalOk(def.type, v)) {
          out.push(
            ctx.at(
              path,
              `${def.name} is ${def.type}, got ${Array.isArray(v) ? 'a list' : typeof v} ${JSON.stringify(v).slice(0, 40)}`,
            ),
          );
          return;
        }
        if (def.values?.length && (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean'))
          if (!def.values.map(String).includes(String(v)))
            out.push(ctx.at(path, `${def.name} must be one of ${def.values.map((x) => JSON.stringify(x)).join(', ')}`));
        if (def.fields?.length && v && typeof v === 'object' && !Array.isArray(v)) {
          const fdefs = new Map(def.fields.map((f) => [f.name.toLowerCase(), f] as const));
          for (const [k, x] of Object.entries(v)) {
            const f = fdefs.get(k.toLowerCase());
            if (f) checkValue(f, x, [...path, k]);
            else if (!def.dynamic && !/^UF_/i.test(k))
              out.push(
                ctx.at([...path, k], `unknown field "${k}" in ${def.name} of ${m.name}`, {
                  key: true,
                  severity: 'warning',
                }),
              );
          }
        }
      };
      for (const [name, g] of namedParams(s, m)) {
        const def = defs.get(name);
        const path = ['steps', i, 'params', g.key];
        if (!def) {
          out.push(
            ctx.at(
              path,
              `${m.name} has no param "${g.key}" (params: ${(m.params ?? []).map((p) => p.name).join(', ')})`,
              {
                key: typeof g.key === 'string',
              },
            ),
          );
          continue;
        }
        checkValue(def, g.value, path);
      }
    });
    return out;
  },
};
