/**
 * Automatic batching with `$result` references: two fan-outs over the same items, the second reading the first's
 * result as a whole field, run as pairs in shared batch requests (25 pairs per request) over real HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { all, cli, startPortal, type TestPortal } from './helpers.js';

let p: TestPortal;
beforeAll(async () => {
  p = await startPortal({ size: 5 });
});
afterAll(async () => {
  await p?.close();
});

describe('fused fan-outs', () => {
  it('creates 60 deals and their 60 notes in 3 batch requests, each note on its own deal', async () => {
    const check = await cli(['check', 'tests/fixtures/pipelines/deal-and-note.yaml'], p.env);
    expect(check.code).toBe(0);
    await p.sb.admin.resetStats();
    const r = await cli(
      ['run', 'tests/fixtures/pipelines/deal-and-note.yaml', '--mode', 'full', '--confirm-write'],
      p.env,
    );
    expect(r.stderr + r.code).toMatch(/0$/);
    expect(r.stdout).toContain('Created 60 deals');
    const stats = await p.sb.admin.stats();
    expect(stats.byMethod.batch).toBe(3);
    const deals = (
      await all<{ ID: string; TITLE: string }>(p.client, 'crm.deal.list', { select: ['ID', 'TITLE'] })
    ).filter((d) => /^pair \d+$/.test(d.TITLE));
    expect(deals).toHaveLength(60);
    const notes = await all<{ ENTITY_ID: string; COMMENT: string }>(p.client, 'crm.timeline.comment.list', {
      filter: { ENTITY_TYPE: 'deal' },
      select: ['ID', 'ENTITY_ID', 'COMMENT'],
    });
    for (const d of deals) {
      const mine = notes.filter((n) => String(n.ENTITY_ID) === String(d.ID));
      expect(mine.map((n) => n.COMMENT)).toEqual([`note for ${d.TITLE}`]);
    }
  });
});
