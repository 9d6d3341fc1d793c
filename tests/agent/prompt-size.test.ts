import { describe, expect, it } from 'vitest';
import { measurePromptSize, ROMASHKA, WEEKLY_REPORT } from './support/promptSize.js';

/**
 * Prompt tokens (gpt-tokenizer, o200k) of the first planner request per request class, as the endpoint received
 * it: system rules, the routed packs' method cards, the recipes that fit, one trimmed shipped pipeline as an
 * example, and the response schema generated from schemas/pipeline.schema.json.
 */
describe('lean planner context', () => {
  it(`single-pack: "${ROMASHKA}" is sent with ≤ 3,000 tokens, far below the full catalog`, async () => {
    const m = await measurePromptSize();
    console.log(`prompt tokens, single-pack (${m.packs.join('+')}): ${m.leanTokens}; every pack: ${m.fullTokens}`);
    expect(m.packs).toEqual(['core']);
    expect(m.sentBody).toContain('crm.deal.add');
    expect(m.sentBody).not.toContain('im.message.add');
    // the recipes that fit and an example pipeline travel with the cards
    expect(m.sentBody).toContain('deal-stage-task(');
    expect(m.sentBody).toContain('Examples:');
    expect(m.sentBody).toContain('foreach');
    expect(m.leanTokens).toBeLessThanOrEqual(3000);
    expect(m.fullTokens).toBeGreaterThan(m.leanTokens * 2);
  });

  it(`two-pack: "${WEEKLY_REPORT}" stays well below the full catalog`, async () => {
    const m = await measurePromptSize(WEEKLY_REPORT);
    console.log(`prompt tokens, two-pack (${m.packs.join('+')}): ${m.leanTokens}; every pack: ${m.fullTokens}`);
    expect([...m.packs].sort()).toEqual(['comms', 'core']);
    expect(m.sentBody).toContain('im.message.add');
    expect(m.leanTokens).toBeLessThanOrEqual(3500);
    expect(m.fullTokens).toBeGreaterThan(m.leanTokens * 1.5);
  });
});
