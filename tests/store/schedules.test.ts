/**
 * Contract of the scheduler's store (src/store/schedules.ts) and of the leases (src/store/leases.ts) on both
 * backends: a slot is claimed by exactly one of many concurrent claimers, the last-fired time is the newest slot, the
 * schedule log reads back in order; a lease has one holder, is renewed by it, refused to others until it expires.
 * Plus the in-process job queue and the queued runner of src/triggers/jobs.ts.
 */
import { describe, expect, it } from 'vitest';
import { acquireLease, releaseLease } from '../../src/store/leases.js';
import { StoreScheduleSlots } from '../../src/store/schedules.js';
import type { RunRequest } from '../../src/triggers/dispatcher.js';
import { InProcessJobQueue, type PipelineRunJob, queuedRunner, runJobId, uuidOf } from '../../src/triggers/jobs.js';
import { backends } from './backends.js';

const all = backends('b24flow-sched');

describe.each(all)('schedule slots and leases on $name', (b) => {
  it('one claim per slot among concurrent claimers; last fired; the log in order', async () => {
    const stores = await Promise.all([b.open(), b.open(), b.open()]);
    const slots = stores.map((s) => new StoreScheduleSlots(s));
    const wins = await Promise.all(
      [0, 2000, 4000].flatMap((slot) => slots.map((s, i) => s.claim('tick#0', 'tick', slot, `w${i}`))),
    );
    expect(wins.filter(Boolean)).toHaveLength(3);
    expect(await slots[1]!.lastFired('tick#0')).toBe(4000);
    expect(await slots[1]!.lastFired('other#0')).toBeUndefined();
    const at = '2026-12-03T12:00:00.000Z';
    for (const what of ['started', 'finished'] as const)
      await slots[0]!.log({ at, pipeline: 'tick', schedule: '* * * * * *', scheduledFor: at, what });
    const later = '2026-12-03T12:00:01.000Z';
    await slots[2]!.log({ at: later, pipeline: 'other', schedule: '* * * * *', scheduledFor: at, what: 'missed' });
    expect((await slots[1]!.readLog({ pipeline: 'tick' })).map((l) => l.what)).toEqual(['started', 'finished']);
    expect(await slots[1]!.readLog({ limit: 1 })).toMatchObject([{ pipeline: 'other', what: 'missed' }]);
    for (const s of stores) await s.close();
  });

  it('a lease has one holder: renewed by it, refused to others, free again when released or expired', async () => {
    const s = await b.open();
    const a = { pid: 1, host: 'elsewhere-a', tag: 'a' };
    const c = { pid: 2, host: 'elsewhere-c', tag: 'c' };
    const both = await Promise.all([acquireLease(s, 'job', a, 60_000), acquireLease(s, 'job', c, 60_000)]);
    expect(both.filter((r) => r.ok)).toHaveLength(1);
    const [holder, other] = both[0]!.ok ? [a, c] : [c, a];
    expect(await acquireLease(s, 'job', holder, 60_000)).toEqual({ ok: true });
    const refused = await acquireLease(s, 'job', other, 60_000);
    expect(refused).toMatchObject({ ok: false, holder });
    await releaseLease(s, 'job', holder);
    expect(await acquireLease(s, 'job', other, 50)).toEqual({ ok: true });
    await new Promise((r) => setTimeout(r, 80));
    expect(await acquireLease(s, 'job', holder, 60_000)).toEqual({ ok: true });
    // a holder of this host whose pid is gone is replaced at once
    const dead = { pid: 2 ** 22 + 17, host: (await import('node:os')).hostname(), tag: 'dead' };
    await releaseLease(s, 'job', holder);
    expect(await acquireLease(s, 'job', dead, 60_000)).toEqual({ ok: true });
    expect(await acquireLease(s, 'job', other, 60_000)).toEqual({ ok: true });
    await s.close();
  });
});

describe('in-process job queue and the queued runner', () => {
  const pipeline = { name: 'p', file: 'p.yaml', def: {} as never, loaded: undefined };
  const req = (key: string): RunRequest => ({
    pipeline,
    inputs: {},
    trigger: { kind: 'event', event: { name: 'ONCRMDEALADD', key, source: 'offline', ts: 1 } },
    confirmWrite: false,
    signal: new AbortController().signal,
  });

  it('runs a request once per id: a second request of a succeeded run answers from the job, a failed one runs again', async () => {
    const jobs = new InProcessJobQueue();
    let runs = 0;
    let fail = true;
    await jobs.work<PipelineRunJob>('pipeline-run', 2, async () => {
      runs++;
      return fail
        ? { ok: false, status: 'failed', error: 'boom' }
        : { ok: true, status: 'succeeded', runId: `r${runs}` };
    });
    const run = queuedRunner(jobs, 5);
    expect(await run(req('K1'))).toMatchObject({ ok: false, error: 'boom' });
    fail = false;
    expect(await run(req('K1'))).toMatchObject({ ok: true, runId: 'r2' });
    expect(await run(req('K1'))).toMatchObject({ ok: true, runId: 'r2' });
    expect(runs).toBe(2);
    expect(runJobId({ pipeline: 'p', trigger: req('K1').trigger })).toBe(uuidOf('pipeline-run|p|event:K1'));
    expect(uuidOf('x')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    await jobs.stop();
  });

  it('a singleton key keeps one job queued and one active', async () => {
    const jobs = new InProcessJobQueue();
    let active = 0;
    let peak = 0;
    let done = 0;
    let release: () => void = () => {};
    await jobs.work('offline-fetch', 4, async () => {
      active++;
      peak = Math.max(peak, active);
      await new Promise<void>((r) => {
        release = r;
      });
      active--;
      done++;
      return undefined;
    });
    const sent = await Promise.all([1, 2, 3, 4].map(() => jobs.send('offline-fetch', {}, { singletonKey: 'portal' })));
    expect(sent.filter((x) => x !== null)).toHaveLength(2);
    release();
    await new Promise((r) => setTimeout(r, 10));
    release();
    await jobs.stop();
    expect(peak).toBe(1);
    expect(done).toBe(2);
  });
});
