import { afterAll, describe, expect, it } from 'vitest';
import { PlanRefusal } from '../../src/agent/engine.js';
import { toPlanView, toRefusal, toRunView } from '../../src/agent/runtime.js';
import { PlanRefused } from '../../src/pipeline/index.js';
import { findSecrets } from './support/secrets.js';
import { createdDataDirs, TEST_SECRETS } from './support/setup.js';
import { stubCatalog } from './support/stubEngine.js';

describe('runtime mapping', () => {
  it('maps plan refusals by reason', () => {
    for (const reason of ['expired', 'used', 'drifted', 'unknown', 'unconfirmed'] as const) {
      const r = toRefusal(new PlanRefused(reason, `plan p1 ${reason}`));
      expect(r).toBeInstanceOf(PlanRefusal);
      expect(r?.reason).toBe(reason);
    }
    expect(toRefusal(new PlanRefused('portal', 'other portal'))?.reason).toBe('unknown');
    expect(toRefusal(new Error('ECONNRESET'))).toBeUndefined();
  });

  it('renders writes as one-liners with diffs for updates', () => {
    const v = toPlanView(
      {
        id: 'p1',
        createdAt: '2026-01-01T00:00:00Z',
        expiresAt: '2026-01-01T00:30:00Z',
        risk: 'write',
        riskFields: ['STAGE_ID'],
        writes: [
          {
            step: 'a',
            method: 'crm.deal.add',
            entity: 'deal',
            risk: 'write',
            params: { fields: { TITLE: 'X', OPPORTUNITY: 5 } },
          },
          {
            step: 'b',
            method: 'crm.deal.update',
            entity: 'deal',
            risk: 'write',
            params: { id: 7, fields: { STAGE_ID: 'WON' } },
            diff: [{ field: 'STAGE_ID', before: 'NEW', after: 'WON' }],
          },
          { step: 'c', method: 'crm.deal.delete', entity: 'deal', risk: 'destructive', params: { id: 9 } },
        ],
        cost: { text: '3 calls' },
      },
      stubCatalog(),
    );
    expect(v.writes.map((w) => w.text)).toEqual([
      'create deal "X", OPPORTUNITY 5',
      'update deal 7, STAGE_ID: NEW → WON',
      'delete deal 9',
    ]);
    expect(v.cost.text).toBe('3 calls');
  });

  it('collects created object ids from add steps', () => {
    const run = toRunView(
      {
        runId: 'r1',
        status: 'completed',
        steps: [
          { method: 'crm.deal.add', results: [11, 12] },
          { method: 'crm.deal.list', results: [[{ ID: 1 }]] },
          { method: 'im.message.add', result: { id: 5 } },
        ],
        summary: { en: ['Created 2 deals'], ru: ['Создано 2 сделки'] },
      },
      stubCatalog(),
    );
    expect(run.objectIds).toEqual(['deal:11', 'deal:12', 'chat_message:5']);
  });
});

afterAll(() => {
  expect(findSecrets(createdDataDirs, TEST_SECRETS)).toEqual([]);
});
