import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { countTokens } from 'gpt-tokenizer';
import { parse as parseYaml } from 'yaml';
import { allPacks } from '../../../src/agent/context.js';
import type { CatalogView } from '../../../src/agent/engine.js';
import { Planner } from '../../../src/agent/planner.js';
import { pickExamples } from '../../../src/agent/plannerExamples.js';
import { emptyState } from '../../../src/agent/state.js';
import { loadCatalog } from '../../../src/catalog/index.js';
import { FakeOpenAI } from './fakeOpenAI.js';
import { stubEngine } from './stubEngine.js';

/** The message of the prompt-size target (issue 7). */
export const ROMASHKA = 'создай сделку для ООО Ромашка на 50 000 рублей';
/** A request routed to two packs (core + comms): the weekly report of issue 16. */
export const WEEKLY_REPORT = 'каждый понедельник в 9 присылай мне в чат сумму открытых сделок по стадиям';

/** The shipped pipelines (`pipelines/*.yaml`), the planner's example source as the runtime engine reads it. */
export function shippedPipelineDocs(): Record<string, unknown>[] {
  const dir = join(import.meta.dirname, '..', '..', '..', 'pipelines');
  return readdirSync(dir)
    .filter((n) => n.endsWith('.yaml'))
    .sort()
    .map((n) => parseYaml(readFileSync(join(dir, n), 'utf8')) as Record<string, unknown>);
}

/**
 * Sends `message` through the real planner and openai SDK to a fake endpoint with the project catalog, and counts
 * the tokens (gpt-tokenizer, o200k) of the request body the endpoint received; compares with the same request
 * carrying every pack's method cards. The request carries the recipes and the examples the planner picks.
 */
export async function measurePromptSize(message = ROMASHKA) {
  const catalog = loadCatalog() as unknown as CatalogView;
  const engine = { ...stubEngine(), catalog, examples: async () => shippedPipelineDocs() };
  const ai = new FakeOpenAI();
  await ai.start();
  try {
    const planner = new Planner({ engine, apiKey: 'sk-bench-0000000000000000', baseURL: ai.baseURL, model: 'fake' });
    ai.answer(JSON.stringify({ reply: 'Уточните сумму.', pipeline: null }));
    const result = await planner.plan(message, { ...emptyState('bench'), lang: 'ru' });
    const sent = ai.rawRequests[0] ?? '';
    const state = { ...emptyState('bench'), lang: 'ru' as const };
    const packs = allPacks(catalog);
    const full = JSON.stringify(
      planner.buildRequest(message, state, packs, [], pickExamples(shippedPipelineDocs(), packs, 1)),
    );
    // Every documented method (curated packs + the reference), as one pseudo-pack.
    const names = (catalog as unknown as { methodNames(): string[] }).methodNames();
    const everything = { name: 'all', methods: names.flatMap((n) => catalog.method(n) ?? []) };
    const allCatalog = { ...catalog, packs: [everything] };
    const allPlanner = new Planner({ engine: { ...engine, catalog: allCatalog }, apiKey: 'sk-x', model: 'fake' });
    const reference = JSON.stringify(allPlanner.buildRequest(message, state, ['all']));
    return {
      packs: 'packs' in result ? result.packs : [],
      leanTokens: countTokens(sent),
      leanBytes: Buffer.byteLength(sent),
      fullTokens: countTokens(full),
      fullBytes: Buffer.byteLength(full),
      referenceMethods: names.length,
      referenceTokens: countTokens(reference),
      sentBody: sent,
    };
  } finally {
    await ai.close();
  }
}
