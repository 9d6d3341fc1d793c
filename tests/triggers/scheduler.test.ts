import { afterEach, describe, expect, it } from 'vitest';
import type { RunRequest } from '../../src/triggers/dispatcher.js';
import { Metrics } from '../../src/triggers/metrics.js';
import { ManualClock } from '../../src/triggers/scheduleClock.js';
import { Scheduler } from '../../src/triggers/scheduler.js';
import { MemoryScheduleSlots } from '../../src/triggers/scheduleSlots.js';
import { pipelineFromYaml, tempDir } from './helpers.js';

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A runner whose runs last `durationMs` of the manual clock; records start/end times and the peak concurrency. */
function clockRunner(clock: ManualClock, durationMs: number) {
  const runs: { start: number; end?: number; req: RunRequest }[] = [];
  let active = 0;
  let peak = 0;
  const run = (req: RunRequest) =>
    new Promise<{ ok: boolean; status: string; runId: string }>((resolve) => {
      const rec: { start: number; end?: number; req: RunRequest } = { start: clock.now(), req };
      runs.push(rec);
      active++;
      peak = Math.max(peak, active);
      const h = clock.setTimeout(() => {
        active--;
        rec.end = clock.now();
        resolve({ ok: true, status: 'succeeded', runId: `r${runs.length}` });
      }, durationMs);
      // like a real run: on shutdown it checkpoints and stops
      req.signal.addEventListener('abort', () => {
        clock.clearTimeout(h);
        active--;
        resolve({ ok: false, status: 'interrupted', runId: `r${runs.length}` });
      });
    });
  return { run, runs, peak: () => peak };
}

const iso = (t: number) => new Date(t).toISOString();

describe('cron schedules on a controllable clock', () => {
  it('runs an every-minute schedule at the right minutes of its time zone', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    // Asia/Kathmandu is UTC+05:45: 09:00 there is 03:15 UTC.
    const p = await pipelineFromYaml(
      t.dir,
      'nine-oclock',
      `name: nine-oclock
triggers:
  - schedule: { cron: "* 9 * * *", timezone: Asia/Kathmandu, approve: [write] }
steps:
  - id: me
    method: user.current
`,
    );
    const clock = new ManualClock(new Date('2026-03-02T03:12:30Z')); // 08:57:30 in Kathmandu
    const r = clockRunner(clock, 1_000);
    const s = new Scheduler({ pipelines: [p], run: r.run, metrics: new Metrics(), clock });
    await s.start();
    cleanups.push(() => s.stop(0));
    await clock.advance(6 * 60_000); // until 03:18:30 UTC
    expect(r.runs.map((x) => iso(x.start))).toEqual([
      '2026-03-02T03:15:00.000Z',
      '2026-03-02T03:16:00.000Z',
      '2026-03-02T03:17:00.000Z',
      '2026-03-02T03:18:00.000Z',
    ]);
    expect(r.runs[0]!.req.confirmWrite).toBe(true);
    expect(r.runs[0]!.req.trigger).toMatchObject({
      kind: 'schedule',
      timezone: 'Asia/Kathmandu',
      scheduledFor: '2026-03-02T03:15:00.000Z',
    });
    // every run is logged
    expect((await s.readLog()).filter((l) => l.what === 'finished')).toHaveLength(4);
    // 10:00 in Kathmandu (04:15 UTC) is outside the hour: the last run is at 09:59 local = 04:14 UTC
    await clock.advance(60 * 60_000);
    expect(r.runs).toHaveLength(60);
    expect(iso(r.runs.at(-1)!.start)).toBe('2026-03-02T04:14:00.000Z');
  });

  it('never runs one pipeline twice at once: a due run while the last one is going is skipped and logged', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const p = await pipelineFromYaml(
      t.dir,
      'slow',
      `name: slow
triggers:
  - schedule: { cron: "* * * * *", timezone: Europe/Moscow }
steps:
  - id: me
    method: user.current
`,
    );
    const clock = new ManualClock(new Date('2026-03-02T10:00:30Z'));
    const r = clockRunner(clock, 150_000); // each run lasts 2.5 minutes
    const metrics = new Metrics();
    const s = new Scheduler({ pipelines: [p], run: r.run, metrics, clock });
    await s.start();
    cleanups.push(() => s.stop(0));
    await clock.advance(10 * 60_000);
    expect(r.peak()).toBe(1);
    expect(r.runs.map((x) => iso(x.start))).toEqual([
      '2026-03-02T10:01:00.000Z',
      '2026-03-02T10:04:00.000Z',
      '2026-03-02T10:07:00.000Z',
      '2026-03-02T10:10:00.000Z',
    ]);
    const skipped = (await s.readLog()).filter((l) => l.what === 'skipped');
    expect(skipped.map((l) => l.scheduledFor)).toContain('2026-03-02T10:02:00.000Z');
    expect(skipped.length).toBe(6);
    expect(await metrics.value('b24flow_schedule_skipped_total', { pipeline: 'slow', reason: 'overlap' })).toBe(6);
  });

  it('after downtime: missed runs are skipped by default and caught up once with missed: catch-up-once', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const yaml = (name: string, missed: string) => `name: ${name}
triggers:
  - schedule: { cron: "*/5 * * * *", timezone: UTC, missed: ${missed} }
steps:
  - id: me
    method: user.current
`;
    const skip = await pipelineFromYaml(t.dir, 'skipper', yaml('skipper', 'skip'));
    const catchUp = await pipelineFromYaml(t.dir, 'catcher', yaml('catcher', 'catch-up-once'));
    const clock = new ManualClock(new Date('2026-03-02T10:04:30Z'));
    // the store of both schedulers (claimed slots survive the restart)
    const slots = new MemoryScheduleSlots();
    const r1 = clockRunner(clock, 1000);
    const s1 = new Scheduler({
      pipelines: [skip, catchUp],
      run: r1.run,
      slots,
      metrics: new Metrics(),
      clock,
    });
    await s1.start();
    await clock.advance(60_000);
    expect(r1.runs.map((x) => x.req.pipeline.name).sort()).toEqual(['catcher', 'skipper']);
    await s1.stop(0);

    // down for an hour: 12 runs of each were missed
    clock.set(new Date('2026-03-02T11:07:10Z'));
    const r2 = clockRunner(clock, 1000);
    const s2 = new Scheduler({
      pipelines: [skip, catchUp],
      run: r2.run,
      slots,
      metrics: new Metrics(),
      clock,
    });
    await s2.start();
    cleanups.push(() => s2.stop(0));
    await clock.advance(2_000);
    expect(r2.runs.map((x) => x.req.pipeline.name)).toEqual(['catcher']);
    expect(r2.runs[0]!.req.trigger).toMatchObject({ catchUp: true, scheduledFor: '2026-03-02T11:05:00.000Z' });
    const missed = (await s2.readLog()).filter((l) => l.what === 'missed');
    expect(missed.map((l) => `${l.pipeline}:${l.reason}`).sort()).toEqual([
      'catcher:12 missed, catching up once',
      'skipper:12 missed, skipped (missed: skip)',
    ]);
    // the live schedule goes on at 11:10
    await clock.advance(3 * 60_000);
    expect(
      r2.runs
        .map((x) => `${x.req.pipeline.name}@${iso(x.start)}`)
        .slice(1)
        .sort(),
    ).toEqual(['catcher@2026-03-02T11:10:00.000Z', 'skipper@2026-03-02T11:10:00.000Z']);
  });

  it('a new version given to replace() runs on its own cron with its own steps; an unchanged one keeps its slots', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const version = (cron: string, method: string) => `name: report
triggers:
  - schedule: { cron: "${cron}", approve: [write] }
steps:
  - id: s
    method: ${method}
`;
    const v1 = await pipelineFromYaml(t.dir, 'report', version('0 9 * * 1', 'user.current'));
    const clock = new ManualClock(new Date('2026-03-03T10:00:00.500Z')); // a Tuesday
    const r = clockRunner(clock, 100);
    const s = new Scheduler({ pipelines: [v1], run: r.run, metrics: new Metrics(), clock });
    await s.start();
    cleanups.push(() => s.stop(0));
    await clock.advance(5_000);
    expect(r.runs).toHaveLength(0);
    // version 2 runs every two seconds and calls another method: both come from the version given now
    const v2 = await pipelineFromYaml(t.dir, 'report', version('*/2 * * * * *', 'profile'));
    s.replace([v2]);
    expect(s.nextTimes('report', 2)).toEqual([Date.parse('2026-03-03T10:00:06Z'), Date.parse('2026-03-03T10:00:08Z')]);
    await clock.advance(4_000);
    expect(r.runs.map((x) => iso(x.start))).toEqual(['2026-03-03T10:00:06.000Z', '2026-03-03T10:00:08.000Z']);
    expect(r.runs.map((x) => x.req.pipeline.def.steps[0])).toEqual([
      expect.objectContaining({ method: 'profile' }),
      expect.objectContaining({ method: 'profile' }),
    ]);
    // the same cron again (a version that changes only a step): the next slot is not run twice
    const v3 = await pipelineFromYaml(t.dir, 'report', version('*/2 * * * * *', 'user.current'));
    s.replace([v3]);
    await clock.advance(2_000);
    expect(r.runs.map((x) => iso(x.start))).toEqual([
      '2026-03-03T10:00:06.000Z',
      '2026-03-03T10:00:08.000Z',
      '2026-03-03T10:00:10.000Z',
    ]);
    expect(r.runs.at(-1)!.req.pipeline.def.steps[0]).toMatchObject({ method: 'user.current' });
    // no schedules: nothing runs
    s.replace([]);
    await clock.advance(4_000);
    expect(r.runs).toHaveLength(3);
  });

  it('refuses a bad cron expression and names the pipeline file', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const p = await pipelineFromYaml(
      t.dir,
      'bad',
      `name: bad
triggers:
  - schedule: { cron: "61 * * * *" }
steps:
  - id: me
    method: user.current
`,
    );
    expect(
      () =>
        new Scheduler({
          pipelines: [p],
          run: async () => ({ ok: true, status: 'succeeded' }),
          metrics: new Metrics(),
        }),
    ).toThrow(/bad\.yaml: triggers\[0\]\.schedule\.cron: 61/);
  });
});
