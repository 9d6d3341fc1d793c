import { afterEach, describe, expect, it } from 'vitest';
import { Dispatcher, type RunRequest } from '../../src/triggers/dispatcher.js';
import { Metrics } from '../../src/triggers/metrics.js';
import { AppAuthRequired, OfflineSyncWorker } from '../../src/triggers/offlineSync.js';
import { FakeOfflineQueue } from './fakeQueue.js';
import { pipelineFromYaml, storesFor, tempDir } from './helpers.js';

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(fail: (req: RunRequest) => boolean) {
  const t = tempDir();
  cleanups.push(t.cleanup);
  const p = await pipelineFromYaml(
    t.dir,
    'react',
    `name: react
triggers:
  - event: { events: [ONCRMDEALADD, ONCRMDEALUPDATE], approve: [write] }
steps:
  - id: deal
    method: crm.deal.get
    params: { id: "\${{ inputs.event.objectId }}" }
`,
  );
  const q = new FakeOfflineQueue();
  const runs: RunRequest[] = [];
  let clock = 1_000_000;
  const metrics = new Metrics();
  const stores = await storesFor(t.dir);
  const dlq = stores.deadLetters;
  const make = () => {
    const dispatcher = new Dispatcher({
      pipelines: [p],
      processed: stores.processed,
      metrics,
      run: async (req) => {
        runs.push(req);
        return fail(req)
          ? { ok: false, status: 'failed', error: 'boom: pipeline threw' }
          : { ok: true, status: 'completed' };
      },
    });
    return new OfflineSyncWorker({
      client: q,
      dispatcher,
      dlq,
      metrics,
      state: stores.offline,
      maxAttempts: 3,
      backoffMs: 1000,
      now: () => clock,
      syncEveryMs: 0,
    });
  };
  return { q, runs, dlq, metrics, make, tick: (ms: number) => (clock += ms), dir: t.dir };
}

describe('offline sync worker', () => {
  it('reads with clear=0 under its process id, clears only processed rows, retries a poison event with back-off and dead-letters it after N attempts while the rest flow on', async () => {
    const s = await setup((req) => (req.inputs.event as { objectId: string }).objectId === '13');
    for (let i = 1; i <= 120; i++) s.q.push('ONCRMDEALADD', i);
    const w = s.make();
    const r1 = await w.pass();
    expect(r1.processed).toBe(119);
    expect(r1.failed).toBe(1);
    // every get used clear=0 and our persisted process id
    const gets = s.q.calls.filter((c) => c.method === 'event.offline.get');
    expect(gets.every((c) => c.params.clear === 0)).toBe(true);
    expect(gets[0]!.params.process_id).toMatch(/^b24flow-/);
    // clears carry only ids of processed rows, never the poison row
    const poisonRow = s.q.rows.find((r) => (r.EVENT_DATA as any).FIELDS.ID === '13')!;
    const cleared = s.q.calls.filter((c) => c.method === 'event.offline.clear').flatMap((c) => c.params.id as string[]);
    expect(cleared).toHaveLength(119);
    expect(cleared).not.toContain(String(poisonRow.ID));
    expect(s.q.rows).toHaveLength(1);

    // in back-off: a pass now does not run it again
    await w.pass();
    expect(s.runs.filter((r) => (r.inputs.event as any).objectId === '13')).toHaveLength(1);
    s.tick(1000);
    await w.pass();
    expect(s.runs.filter((r) => (r.inputs.event as any).objectId === '13')).toHaveLength(2);
    s.q.push('ONCRMDEALUPDATE', 500); // new work keeps flowing while the poison waits
    await w.pass();
    expect(s.runs.filter((r) => (r.inputs.event as any).objectId === '500')).toHaveLength(1);
    s.tick(2000);
    const r3 = await w.pass();
    expect(r3.deadLettered).toBe(1);
    const dl = await s.dlq.list();
    expect(dl).toHaveLength(1);
    expect(dl[0]).toMatchObject({
      event: 'ONCRMDEALADD',
      objectId: '13',
      attempts: 3,
      pipelines: ['react'],
      error: 'react: boom: pipeline threw',
    });
    expect(dl[0]!.payloadHash).toMatch(/^[0-9a-f]{64}$/);
    expect(Date.parse(dl[0]!.lastSeen)).toBeGreaterThanOrEqual(Date.parse(dl[0]!.firstSeen));
    // reported to the portal with event.offline.error, not cleared
    const errs = s.q.calls.filter((c) => c.method === 'event.offline.error');
    expect(errs).toHaveLength(1);
    expect(errs[0]!.params.message_id).toEqual(['ONCRMDEALADD:13']);
    expect(s.q.rows).toMatchObject([{ ERROR: 1 }]);
    expect(await s.metrics.value('b24flow_run_failures_total', { pipeline: 'react' })).toBe(3);
  });

  it('after a crash re-reads its reserved rows and never runs a processed change twice', async () => {
    const s = await setup(() => false);
    for (let i = 1; i <= 60; i++) s.q.push('ONCRMDEALADD', i);
    const w1 = s.make();
    // simulate a crash after processing but before clearing: the portal refuses the clear once
    const origCall = s.q.call.bind(s.q);
    let crashed = false;
    s.q.call = (async (m: string, p: any) => {
      if (m === 'event.offline.clear' && !crashed) {
        crashed = true;
        throw new Error('connection reset');
      }
      return origCall(m, p);
    }) as typeof s.q.call;
    await w1.pass().catch(() => {});
    expect(s.runs).toHaveLength(50);
    // a new worker (new process) with the same data dir picks up the same reservation
    const w2 = s.make();
    await w2.pass();
    expect(s.q.rows).toHaveLength(0);
    const ids = s.runs.map((r) => (r.inputs.event as any).objectId);
    expect(new Set(ids).size).toBe(60);
    expect(ids).toHaveLength(60);
  });

  it('explains WRONG_AUTH_TYPE with a webhook', async () => {
    const s = await setup(() => false);
    s.q.call = (async () => {
      throw Object.assign(new Error('event.offline.get: WRONG_AUTH_TYPE — Current authorization type is denied'), {
        code: 'WRONG_AUTH_TYPE',
      });
    }) as typeof s.q.call;
    const w = s.make();
    const err = await w.pass().catch((e) => e);
    expect(err).toBeInstanceOf(AppAuthRequired);
    expect(err.message).toMatch(/B24_CLIENT_ID.*B24_CLIENT_SECRET/s);
    expect(err.message).toMatch(/Local application/);
  });
});
