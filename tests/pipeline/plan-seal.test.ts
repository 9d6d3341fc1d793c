/**
 * The seal of stored plans (src/pipeline/run/planSeal.ts) through the library API: a plan made for one principal
 * is refused to another. (The plan key of the store, shared by processes: tests/store/plans.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { loadPipelineText } from '../../src/pipeline/load.js';
import { applyPlan, MemoryPlanStore, PlanRefused, planPipeline } from '../../src/pipeline/run/index.js';
import { InMemoryClient } from './inMemoryClient.js';
import { testCatalog } from './testCatalog.js';

class Deals extends InMemoryClient {
  deals = new Map<number, Record<string, unknown>>([[1, { ID: '1', TITLE: 'A', STAGE_ID: 'NEW' }]]);
  exec(method: string, params: { id?: number; fields?: Record<string, unknown> }): unknown {
    if (method === 'crm.deal.list') return [...this.deals.values()];
    if (method === 'crm.deal.get') return this.deals.get(Number(params.id));
    if (method === 'crm.deal.update') return Object.assign(this.deals.get(Number(params.id))!, params.fields) && true;
    throw Object.assign(new Error(`no ${method}`), { code: 'ERROR_METHOD_NOT_FOUND' });
  }
}

const MOVE = `name: move
steps:
  - id: deals
    method: crm.deal.list
  - id: move
    foreach: \${{ steps.deals.result }}
    method: crm.deal.update
    params: { id: "\${{ item.ID }}", fields: { STAGE_ID: WON } }
`;

const refusal = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (err: unknown) => err as PlanRefused,
  );

describe('plan principal', () => {
  it('only the principal that made a plan applies it', async () => {
    const client = new Deals();
    const o = {
      client,
      catalog: testCatalog,
      store: new MemoryPlanStore(),
      journal: false as const,
      idempotency: false as const,
    };
    const plan = await planPipeline(loadPipelineText(MOVE, 'move.yaml'), { ...o, principal: 'chat:alice' });
    expect(plan.principal).toBe('chat:alice');
    expect(plan.id).toMatch(/^p[0-9a-f]{32}$/);

    for (const principal of ['chat:bob', 'api:0123456789ab', undefined]) {
      const err = await refusal(applyPlan(plan.id, { ...o, confirmWrite: true, principal }));
      expect(err).toBeInstanceOf(PlanRefused);
      expect(err?.reason).toBe('principal');
      expect(err?.message).toBe(`plan ${plan.id} was made by chat:alice; ask them to apply it or make your own plan`);
      expect(client.deals.get(1)!.STAGE_ID).toBe('NEW');
    }

    const r = await applyPlan(plan.id, { ...o, confirmWrite: true, principal: 'chat:alice' });
    expect(r.status).toBe('completed');
    expect(client.deals.get(1)!.STAGE_ID).toBe('WON');
  });

  it('a plan made without a principal is refused to a named one', async () => {
    const client = new Deals();
    const o = {
      client,
      catalog: testCatalog,
      store: new MemoryPlanStore(),
      journal: false as const,
      idempotency: false as const,
    };
    const plan = await planPipeline(loadPipelineText(MOVE, 'move.yaml'), o);
    const err = await refusal(applyPlan(plan.id, { ...o, confirmWrite: true, principal: 'chat:mallory' }));
    expect(err?.reason).toBe('principal');
    expect(client.deals.get(1)!.STAGE_ID).toBe('NEW');
  });
});
