import { describe, expect, it } from 'vitest';
import { measurePromptSize, ROMASHKA } from './support/promptSize.js';

describe('lean planner context', () => {
  it(`"${ROMASHKA}" is sent with ≤ 3,000 tokens, far below the full catalog`, async () => {
    const m = await measurePromptSize();
    expect(m.packs).toEqual(['core']);
    expect(m.sentBody).toContain('crm.deal.add');
    expect(m.sentBody).not.toContain('im.message.add');
    expect(m.leanTokens).toBeLessThanOrEqual(3000);
    expect(m.fullTokens).toBeGreaterThan(m.leanTokens * 2);
  });
});
