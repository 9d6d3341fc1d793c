/**
 * Derives the planner's structured-output schema from `schemas/pipeline.schema.json` (run by scripts/gen-types.ts,
 * written to `src/generated/planner-response.schema.ts`, kept fresh by `gen:check`).
 *
 * The answer is `{ reply, pipeline | null }`; `pipeline` is the published pipeline schema with:
 *  - the fields b24flow sets or chat may not use removed: `$schema`, `version`, `packs` (set from the routing),
 *    `allow` (reference-only methods), `env` (environment reads), `concurrency`, `checks`; on steps the `pipeline:` file
 *    reference and the run-tuning fields (`name`, `retry`, `timeout`, `on_error`, `concurrency`, `confirm`); the
 *    `chat` trigger kind (commands belong to saved pipelines);
 *  - annotations and limits dropped (`description`, `default`, `title`, lengths, counts, `minimum`/`maximum`,
 *    `uniqueItems`, `additionalProperties: false` (the checker refuses unknown fields), name patterns, `propertyNames`; the `${{ }}` expression pattern stays;
 *    the empty `value` definition is inlined) to keep the prompt lean - the checker validates every answer against the
 *    full published schema anyway.
 * Every other keyword is copied as published, so a pipeline valid here is a pipeline document as `pipelines/*.yaml`.
 *
 * OpenAI strict mode cannot express this schema (free-form `params`/`with`/`inputs` maps, `oneOf`, `not`,
 * `propertyNames`, optional properties), so the planner sends it with `strict: false`.
 */

/** Top-level pipeline fields the model does not write. */
export const PLANNER_DROPPED_FIELDS = ['$schema', 'version', 'packs', 'allow', 'env', 'concurrency', 'checks'];
/** Step fields the model does not write. */
export const PLANNER_DROPPED_STEP_FIELDS = [
  'pipeline',
  'name',
  'retry',
  'timeout',
  'on_error',
  'concurrency',
  'confirm',
];
/** Trigger kinds the model does not write. */
export const PLANNER_DROPPED_TRIGGERS = ['chat'];
const DROPPED_KEYWORDS = new Set([
  'description',
  'default',
  'title',
  'minLength',
  'maxLength',
  'uniqueItems',
  '$comment',
]);

type Json = Record<string, unknown>;

function strip(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(strip);
  if (!v || typeof v !== 'object') return v;
  const out: Json = {};
  for (const [k, x] of Object.entries(v as Json)) {
    if (DROPPED_KEYWORDS.has(k) || (k === 'additionalProperties' && x === false)) continue;
    // Name patterns are the checker's business; the expression pattern tells the model the `${{ }}` syntax.
    if ((k === 'pattern' && !String(x).startsWith('^\\$\\{\\{')) || k === 'propertyNames') continue;
    // `properties` maps names to schemas: a property called "description" is kept.
    if (k === 'properties' && x && typeof x === 'object') {
      out[k] = Object.fromEntries(Object.entries(x as Json).map(([n, s]) => [n, strip(s)]));
    } else out[k] = strip(x);
  }
  return out;
}

function omit(o: Json, keys: string[]): Json {
  return Object.fromEntries(Object.entries(o).filter(([k]) => !keys.includes(k)));
}

/** True when `v` mentions `#/$defs/<name>`. */
function refers(v: unknown, name: string): boolean {
  return JSON.stringify(v).includes(`"#/$defs/${name}"`);
}

/**
 * The planner response schema for a published pipeline schema (pure; see the module comment for what is dropped).
 *
 * @param published the parsed `schemas/pipeline.schema.json`
 * @throws when the published schema lacks `properties` or `$defs.step`
 */
export function plannerResponseSchema(published: Json): Json {
  const props = published.properties as Json | undefined;
  const defs = published.$defs as Record<string, Json> | undefined;
  if (!props || !defs?.step) throw new Error('pipeline schema without properties or $defs.step');
  const step = defs.step;
  const stepProps = omit(step.properties as Json, PLANNER_DROPPED_STEP_FIELDS);
  // Of the published oneOf (method | use | pipeline), the branches without `pipeline:`, each excluding the other.
  const newStep: Json = {
    ...omit(step, ['properties', 'oneOf']),
    properties: stepProps,
    oneOf: [
      { required: ['method'], not: { required: ['use'] } },
      { required: ['use'], not: { required: ['method'] } },
    ],
  };
  // Chat triggers name the commands of saved pipelines; the planner proposes schedules and events only.
  const trigger = defs.trigger as Json;
  const triggerDef: Json = { ...trigger, properties: omit(trigger.properties as Json, PLANNER_DROPPED_TRIGGERS) };
  const pipeline: Json = {
    ...omit(published, ['$schema', '$id', 'title', 'description', '$defs', 'properties']),
    properties: omit(props, PLANNER_DROPPED_FIELDS),
  };
  const kept: Record<string, Json> = { pipeline: pipeline, ...defs, step: newStep, trigger: triggerDef };
  // Drop the definitions nothing refers to any more (e.g. retry once steps lose `retry`), to a fixed point.
  let changed = true;
  while (changed) {
    changed = false;
    for (const name of Object.keys(kept)) {
      if (name === 'pipeline') continue;
      const others = Object.entries(kept).filter(([n]) => n !== name);
      if (!others.some(([, s]) => refers(s, name))) {
        delete kept[name];
        changed = true;
      }
    }
  }
  // `value` is an annotation-only definition (any JSON): inline it as `{}`.
  const inlined = JSON.parse(JSON.stringify(kept).replaceAll('{"$ref":"#/$defs/value"}', '{}')) as Json;
  delete inlined.value;
  return strip({
    type: 'object',
    additionalProperties: false,
    required: ['reply', 'pipeline'],
    properties: {
      reply: { type: 'string' },
      pipeline: { anyOf: [{ type: 'null' }, { $ref: '#/$defs/pipeline' }] },
    },
    $defs: inlined,
  }) as Json;
}
