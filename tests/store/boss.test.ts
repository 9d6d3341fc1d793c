/**
 * The shared job queue (pg-boss on PostgreSQL, src/store/boss.ts), two queues standing for two processes:
 * a run id is one job; one `offline-fetch` pass per portal at a time; a job whose worker died is retried by another
 * after its expiry; a job failing past its retries lands in `pipeline-run-dead`. Skipped without PostgreSQL.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { type BossJobQueue, openBoss } from '../../src/store/boss.js';
import { uuidOf } from '../../src/triggers/jobs.js';
import { freshDatabase, postgresUrl } from '../support/postgres.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const until = async (ok: () => boolean, ms: number) => {
  for (const end = Date.now() + ms; !ok() && Date.now() < end; ) await sleep(50);
};

describe.skipIf(!postgresUrl)('pg-boss job queue', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  const queues: BossJobQueue[] = [];
  const open = async (pollMs = 100) => {
    db ??= await freshDatabase();
    const q = await openBoss({ url: db.url, expireMs: 1000, retryLimit: 1, pollMs });
    queues.push(q);
    return q;
  };
  afterAll(async () => {
    for (const q of queues) await q.stop(300).catch(() => {});
    await db?.drop();
  });

  it("another process's idle worker starts a sent job, and the sender learns its end, by notice (no polling)", async () => {
    // both pollers are a minute long: only the notices can make this finish within the test's seconds
    const [a, b] = [await open(60_000), await open(60_000)];
    await b.work<{ n: number }>('pipeline-run', 2, async (job) => ({ doubled: job.data.n * 2, by: 'b' }));
    await sleep(300); // b's loops found nothing and sleep
    const id = uuidOf('noticed-run');
    const t0 = Date.now();
    expect(await a.send('pipeline-run', { n: 21 }, { id })).toBe(id);
    const s = await a.settled('pipeline-run', id, new AbortController().signal, 60_000);
    expect(s).toEqual({ state: 'completed', output: { doubled: 42, by: 'b' } });
    expect(Date.now() - t0).toBeLessThan(10_000);
    // b must not take the later tests' jobs
    await a.stop(300);
    await b.stop(300);
  }, 30_000);

  it('one job per id; one offline pass per portal at a time across two processes', async () => {
    const [a, b] = [await open(), await open()];
    const id = uuidOf('run-1');
    expect(await a.send('pipeline-run', { n: 1 }, { id })).toBe(id);
    expect(await b.send('pipeline-run', { n: 2 }, { id })).toBeNull();
    expect((await b.state('pipeline-run', id)).state).toBe('queued');
    await a.remove('pipeline-run', id);
    expect((await b.state('pipeline-run', id)).state).toBe('gone');

    let active = 0;
    let peak = 0;
    let done = 0;
    const pass = async () => {
      active++;
      peak = Math.max(peak, active);
      await sleep(150);
      active--;
      done++;
      return undefined;
    };
    await a.work('offline-fetch', 2, pass);
    await b.work('offline-fetch', 2, pass);
    for (let i = 0; i < 6; i++) {
      await (i % 2 ? a : b).send('offline-fetch', {}, { singletonKey: 'portal-1' });
      await sleep(60);
    }
    await until(() => done >= 2 && active === 0, 5000);
    await sleep(300);
    expect(peak).toBe(1);
    expect(done).toBeGreaterThanOrEqual(2);
  }, 30_000);

  it('a dead worker’s job is retried by another after its expiry; past its retries it is dead-lettered', async () => {
    const [a, b] = [await open(), await open()];
    const seen: { by: string; retry: number }[] = [];
    // a's worker takes the job and never finishes it (as if SIGKILLed)
    await a.work('pipeline-run', 1, async (job) => {
      seen.push({ by: 'a', retry: job.retryCount });
      await new Promise(() => {});
      return undefined;
    });
    const id = uuidOf('run-hang');
    await a.send('pipeline-run', { pipeline: 'p' }, { id });
    await until(() => seen.length === 1, 5000);
    expect(seen).toEqual([{ by: 'a', retry: 0 }]);
    const dead: unknown[] = [];
    await b.work('pipeline-run-dead', 1, async (job) => {
      dead.push(job.data);
      return undefined;
    });
    // b's worker throws: the retry (after a's expiry) fails, and with retryLimit 1 the job is dead-lettered
    await b.work('pipeline-run', 1, async (job) => {
      seen.push({ by: 'b', retry: job.retryCount });
      throw new Error('boom');
    });
    await until(() => dead.length > 0, 15_000);
    expect(seen.filter((s) => s.by === 'b').length, JSON.stringify({ seen, dead })).toBeGreaterThanOrEqual(1);
    expect(seen.find((s) => s.by === 'b')!.retry).toBeGreaterThanOrEqual(1);
    expect(dead).toEqual([{ pipeline: 'p' }]);
    expect((await b.state('pipeline-run', id)).state).toBe('failed');
  }, 30_000);
});
