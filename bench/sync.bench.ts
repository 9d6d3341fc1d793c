/**
 * Sustained offline-sync throughput (issue 6): 10,000 deal creations queued in the sandbox portal's offline queue,
 * then the trigger service drains them end to end — event.offline.get (clear=0) → the reacting pipeline
 * (crm.lead.list + crm.lead.add through runPipeline, journal and keys in the store) → event.offline.clear.
 * Prints events/s, plus the same drain with a no-op runner (the sync machinery alone).
 * The sandbox runs without rate limits here; on a real portal the limiter (2 or 5 req/s) is the bound.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqlIdempotencyStore } from '../src/store/idempotency.js';
import { openStore } from '../src/store/index.js';
import { SqlJournal } from '../src/store/journal.js';
import { triggerStores } from '../src/store/triggers.js';
import { startTriggerService } from '../src/triggers/service.js';
import { loadPipelinesDir } from '../src/triggers/setup.js';
import { createDeals, startSandboxApp } from '../tests/triggers/sandboxApp.js';

const N = Number(process.env.SYNC_BENCH_EVENTS ?? 10_000);

async function drain(label: string, noop: boolean): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'b24flow-syncbench-'));
  const prevData = process.env.B24FLOW_DATA_DIR;
  process.env.B24FLOW_DATA_DIR = join(dir, 'data');
  const sb = await startSandboxApp(join(dir, 'data'));
  try {
    cpSync(join(import.meta.dirname, '..', 'tests', 'triggers', 'fixtures', 'kill'), join(dir, 'pipelines'), {
      recursive: true,
    });
    const pipelines = await loadPipelinesDir(join(dir, 'pipelines'));
    await sb.app.call('event.bind', { event: 'ONCRMDEALADD', event_type: 'offline', auth_connector: 'b24flow' });
    const t0 = performance.now();
    await createDeals(sb.hook, N);
    const tQueue = performance.now() - t0;
    const queued = (await sb.app.call<unknown[]>('event.offline.list', { start: 0 })).total ?? 0;
    const start = performance.now();
    const store = await openStore({ dataDir: join(dir, 'data') });
    const svc = await startTriggerService({
      runOptions: { journal: new SqlJournal(store), idempotency: new SqlIdempotencyStore(store) },
      client: sb.app,
      pipelines,
      dataDir: join(dir, 'data'),
      stores: triggerStores(store),
      syncEveryMs: 0,
      parallel: 8,
      log: () => {},
      ...(noop ? { run: async () => ({ ok: true, status: 'completed' }) } : {}),
    });
    await svc.worker!.idle();
    for (;;) {
      await svc.worker!.pass();
      const left = (await sb.app.call<unknown[]>('event.offline.list', { start: 0 })).total ?? 0;
      if (!left) break;
    }
    const secs = (performance.now() - start) / 1000;
    const processed = await svc.metrics.value('b24flow_events_processed_total');
    await svc.close(1000);
    await store.close();
    console.log(
      `${label}: ${queued} queued events (queued in ${(tQueue / 1000).toFixed(1)} s), drained in ${secs.toFixed(2)} s → ${(processed / secs).toFixed(0)} events/s end to end`,
    );
  } finally {
    await sb.close();
    if (prevData === undefined) delete process.env.B24FLOW_DATA_DIR;
    else process.env.B24FLOW_DATA_DIR = prevData;
    rmSync(dir, { recursive: true, force: true });
  }
}

await drain('offline sync, reacting pipeline (lead per deal, 2 REST calls + journal per event)', false);
await drain('offline sync, no-op pipeline (get/dispatch/clear machinery only)', true);
