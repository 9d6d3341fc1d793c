/** A full run that follows its plan takes the plan's reads instead of reading the same data again. */
import { describe, expect, it } from 'vitest';
import { loadPipelineText } from '../../src/pipeline/load.js';
import { planPipeline, runPipeline } from '../../src/pipeline/run/index.js';
import { InMemoryClient } from './inMemoryClient.js';
import { testCatalog } from './testCatalog.js';

class Client extends InMemoryClient {
  calls: string[] = [];
  tasks = 0;
  exec(method: string): unknown {
    this.calls.push(method);
    if (method === 'crm.deal.list') return [{ ID: '1', TITLE: 'A', ASSIGNED_BY_ID: '1' }];
    if (method === 'crm.deal.get') return { ID: '1', TITLE: 'A' };
    if (method === 'tasks.task.add') return { task: { id: ++this.tasks } };
    throw Object.assign(new Error(`no ${method}`), { code: 'ERROR_METHOD_NOT_FOUND' });
  }
}

const P = `name: r
steps:
  - id: deals
    method: crm.deal.list
  - id: task
    foreach: \${{ steps.deals.result }}
    method: tasks.task.add
    idempotency_key: \${{ item.ID }}
    params: { fields: { TITLE: "\${{ item.TITLE }}", RESPONSIBLE_ID: 1 } }
  - id: after
    needs: [task]
    method: crm.deal.get
    params: { id: 1 }
`;

describe('run after plan', () => {
  it('reuses reads that depend on no write and re-reads the ones after a write', async () => {
    const c = new Client();
    const p = loadPipelineText(P, 'r.yaml');
    const plan = await planPipeline(p, {
      client: c,
      catalog: testCatalog,
      journal: false,
      store: false,
      withReads: true,
    });
    expect(plan.reads).toBeDefined();
    expect(JSON.stringify(plan)).not.toContain('"reads"');
    const planned = [...c.calls];
    expect(planned).toContain('crm.deal.list');
    c.calls = [];
    const r = await runPipeline(p, {
      client: c,
      catalog: testCatalog,
      journal: false,
      mode: 'full',
      confirmWrite: true,
      now: plan.now,
      planReads: plan.reads,
    });
    expect(r.status).toBe('completed');
    expect(c.calls).toEqual(['tasks.task.add', 'crm.deal.get']);
    expect(r.steps.find((s) => s.id === 'deals')!.requests).toBe(0);
    // without the plan's reads the run reads again
    c.calls = [];
    await runPipeline(p, { client: c, catalog: testCatalog, journal: false, mode: 'full', confirmWrite: true });
    expect(c.calls[0]).toBe('crm.deal.list');
  });
});
