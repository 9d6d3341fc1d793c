/**
 * Examples for the planner's prompt, drawn from the shipped pipelines (`pipelines/*.yaml`): the ones whose packs
 * the request was routed to, richest first (triggers, `foreach`, expressions), trimmed to a few steps and written as
 * compact JSON - the shape the model answers in.
 */

function packsOf(doc: Record<string, unknown>): string[] {
  return Array.isArray(doc.packs) ? doc.packs.map(String) : ['core'];
}

/** How much of the pipeline language a document shows (triggers, fan-outs, conditions, expressions, recipes). */
function richness(doc: Record<string, unknown>, packs: string[]): number {
  const text = JSON.stringify(doc);
  const triggers = Array.isArray(doc.triggers) ? (doc.triggers as Record<string, unknown>[]) : [];
  let score = 0;
  if (triggers.some((t) => t && ('schedule' in t || 'event' in t))) score += 3;
  if (text.includes('"foreach"')) score += 3;
  if (text.includes('"if"')) score += 1;
  if (text.includes('$template')) score += 1;
  if (text.includes('"use"')) score += 1;
  // a request routed beyond core learns most from an example that uses its other packs
  score += 2 * packsOf(doc).filter((p) => p !== 'core' && packs.includes(p)).length;
  return score;
}

/** Pipeline fields an example leaves out (set by b24flow or not for chat; see scripts/plannerSchema.ts). */
const DROPPED = new Set([
  '$schema',
  'description',
  'version',
  'packs',
  'allow',
  'env',
  'concurrency',
  'checks',
  'outputs',
]);
const DROPPED_STEP = new Set(['name', 'retry', 'timeout', 'on_error', 'concurrency', 'confirm']);

/**
 * A shipped pipeline trimmed for the prompt: no description/packs/outputs, no chat triggers, approvers without
 * their defaults, inputs without their
 * descriptions, at most `maxSteps` steps (the first, then `foreach`/`if` ones; no sub-pipelines), as one line of JSON.
 */
export function exampleText(doc: Record<string, unknown>, maxSteps = 2): string {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(doc)) {
    if (DROPPED.has(k)) continue;
    if (k === 'inputs' && v && typeof v === 'object') {
      out.inputs = Object.fromEntries(
        Object.entries(v as Record<string, Record<string, unknown>>).map(([n, i]) => {
          const { description: _d, ...rest } = i ?? {};
          return [n, rest];
        }),
      );
    } else if (k === 'approvers' && v && typeof v === 'object') {
      // the defaults (min 1, 24h) say nothing
      const { min, expires_in, ...rest } = v as Record<string, unknown>;
      out.approvers = {
        ...rest,
        ...(min !== 1 && min !== undefined ? { min } : {}),
        ...(expires_in && expires_in !== '24h' ? { expires_in } : {}),
      };
    } else if (k === 'triggers' && Array.isArray(v)) {
      const kept = v.filter((t) => t && typeof t === 'object' && !('chat' in t));
      if (kept.length) out.triggers = kept;
    } else if (k === 'steps' && Array.isArray(v)) {
      // the first step (usually the read) and then the fan-outs and conditions: the parts worth showing
      const usable = (v as Record<string, unknown>[]).filter((s) => s && !('pipeline' in s));
      const rich = usable.slice(1).filter((s) => 'foreach' in s || 'if' in s);
      out.steps = [...usable.slice(0, 1), ...rich, ...usable.slice(1).filter((s) => !rich.includes(s))]
        .slice(0, maxSteps)
        .map((s) => Object.fromEntries(Object.entries(s).filter(([sk]) => !DROPPED_STEP.has(sk))));
    } else out[k] = v;
  }
  return JSON.stringify(out);
}

/**
 * Up to `max` examples for a request routed to `packs`: documents whose packs are all routed; those whose trimmed
 * text fits `maxChars` first, then the richest, then the shortest. Returns their trimmed texts.
 */
export function pickExamples(docs: Record<string, unknown>[], packs: string[], max = 1, maxChars = 650): string[] {
  return (
    docs
      .filter((d) => typeof d.name === 'string' && packsOf(d).every((p) => packs.includes(p)))
      .map((d) => ({ text: exampleText(d), score: richness(d, packs) }))
      // short ones first (the prompt stays lean), then the richest
      .sort(
        (a, b) =>
          +(a.text.length > maxChars) - +(b.text.length > maxChars) ||
          b.score - a.score ||
          a.text.length - b.text.length,
      )
      .slice(0, max)
      .map((x) => x.text)
  );
}
