/**
 * Must-show of issue 6: 2,000 CRM changes in the sandbox; `b24flow serve` (a real child process) is killed with
 * SIGKILL at random moments three times during the offline sync and restarted; in the end every change was processed
 * exactly once by the reacting pipeline (counted from its side effects: one lead per deal), none lost, DLQ empty.
 */
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storesFor, tempDir } from './helpers.js';
import { childEnv, runCli, startServe } from './processes.js';
import { createDeals, leadOrigins, type SandboxApp, startSandboxApp } from './sandboxApp.js';

const N = Number(process.env.TRIGGERS_KILL_EVENTS ?? 2000);
let sb: SandboxApp;
const t = tempDir('b24flow-once-');
const pipelines = join(t.dir, 'pipelines');
const dataDir = join(t.dir, 'data');

beforeAll(async () => {
  cpSync(join(import.meta.dirname, 'fixtures', 'kill'), pipelines, { recursive: true });
  sb = await startSandboxApp(dataDir);
});
afterAll(async () => {
  await sb?.close();
  t.cleanup();
});

let baseline = 0;
/** Leads created so far by the reacting pipeline (one cheap call: the list total minus the seeded leads). */
async function processedCount(): Promise<number> {
  const r = await sb.hook.call<unknown[]>('crm.lead.list', { select: ['ID'], start: 0 });
  return (r.total ?? 0) - baseline;
}

describe('offline sync survives SIGKILL', () => {
  it(`processes ${N} deal creations exactly once across three SIGKILLs`, async () => {
    const env = childEnv(dataDir, sb.handle.oauthApp, sb.env);
    const bind = await runCli(['events', 'bind', '--pipelines', pipelines], env);
    expect(bind.stderr + bind.stdout).toMatch(/ONCRMDEALADD \(offline\): bound/);
    expect(bind.code).toBe(0);

    baseline = (await sb.hook.call<unknown[]>('crm.lead.list', { select: ['ID'], start: 0 })).total ?? 0;
    const deals = await createDeals(sb.hook, N);
    expect(new Set(deals).size).toBe(N);
    const queued = await sb.app.call<unknown[]>('event.offline.list', { start: 0 });
    expect(queued.total).toBe(N);

    const serveArgs = ['--pipelines', pipelines, '--sync-every', '0.2', '--parallel', '12'];
    // three random kills, each after a random share of the remaining work
    const kills: number[] = [];
    for (let k = 0; k < 3; k++) {
      const s = await startServe(serveArgs, env);
      const before = await processedCount();
      const target = before + Math.floor((N - before) * (0.1 + Math.random() * 0.3));
      for (let i = 0; i < 600; i++) {
        if ((await processedCount()) >= target) break;
        await new Promise((r) => setTimeout(r, 20 + Math.random() * 30));
      }
      s.child.kill('SIGKILL');
      const ex = await s.exited;
      expect(ex.signal).toBe('SIGKILL');
      kills.push(await processedCount());
      if (process.env.TRIGGERS_DEBUG) console.log('killed at', kills.at(-1), 'target', target, s.stderr().slice(-500));
    }
    expect(kills.at(-1)!).toBeLessThan(N); // the kills really happened during the sync

    // a graceful stop in the middle of the sync: SIGTERM → exit 0; what was processed is cleared, the rest stays queued
    const mid = await startServe(serveArgs, env);
    const before = await processedCount();
    for (let i = 0; i < 600 && (await processedCount()) < before + 100; i++)
      await new Promise((r) => setTimeout(r, 20));
    mid.child.kill('SIGTERM');
    expect((await mid.exited).code).toBe(0);
    expect(mid.stderr()).toMatch(/serve: stopped/);
    const done = await processedCount();
    const rest = await sb.app.call<Record<string, any>[]>('event.offline.list', { start: 0 });
    expect(done).toBeLessThan(N);
    expect(done + (rest.total ?? 0)).toBe(N); // nothing processed is left in the queue, nothing unprocessed is gone

    const last = await startServe(serveArgs, env);
    for (let i = 0; i < 1500; i++) {
      if ((await processedCount()) >= N) {
        const left = await sb.app.call<unknown[]>('event.offline.list', { start: 0 });
        if (!left.total) break;
      }
      await new Promise((r) => setTimeout(r, 40));
    }
    if (process.env.TRIGGERS_DEBUG) {
      console.log(
        'final',
        await processedCount(),
        (await sb.app.call<any[]>('event.offline.list', { start: 0 })).result.slice(0, 3),
        last.stderr().slice(-1500),
      );
    }
    // graceful stop: SIGTERM → exit 0
    last.child.kill('SIGTERM');
    expect((await last.exited).code).toBe(0);

    const origins = (await leadOrigins(sb.hook)).filter((o) => o.startsWith('deal-'));
    const counts = new Map<string, number>();
    for (const o of origins) counts.set(o, (counts.get(o) ?? 0) + 1);
    const missing = deals.filter((id) => !counts.has(`deal-${id}`));
    const twice = [...counts].filter(([, c]) => c > 1);
    expect(missing).toEqual([]);
    expect(twice).toEqual([]);
    expect(origins).toHaveLength(N);
    // the queue is empty, nothing in error, nothing dead-lettered
    const left = await sb.app.call<unknown[]>('event.offline.list', { start: 0 });
    expect(left.total ?? 0).toBe(0);
    const { deadLetters } = await storesFor(dataDir);
    expect(await deadLetters.scan()).toEqual({ entries: [], malformed: [] });
    const list = await runCli(['dlq', 'list', '--json'], env);
    expect(JSON.parse(list.stdout)).toMatchObject({ size: 0 });
  }, 180_000);
});
