/**
 * JSON Schema of the planner's structured output: a short reply plus an optional pipeline. The pipeline part is
 * a deliberately small subset of `schemas/pipeline.schema.json` (method steps only; packs are set by b24flow, not
 * by the model), so the schema costs few prompt tokens and every valid answer is a valid pipeline document.
 * A test keeps it a subset of the published schema.
 */
export const PLANNER_RESPONSE_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['reply', 'pipeline'],
  properties: {
    reply: { type: 'string', description: 'one or two sentences for the user, in their language' },
    pipeline: {
      anyOf: [
        { type: 'null' },
        {
          type: 'object',
          additionalProperties: false,
          required: ['name', 'steps'],
          properties: {
            name: { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]{0,63}$' },
            description: { type: 'string' },
            steps: {
              type: 'array',
              minItems: 1,
              maxItems: 20,
              items: {
                type: 'object',
                additionalProperties: false,
                required: ['id', 'method'],
                properties: {
                  id: { type: 'string', pattern: '^[a-z_][a-z0-9_]{0,63}$' },
                  method: { type: 'string', pattern: '^[a-zA-Z][a-zA-Z0-9_.]*$' },
                  params: { type: ['object', 'array'] },
                  needs: { type: 'array', items: { type: 'string' } },
                },
              },
            },
          },
        },
      ],
    },
  },
} as const;
