/**
 * The precompiled validators enforce minLength / maxLength / uniqueItems (ajv runtime helpers imported as ESM):
 * empty step ids or method names and duplicated packs / needs are schema errors at their line and column.
 */
import { describe, expect, it } from 'vitest';
import validatePack from '../../src/generated/catalog-pack.validate.js';
import validateRecipe from '../../src/generated/recipe.validate.js';
import { InvalidInputError } from '../../src/lib/failures.js';
import { loadPipelineText } from '../../src/pipeline/load.js';

function findings(yaml: string): string[] {
  try {
    loadPipelineText(yaml, 'p.yaml');
  } catch (err) {
    if (err instanceof InvalidInputError) return err.findings.map((f) => `${f.line}:${f.col} ${f.field} ${f.message}`);
    throw err;
  }
  return [];
}

describe('schema keywords in the precompiled validators', () => {
  it('pipeline: non-empty step ids and methods, unique packs and needs', () => {
    const out = findings(`name: p
packs: [core, core]
steps:
  - id: ""
    method: ""
  - id: b
    method: crm.deal.list
    needs: [a, a]
`);
    expect(out.find((l) => l.includes('/packs ') && l.includes('duplicate'))).toMatch(/^2:8 /);
    expect(out.find((l) => l.includes('/steps/0/id ') && /fewer than 1 character/.test(l))).toMatch(/^4:9 /);
    expect(out.find((l) => l.includes('/steps/0/method ') && /fewer than 1 character/.test(l))).toMatch(/^5:13 /);
    expect(out.find((l) => l.includes('/steps/1/needs ') && l.includes('duplicate'))).toMatch(/^8:12 /);
  });

  it('a step id longer than 64 characters is refused', () => {
    const out = findings(`name: p\nsteps:\n  - id: ${'a'.repeat(65)}\n    method: crm.deal.list\n`);
    expect(out.some((l) => l.includes('/steps/0/id') && /more than 64 characters/.test(l))).toBe(true);
  });

  it('catalog pack and recipe validators check lengths and duplicates too', () => {
    const v = validatePack as unknown as {
      (d: unknown): boolean;
      errors?: { instancePath: string; keyword: string }[];
    };
    const pack = {
      pack: 'x',
      title: { en: 'X', ru: 'X' },
      scopes: ['crm', 'crm'],
      vocabulary: { en: ['a'], ru: ['сделка'] },
      methods: [{ name: '', scope: 'crm', risk: 'read' }],
    };
    expect(v(pack)).toBe(false);
    const kinds = v.errors!.map((e) => `${e.instancePath} ${e.keyword}`);
    expect(kinds).toContain('/scopes uniqueItems');
    expect(kinds).toContain('/vocabulary/en/0 minLength');
    expect(kinds).toContain('/methods/0/name minLength');
    const r = validateRecipe as unknown as typeof v;
    const recipe = {
      recipe: 'r',
      pack: 'core',
      title: { en: '', ru: 'Р' },
      steps: [{ id: 'a', method: 'crm.deal.list', needs: ['b', 'b'] }],
    };
    expect(r(recipe)).toBe(false);
    const rk = r.errors!.map((e) => `${e.instancePath} ${e.keyword}`);
    expect(rk).toContain('/title/en minLength');
    expect(rk).toContain('/steps/0/needs uniqueItems');
  });
});
