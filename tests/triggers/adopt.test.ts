/**
 * A worker killed between the portal's `event.offline.get` answer and writing the new process id down would leave
 * rows reserved under an id nobody knows (for 30 days). The next worker finds such reservations through
 * `event.offline.list` and adopts them: against the sandbox portal over HTTP.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dispatcher } from '../../src/triggers/dispatcher.js';
import { Metrics } from '../../src/triggers/metrics.js';
import { OfflineSyncWorker } from '../../src/triggers/offlineSync.js';
import { pipelineFromYaml, storesFor, tempDir } from './helpers.js';
import { createDeals, type SandboxApp, startSandboxApp } from './sandboxApp.js';

let sb: SandboxApp;
const t = tempDir('b24flow-adopt-');
beforeAll(async () => {
  sb = await startSandboxApp(join(t.dir, 'data'));
});
afterAll(async () => {
  await sb?.close();
  t.cleanup();
});

describe('orphaned reservations', () => {
  it('adopts rows reserved under a lost process id and processes every row once', async () => {
    await sb.app.call('event.bind', { event: 'ONCRMDEALADD', event_type: 'offline' });
    const deals = await createDeals(sb.hook, 70);
    const lost = await sb.app.call<{ process_id: string; events: unknown[] }>('event.offline.get', {
      clear: 0,
      limit: 30,
    });
    expect(lost.result.events).toHaveLength(30);
    const p = await pipelineFromYaml(
      t.dir,
      'count',
      'name: count\ntriggers:\n  - event: { events: [ONCRMDEALADD] }\nsteps:\n  - id: me\n    method: user.current\n',
    );
    const seen: string[] = [];
    const logs: string[] = [];
    const dir = join(t.dir, 'worker');
    const stores = await storesFor(dir);
    const dispatcher = new Dispatcher({
      pipelines: [p],
      processed: stores.processed,
      metrics: new Metrics(),
      run: async (r) => {
        seen.push(String((r.inputs.event as { objectId: string }).objectId));
        return { ok: true, status: 'completed' };
      },
    });
    const w = new OfflineSyncWorker({
      client: sb.app,
      dispatcher,
      dlq: stores.deadLetters,
      metrics: new Metrics(),
      state: stores.offline,
      log: (l) => logs.push(l),
    });
    await w.pass();
    expect(logs).toContain('offline sync: adopted 1 orphaned reservation(s)');
    expect(seen.sort()).toEqual([...deals].sort());
    expect((await sb.app.call<unknown[]>('event.offline.list', { start: 0 })).total ?? 0).toBe(0);
  });
});
