/**
 * The durable intake of online events (src/triggers/intake.ts), through real HTTP into `POST /bitrix/events`:
 * - events whose pipeline is refused (a write without `approve: [write]`, run by the real runner against the sandbox
 *   portal) all land in the dead-letter queue with the refusal as reason — none lost;
 * - a handler that throws (the processed-key table refuses writes) lands in the DLQ with its error;
 * - an event stored and acknowledged by a service that dies before processing it is processed by the next start,
 *   exactly once;
 * - an event that cannot be stored is not acknowledged (503);
 * - the offline worker settles through the same step: a throwing handler is retried, then dead-lettered.
 */
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../src/store/index.js';
import { Dispatcher, type RunRequest, type TriggerPipeline } from '../../src/triggers/dispatcher.js';
import { Metrics } from '../../src/triggers/metrics.js';
import { OfflineSyncWorker } from '../../src/triggers/offlineSync.js';
import { startTriggerService, type TriggerService } from '../../src/triggers/service.js';
import type { RestCaller } from '../../src/triggers/types.js';
import { FakeOfflineQueue } from './fakeQueue.js';
import { pipelineFromYaml, storesFor, tempDir } from './helpers.js';
import { runCli } from './processes.js';
import { type SandboxApp, startSandboxApp } from './sandboxApp.js';

const MEMBER = 'a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4';
const TOKEN = 'f00dfeedf00dfeedf00dfeedf00dfeed';

const t = tempDir('b24flow-intake-');
let sb: SandboxApp;
beforeAll(async () => {
  sb = await startSandboxApp(join(t.dir, 'sandbox-data'));
});
afterAll(async () => {
  await sb?.close();
  t.cleanup();
});
const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

let dirs = 0;
function dataDir(): string {
  const d = join(t.dir, `data-${++dirs}`);
  mkdirSync(d, { recursive: true });
  return d;
}

function dealAdd(id: string): string {
  return new URLSearchParams({
    event: 'ONCRMDEALADD',
    'data[FIELDS][ID]': id,
    ts: '1766047124',
    'auth[domain]': 'example.bitrix24.com',
    'auth[member_id]': MEMBER,
    'auth[application_token]': TOKEN,
  }).toString();
}

async function post(url: string, body: string): Promise<number> {
  const r = await fetch(`${url}/bitrix/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body,
  });
  await r.text();
  return r.status;
}

const onDeal = (approve: boolean) => `name: on-deal
triggers:
  - event: { events: [ONCRMDEALADD]${approve ? ', approve: [write]' : ''} }
steps:
  - id: deal
    method: crm.deal.get
    params: { id: "\${{ inputs.event.objectId }}" }
`;

const noClient = { call: async () => ({ result: null }) } as unknown as RestCaller;

/** Makes every insert into `table` of the store fail with `message`, as a full or read-only database would. */
async function refuseInserts(store: Store, table: string, message: string): Promise<void> {
  await sql
    .raw(`CREATE TRIGGER refuse_${table} BEFORE INSERT ON ${table} BEGIN SELECT RAISE(ABORT, '${message}'); END`)
    .execute(store.db);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function start(
  dir: string,
  pipelines: TriggerPipeline[],
  o: Partial<Parameters<typeof startTriggerService>[0]> = {},
): Promise<{ svc: TriggerService; logs: string[] }> {
  const logs: string[] = [];
  const svc = await startTriggerService({
    client: noClient,
    pipelines,
    dataDir: dir,
    stores: await storesFor(dir),
    tokens: new Map([[MEMBER, TOKEN]]),
    offline: false,
    schedules: false,
    log: (l) => logs.push(l),
    ...o,
  });
  return { svc, logs };
}

describe('online event intake', () => {
  it('dead-letters every online event whose pipeline is refused (write without approve), with the reason; none lost', async () => {
    const dir = dataDir();
    const src = join(dir, 'pipelines');
    cpSync(join(import.meta.dirname, 'fixtures', 'kill'), src, { recursive: true });
    // the same pipeline without `approve: [write]`: its crm.lead.add needs a confirmation a trigger cannot give
    const file = join(src, 'deal-to-lead.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace(', approve: [write]', ''));
    const p = await pipelineFromYaml(src, 'deal-to-lead', readFileSync(file, 'utf8'));
    const { svc } = await start(dir, [p], {
      client: sb.hook,
      runOptions: {},
      maxAttempts: 2,
      backoffMs: 5,
      parallel: 4,
    });
    cleanups.push(() => svc.close(1000));
    const N = 60;
    const statuses = await Promise.all(Array.from({ length: N }, (_, i) => post(svc.url, dealAdd(String(9000 + i)))));
    expect(statuses.every((s) => s === 200)).toBe(true);
    for (let i = 0; i < 500 && (await svc.dlq.size()) < N; i++) await sleep(20);
    await svc.intake.drain();
    const dl = await svc.dlq.list();
    expect(dl).toHaveLength(N);
    expect(new Set(dl.map((d) => d.objectId))).toEqual(new Set(Array.from({ length: N }, (_, i) => String(9000 + i))));
    for (const d of dl) {
      expect(d).toMatchObject({ event: 'ONCRMDEALADD', source: 'online', pipelines: ['deal-to-lead'], attempts: 2 });
      expect(d.error).toMatch(/^deal-to-lead: /);
      expect(d.error).toMatch(/confirm-write|needs/i);
    }
    // settled: nothing left in the intake store
    expect(await (await storesFor(dir)).events.count()).toBe(0);
    const metrics = await (await fetch(`${svc.url}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`^b24flow_dlq_entries ${N}$`, 'm'));
    expect(metrics).toMatch(new RegExp(`b24flow_events_dead_lettered_total\\{source="online"\\} ${N}`));
  }, 60_000);

  it('dead-letters an online event whose handler throws, with its error', async () => {
    const dir = dataDir();
    const p = await pipelineFromYaml(dir, 'on-deal', onDeal(true));
    // a processed-key table that refuses writes: the dispatcher itself throws after the run
    await refuseInserts((await storesFor(dir)).store, 'processed_events', 'processed_events is read-only');
    const runs: RunRequest[] = [];
    const { svc } = await start(dir, [p], {
      maxAttempts: 2,
      backoffMs: 5,
      run: async (req) => {
        runs.push(req);
        return { ok: true, status: 'succeeded' };
      },
    });
    cleanups.push(() => svc.close(1000));
    expect(await post(svc.url, dealAdd('4242'))).toBe(200);
    for (let i = 0; i < 200 && (await svc.dlq.size()) === 0; i++) await sleep(10);
    const [d] = await svc.dlq.list();
    // the failed record was not taken for a processed one: the retry ran the pipeline again
    expect(runs).toHaveLength(2);
    expect(d).toMatchObject({ event: 'ONCRMDEALADD', objectId: '4242', pipelines: ['on-deal'], attempts: 2 });
    expect(d!.error).toMatch(/^dispatch: .*processed_events is read-only/);

    // a runner that throws is a failed run: dead-lettered with its message
    const dir2 = dataDir();
    const p2 = await pipelineFromYaml(dir2, 'on-deal', onDeal(true));
    const { svc: svc2 } = await start(dir2, [p2], {
      maxAttempts: 1,
      run: async () => {
        throw new Error('handler crashed');
      },
    });
    cleanups.push(() => svc2.close(1000));
    expect(await post(svc2.url, dealAdd('4243'))).toBe(200);
    for (let i = 0; i < 200 && (await svc2.dlq.size()) === 0; i++) await sleep(10);
    expect(await svc2.dlq.list()).toMatchObject([{ objectId: '4243', error: 'on-deal: handler crashed' }]);
  });

  it('processes an event acknowledged by a service that died before processing it at the next start, exactly once', async () => {
    const dir = dataDir();
    const p = await pipelineFromYaml(dir, 'on-deal', onDeal(true));
    // first life: the run never starts its work and the lease is never renewed (as if the process died right after
    // the 200); its lease runs out after 3 s
    const { svc: first } = await start(dir, [p], {
      run: () => new Promise(() => {}),
      intake: { leaseMs: 3000, renewLeases: false, pollMs: 0 },
    });
    const { events } = await storesFor(dir);
    expect(await post(first.url, dealAdd('777'))).toBe(200);
    // the accepted event is committed to the store before the answer, held by the worker that accepted it
    expect(await events.count()).toBe(1);
    const cliEnv = { B24FLOW_DATA_DIR: dir, BITRIX_WEBHOOK_URL: '', B24_CLIENT_ID: '', B24_CLIENT_SECRET: '' };
    const pending = await runCli(['events', 'pending', '--json'], cliEnv);
    expect(pending.code).toBe(0);
    const held = JSON.parse(pending.stdout) as { items: { leaseUntilMs: number }[] };
    expect(held).toMatchObject({
      count: 1,
      items: [{ event: { name: 'ONCRMDEALADD', objectId: '777' }, attempts: 0, leasedBy: first.intake.holder }],
    });
    expect((await runCli(['events', 'pending'], cliEnv)).stdout).toMatch(
      /ONCRMDEALADD #777 {2}attempts 0 .*held by .*\n1 accepted event waiting\n$/,
    );
    await first.http.close();
    await sleep(held.items[0]!.leaseUntilMs - Date.now() + 100);

    const runs: RunRequest[] = [];
    const counting = async (req: RunRequest) => {
      runs.push(req);
      return { ok: true, status: 'succeeded' };
    };
    const { svc: second, logs } = await start(dir, [p], { run: counting });
    await second.intake.drain();
    await second.close(1000);
    expect(runs).toHaveLength(1);
    expect(runs[0]!.inputs).toMatchObject({ event: { name: 'ONCRMDEALADD', objectId: '777', source: 'online' } });
    expect(logs.join('\n')).toMatch(/1 accepted event\(s\) from an earlier run queued again/);
    expect(await events.count()).toBe(0);
    expect((await runCli(['events', 'pending'], cliEnv)).stdout).toBe('No accepted event is waiting.\n');

    // a third start has nothing left to do
    const { svc: third } = await start(dir, [p], { run: counting });
    await third.intake.drain();
    await third.close(1000);
    expect(runs).toHaveLength(1);
    expect(await (await storesFor(dir)).deadLetters.size()).toBe(0);
  });

  it('answers 503, not 200, when the accepted event cannot be stored (the store is its only copy)', async () => {
    const dir = dataDir();
    const p = await pipelineFromYaml(dir, 'on-deal', onDeal(true));
    const runs: RunRequest[] = [];
    const { svc, logs } = await start(dir, [p], {
      run: async (req) => {
        runs.push(req);
        return { ok: true, status: 'succeeded' };
      },
    });
    cleanups.push(() => svc.close(1000));
    // the events table refuses writes: every store fails, as a full or read-only disk would
    await refuseInserts((await storesFor(dir)).store, 'events', 'database or disk is full');
    expect(await post(svc.url, dealAdd('55'))).toBe(503);
    await new Promise((r) => setTimeout(r, 50));
    expect(runs).toHaveLength(0);
    expect(logs.join('\n')).toMatch(/online event ONCRMDEALADD: not stored \(.*\), answered 503/);
  });

  it('the offline path settles the same way: a handler that throws is retried, then dead-lettered with its error', async () => {
    const dir = dataDir();
    const p = await pipelineFromYaml(dir, 'on-deal', onDeal(true));
    const stores = await storesFor(dir);
    await refuseInserts(stores.store, 'processed_events', 'processed_events is read-only');
    const q = new FakeOfflineQueue();
    q.push('ONCRMDEALADD', 31);
    const metrics = new Metrics();
    const dlq = stores.deadLetters;
    let clock = 1_000_000;
    const w = new OfflineSyncWorker({
      client: q,
      dispatcher: new Dispatcher({
        pipelines: [p],
        processed: stores.processed,
        metrics,
        run: async () => ({ ok: true, status: 'completed' }),
      }),
      dlq,
      metrics,
      state: stores.offline,
      maxAttempts: 2,
      backoffMs: 1000,
      now: () => clock,
      syncEveryMs: 0,
      adoptOrphans: false,
    });
    const first = await w.pass();
    expect(first.failed).toBe(1);
    clock += 1000;
    const second = await w.pass();
    expect(second.deadLettered).toBe(1);
    expect(await dlq.list()).toMatchObject([
      { objectId: '31', source: 'offline', attempts: 2, pipelines: ['on-deal'] },
    ]);
    expect((await dlq.list())[0]!.error).toMatch(/^dispatch: .*processed_events is read-only/);
    expect(q.calls.filter((c) => c.method === 'event.offline.error')).toHaveLength(1);
    expect(await metrics.value('b24flow_events_dead_lettered_total', { source: 'offline' })).toBe(1);
  });
});
