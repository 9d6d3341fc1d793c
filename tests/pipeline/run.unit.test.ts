/**
 * Interpreter semantics with an in-memory stand-in client (the real HTTP runs are in *.e2e.test.ts): batching,
 * modes and confirmations, journal-based resume without repeated writes, plan ids and drift.
 */
import { describe, expect, it } from 'vitest';
import { MemoryJournal } from '../../src/pipeline/journal.js';
import { loadPipelineText } from '../../src/pipeline/load.js';
import { planPipeline, runPipeline } from '../../src/pipeline/run/index.js';
import { InMemoryClient } from './inMemoryClient.js';
import { testCatalog } from './testCatalog.js';

class FakeClient extends InMemoryClient {
  deals = new Map<number, Record<string, unknown>>();
  tasks: Record<string, unknown>[] = [];
  failAfter = Number.POSITIVE_INFINITY;
  constructor(n: number) {
    super();
    for (let i = 1; i <= n; i++)
      this.deals.set(i, { ID: String(i), TITLE: `Deal ${i}`, ASSIGNED_BY_ID: '1', STAGE_ID: 'NEW' });
  }
  exec(method: string, params: any): unknown {
    if (this.tasks.length >= this.failAfter) throw Object.assign(new Error('killed'), { code: 'KILLED' });
    switch (method) {
      case 'crm.deal.list':
        return [...this.deals.values()].filter(
          (d) => !params?.filter?.ORIGIN_ID || d.ORIGIN_ID === params.filter.ORIGIN_ID,
        );
      case 'crm.deal.get':
        return this.deals.get(Number(params.id));
      case 'crm.deal.update':
        Object.assign(this.deals.get(Number(params.id))!, params.fields);
        return true;
      case 'crm.deal.add': {
        const id = this.deals.size + 1;
        this.deals.set(id, { ID: String(id), ...params.fields });
        return id;
      }
      case 'tasks.task.add':
        this.tasks.push(params.fields);
        return { task: { id: this.tasks.length } };
      default:
        throw Object.assign(new Error(`no ${method}`), { code: 'ERROR_METHOD_NOT_FOUND' });
    }
  }
}

const STALE = `name: t
steps:
  - id: deals
    method: crm.deal.list
  - id: tasks
    foreach: \${{ steps.deals.result }}
    method: tasks.task.add
    idempotency_key: \${{ "t-" + item.ID }}
    params:
      fields:
        TITLE: { $template: "Call about {{ item.TITLE }}" }
        RESPONSIBLE_ID: \${{ item.ASSIGNED_BY_ID }}
`;

describe('runPipeline', () => {
  it('shadow plans and writes nothing; full without --confirm-write refuses', async () => {
    const c = new FakeClient(3);
    const p = loadPipelineText(STALE, 't.yaml');
    const r = await runPipeline(p, { client: c, catalog: testCatalog, journal: false });
    expect(r.status).toBe('planned');
    expect(r.plan!.writes.map((w) => (w.params as any).fields.TITLE)).toEqual([
      'Call about Deal 1',
      'Call about Deal 2',
      'Call about Deal 3',
    ]);
    expect(c.tasks).toHaveLength(0);
    const f = await runPipeline(p, { client: c, catalog: testCatalog, journal: false, mode: 'full' });
    expect(f.status).toBe('refused');
    expect(f.error).toContain('--confirm-write');
    expect(c.tasks).toHaveLength(0);
  });

  it('full run batches 120 writes into 3 requests and summarises in both languages', async () => {
    const c = new FakeClient(120);
    const p = loadPipelineText(STALE, 't.yaml');
    const r = await runPipeline(p, {
      client: c,
      catalog: testCatalog,
      journal: false,
      mode: 'full',
      confirmWrite: true,
    });
    expect(r.error ?? r.status).toBe('completed');
    expect(c.tasks).toHaveLength(120);
    expect(r.steps.find((s) => s.id === 'tasks')!.requests).toBe(3);
    expect(r.summary.en).toEqual(['Created 120 tasks']);
    expect(r.summary.ru).toEqual(['Создано 120 задач']);
  });

  it('canary runs safe creates and refuses updates with the reason', async () => {
    const c = new FakeClient(2);
    const p = loadPipelineText(
      `name: c
steps:
  - id: deals
    method: crm.deal.list
  - id: move
    foreach: \${{ steps.deals.result }}
    method: crm.deal.update
    idempotency_key: \${{ item.ID }}
    params: { id: "\${{ item.ID }}", fields: { STAGE_ID: WON } }
  - id: add
    method: crm.deal.add
    params: { fields: { TITLE: New } }
`,
      'c.yaml',
    );
    const r = await runPipeline(p, { client: c, catalog: testCatalog, journal: false, mode: 'canary', lang: 'en' });
    expect(r.refusals).toEqual([
      { step: 'move', reason: 'canary runs only safe creates; this change needs --mode full' },
    ]);
    expect([...c.deals.values()].filter((d) => d.STAGE_ID === 'WON')).toHaveLength(0);
    expect(c.deals.size).toBe(3);
  });

  it('resume after a crash skips the writes the journal saw done', async () => {
    const c = new FakeClient(130);
    c.failAfter = 60; // the "process dies" after 60 tasks: the rest of that batch errors
    const journal = new MemoryJournal();
    const p = loadPipelineText(STALE, 't.yaml');
    const r1 = await runPipeline(p, { client: c, catalog: testCatalog, journal, mode: 'full', confirmWrite: true });
    expect(r1.status).toBe('failed');
    expect(c.tasks).toHaveLength(60);
    c.failAfter = Number.POSITIVE_INFINITY;
    const { resumeRun } = await import('../../src/pipeline/run/index.js');
    const r2 = await resumeRun(r1.runId, { client: c, catalog: testCatalog, journal });
    expect(r2.status).toBe('completed');
    expect(c.tasks).toHaveLength(130);
    expect(new Set(c.tasks.map((t) => t.TITLE)).size).toBe(130);
  });

  it('plan shows update diffs and its id changes when the data drifts', async () => {
    const c = new FakeClient(2);
    const p = loadPipelineText(
      `name: m
steps:
  - id: deals
    method: crm.deal.list
  - id: move
    foreach: \${{ steps.deals.result }}
    method: crm.deal.update
    idempotency_key: \${{ item.ID }}
    params: { id: "\${{ item.ID }}", fields: { STAGE_ID: WON } }
`,
      'm.yaml',
    );
    const a = await planPipeline(p, { client: c, catalog: testCatalog, store: false, now: 1 });
    expect(a.writes[0]!.diff).toEqual([{ field: 'STAGE_ID', before: 'NEW', after: 'WON' }]);
    expect(a.riskFields).toEqual(['STAGE_ID']);
    const same = await planPipeline(p, { client: c, catalog: testCatalog, store: false, now: 1 });
    expect(same.id).toBe(a.id);
    c.deals.get(1)!.TITLE = 'renamed';
    const drifted = await planPipeline(p, { client: c, catalog: testCatalog, store: false, now: 1 });
    expect(drifted.id).not.toBe(a.id);
  });
});

describe('step timeout', () => {
  it('aborts the step when its requests take longer than `timeout`', async () => {
    const c = new FakeClient(3);
    c.batch = (_cmds: unknown, opts?: { signal?: AbortSignal }) =>
      new Promise((_res, rej) => {
        const t = setTimeout(() => rej(new Error('too late')), 5000);
        opts?.signal?.addEventListener('abort', () => {
          clearTimeout(t);
          rej(opts.signal!.reason);
        });
      });
    const p = loadPipelineText(
      `name: t
steps:
  - id: deals
    method: crm.deal.list
  - id: tasks
    foreach: \${{ steps.deals.result }}
    method: tasks.task.add
    timeout: 50ms
    idempotency_key: \${{ item.ID }}
    params: { fields: { TITLE: x, RESPONSIBLE_ID: 1 } }
`,
      't.yaml',
    );
    const t0 = Date.now();
    const r = await runPipeline(p, {
      client: c,
      catalog: testCatalog,
      journal: false,
      mode: 'full',
      confirmWrite: true,
    });
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(r.status).toBe('failed');
    expect(r.error).toContain('step "tasks" timed out after 50ms');
  });
});
