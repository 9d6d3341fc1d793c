/**
 * The planner's structured-output schema stays derived from the published pipeline schema: the generated module is
 * what scripts/plannerSchema.ts makes of `schemas/pipeline.schema.json` today, every keyword it keeps is the
 * published one, and a rich proposal (foreach, if, expressions, schedule trigger, approvers) is valid under both.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import {
  PLANNER_DROPPED_FIELDS,
  PLANNER_DROPPED_STEP_FIELDS,
  plannerResponseSchema,
} from '../../scripts/plannerSchema.js';
import validatePipeline from '../../src/generated/pipeline.validate.js';
import { PLANNER_RESPONSE_SCHEMA } from '../../src/generated/planner-response.schema.js';
import { richProposal } from './support/richProposal.js';

type Json = Record<string, unknown>;
const published = JSON.parse(
  readFileSync(join(import.meta.dirname, '..', '..', 'schemas', 'pipeline.schema.json'), 'utf8'),
) as Json & { properties: Json; $defs: Record<string, Json> };

/** Asserts that every keyword of `derived` is the published one (recursively), at `path`. */
function expectSubset(derived: unknown, pub: unknown, path: string): void {
  if (Array.isArray(derived)) {
    expect(Array.isArray(pub) && pub.length === derived.length, `${path} is the published list`).toBe(true);
    derived.forEach((d, i) => {
      expectSubset(d, (pub as unknown[])[i], `${path}/${i}`);
    });
    return;
  }
  if (!derived || typeof derived !== 'object') {
    expect(derived, path).toEqual(pub);
    return;
  }
  expect(pub, `${path} exists in the published schema`).toBeTypeOf('object');
  for (const [k, v] of Object.entries(derived as Json)) {
    if (k === 'properties') {
      for (const [name, s] of Object.entries(v as Json)) {
        expect((pub as Json).properties, `${path}/properties`).toHaveProperty(name);
        expectSubset(s, ((pub as Json).properties as Json)[name], `${path}/properties/${name}`);
      }
    } else expectSubset(v, (pub as Json)[k], `${path}/${k}`);
  }
}

describe('planner response schema', () => {
  it('is generated from the published pipeline schema (npm run gen:types)', () => {
    expect(PLANNER_RESPONSE_SCHEMA).toEqual(plannerResponseSchema(published));
  });

  it('keeps only published keywords; drops the fields b24flow sets', () => {
    const defs = PLANNER_RESPONSE_SCHEMA.$defs as Record<string, Json>;
    const { oneOf, ...step } = defs.step as Json;
    expectSubset(step, published.$defs.step, '#/$defs/step');
    // the step kinds: method or use, never both (the published oneOf without the `pipeline:` branch)
    expect(oneOf).toEqual([
      { required: ['method'], not: { required: ['use'] } },
      { required: ['use'], not: { required: ['method'] } },
    ]);
    expectSubset(defs.pipeline, published, '#');
    for (const [name, def] of Object.entries(defs)) {
      if (name === 'pipeline' || name === 'step') continue;
      expectSubset(def, published.$defs[name], `#/$defs/${name}`);
    }
    const props = (defs.pipeline as { properties: Json }).properties;
    for (const f of PLANNER_DROPPED_FIELDS) expect(props).not.toHaveProperty(f);
    for (const f of PLANNER_DROPPED_STEP_FIELDS)
      expect((step as { properties: Json }).properties).not.toHaveProperty(f);
    for (const f of ['steps', 'inputs', 'triggers', 'outputs', 'approvers']) expect(props).toHaveProperty(f);
    for (const f of ['foreach', 'if', 'needs', 'all', 'idempotency_key', 'use', 'with', 'method', 'params']) {
      expect((step as { properties: Json }).properties).toHaveProperty(f);
    }
  });

  it('accepts a rich proposal that the published schema accepts too', () => {
    const ajv = new Ajv2020({ strict: false });
    const validateAnswer = ajv.compile(PLANNER_RESPONSE_SCHEMA);
    const pipeline = richProposal();
    expect(validateAnswer({ reply: 'ok', pipeline }), JSON.stringify(validateAnswer.errors)).toBe(true);
    expect(validateAnswer({ reply: 'a question back', pipeline: null })).toBe(true);
    const withRecipe = { name: 'r', steps: [{ id: 't', use: 'deal-stage-task', with: { deal_id: 1 } }] };
    expect(validateAnswer({ reply: 'ok', pipeline: withRecipe })).toBe(true);
    // both a method and a recipe in one step: refused like the published schema does
    const both = { name: 'r', steps: [{ id: 't', use: 'deal-stage-task', method: 'crm.deal.get' }] };
    expect(validateAnswer({ reply: 'ok', pipeline: both })).toBe(false);
    const validate = validatePipeline as unknown as ((d: unknown) => boolean) & { errors?: unknown };
    for (const p of [pipeline, withRecipe]) {
      expect(validate({ ...p, packs: ['core'] }), JSON.stringify(validate.errors)).toBe(true);
    }
    expect(validate({ ...both, packs: ['core'] })).toBe(false);
  });
});
