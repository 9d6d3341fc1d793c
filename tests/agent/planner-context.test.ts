/**
 * What the planner's prompt carries besides the method cards: the recipes that fit the routed packs and a trimmed
 * shipped pipeline as an example; and the chat guard for the richer proposals (recipes, sub-pipelines, allow/env).
 */
import { describe, expect, it } from 'vitest';
import { recipesForPacks } from '../../src/agent/context.js';
import type { CatalogView } from '../../src/agent/engine.js';
import { guardPipeline } from '../../src/agent/planner.js';
import { exampleText, pickExamples } from '../../src/agent/plannerExamples.js';
import { loadCatalog } from '../../src/catalog/index.js';
import { shippedPipelineDocs } from './support/promptSize.js';
import { stubEngine } from './support/stubEngine.js';

const catalog = loadCatalog() as unknown as CatalogView;

describe('planner prompt: recipes and examples', () => {
  it('lists the recipes whose packs are all routed, with their inputs', () => {
    const core = recipesForPacks(catalog, ['core']);
    expect(core).toContain("deal-stage-task(deal_id*:int,deadline) Follow-up task for a deal's owner");
    expect(core.some((l) => l.startsWith('feed-post('))).toBe(false);
    expect(recipesForPacks(catalog, ['core', 'collab']).some((l) => l.startsWith('feed-post('))).toBe(true);
  });

  it('picks one trimmed shipped pipeline of the routed packs, as JSON without descriptions or chat triggers', () => {
    const docs = shippedPipelineDocs();
    const [core] = pickExamples(docs, ['core']);
    const ex = JSON.parse(core!) as Record<string, unknown>;
    expect(docs.some((d) => d.name === ex.name)).toBe(true);
    for (const k of ['description', 'packs', '$schema', 'outputs']) expect(ex).not.toHaveProperty(k);
    expect(JSON.stringify(ex)).not.toContain('"chat"');
    expect((ex.steps as unknown[]).length).toBeLessThanOrEqual(2);
    expect(core).toContain('foreach');
    // nothing from packs the request was not routed to
    expect(pickExamples(docs, ['sites'])).toEqual([]);
    expect(pickExamples(docs, ['core']).some((t) => t.includes('im.message.add'))).toBe(false);
    // the fan-out step is kept over plain reads when trimming
    const stale = docs.find((d) => d.name === 'stale-deals')!;
    const trimmed = JSON.parse(exampleText(stale)) as { steps: { id: string }[]; triggers: unknown[] };
    expect(trimmed.steps.map((s) => s.id)).toEqual(['deals', 'tasks']);
    expect(trimmed.triggers).toHaveLength(1);
  });
});

describe('chat guard for planner pipelines', () => {
  const engine = { ...stubEngine(), catalog };
  it('accepts catalog recipes of the routed packs; refuses others, sub-pipelines, allow and env', () => {
    const ok = { name: 'x', steps: [{ id: 'a', use: 'deal-stage-task', with: { deal_id: 1 } }] };
    expect(guardPipeline(engine, ok, ['core'])).toEqual([]);
    const rules = (json: Record<string, unknown>) =>
      guardPipeline(engine, json, ['core']).map((f) => `${f.field} ${f.rule}`);
    expect(rules({ name: 'x', steps: [{ id: 'a', use: 'feed-post' }] })).toEqual(['/steps/0/use outside-packs']);
    expect(rules({ name: 'x', steps: [{ id: 'a', use: 'no-such-recipe' }] })).toEqual(['/steps/0/use unknown-recipe']);
    expect(rules({ name: 'x', steps: [{ id: 'a', pipeline: 'other.yaml' }] })).toEqual([
      '/steps/0/pipeline chat-guard',
    ]);
    expect(rules({ ...ok, env: ['TOKEN'], allow: [] })).toEqual(['/allow chat-guard', '/env chat-guard']);
  });
});
