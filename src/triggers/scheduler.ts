/**
 * Cron schedules of pipelines (`triggers[].schedule`: `cron`, `timezone`, `missed`, `inputs`, `approve`).
 *
 * Matching uses node-cron (5- or 6-field expressions, IANA time zones) on an injectable {@link Clock}: the
 * scheduler wakes at every whole second of that clock and asks each schedule whether it matches. Rules:
 * - one pipeline never runs twice at once: while a scheduled run is going, a due run is skipped (mode `fail`, the
 *   default), queued once (`concurrency.mode: queue`) or replaces it (`cancel`);
 * - each due slot is claimed in the {@link ScheduleSlots} first (a unique (schedule, slot) row in the store): with
 *   several `serve` processes on one store, the one that claims it runs it and the others skip it silently;
 * - the newest claimed slot is the schedule's last-fired time; on start, runs missed while b24flow was down are
 *   skipped (`missed: skip`, default) or run once (`missed: catch-up-once`);
 * - every decision (started, finished, skipped, missed) goes to the schedule log (the store), and each run goes
 *   through the runner (which writes the run journal).
 */
import { hostname } from 'node:os';
import cron, { type ScheduledTask } from 'node-cron';
import { InvalidInputError } from '../lib/failures.js';
import { approvesWrite } from '../pipeline/index.js';
import { ConcurrencyRefused, RunLanes } from './concurrency.js';
import type { PipelineRunner, RunOutcome, TriggerPipeline } from './dispatcher.js';
import type { Metrics } from './metrics.js';
import { type Clock, systemClock } from './scheduleClock.js';
import { MemoryScheduleSlots, type ScheduleLogLine, type ScheduleSlots } from './scheduleSlots.js';
import type { LogFn } from './types.js';

/** One schedule of one pipeline. */
export interface ScheduleEntry {
  id: string;
  pipeline: TriggerPipeline;
  cron: string;
  timezone: string;
  missed: 'skip' | 'catch-up-once';
  inputs: Record<string, unknown>;
  approveWrite: boolean;
  task: ScheduledTask;
}

/** Options of {@link Scheduler}. */
export interface SchedulerOptions {
  pipelines: TriggerPipeline[];
  run: PipelineRunner;
  /** Claimed slots, last-fired times and the schedule log (default: in memory, this process only). */
  slots?: ScheduleSlots;
  /** Who claims the slots (default `host:pid`). */
  holder?: string;
  metrics: Metrics;
  clock?: Clock;
  log?: LogFn;
  lanes?: RunLanes;
  /** Default time zone when neither the trigger nor the pipeline has one (default UTC; the CLI passes B24FLOW_TZ). */
  defaultTimezone?: string;
  /** Longest look-back for missed runs, ms (default 31 days). */
  maxLookbackMs?: number;
}

export type { ScheduleLogLine } from './scheduleSlots.js';

/**
 * Validates and collects the schedules of the pipelines.
 * @throws InvalidInputError naming the pipeline file for a bad cron expression or time zone
 */
export function collectSchedules(pipelines: TriggerPipeline[], defaultTz: string): Omit<ScheduleEntry, 'task'>[] {
  const out: Omit<ScheduleEntry, 'task'>[] = [];
  for (const p of pipelines) {
    (p.def.triggers ?? []).forEach((t, i) => {
      const s = t.schedule;
      if (!s) return;
      const tz = s.timezone ?? p.def.timezone ?? defaultTz;
      const v = cron.validateDetailed(s.cron);
      if (!v.valid) {
        throw new InvalidInputError(
          `${p.file}: triggers[${i}].schedule.cron: ${v.errors.map((e) => e.message).join('; ')}`,
        );
      }
      try {
        new Intl.DateTimeFormat('en', { timeZone: tz });
      } catch {
        throw new InvalidInputError(`${p.file}: triggers[${i}].schedule.timezone: unknown time zone ${tz}`);
      }
      out.push({
        id: `${p.name}#${i}`,
        pipeline: p,
        cron: s.cron,
        timezone: tz,
        missed: s.missed ?? 'skip',
        inputs: (s.inputs ?? {}) as Record<string, unknown>,
        approveWrite: approvesWrite(s.approve),
      });
    });
  }
  return out;
}

/** Runs pipelines on their cron schedules. */
export class Scheduler {
  readonly entries: ScheduleEntry[];
  private readonly clock: Clock;
  private readonly lanes: RunLanes;
  private readonly slots: ScheduleSlots;
  private readonly holder: string;
  private readonly notes = new Set<Promise<void>>();
  private timer: unknown;
  private lastSecond = 0;
  /** Set by start(): replace() arms a scheduler that had nothing to tick. */
  private started = false;
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly queued = new Set<string>();
  private stopped = false;
  private readonly abort = new AbortController();

  constructor(private readonly o: SchedulerOptions) {
    this.clock = o.clock ?? systemClock;
    this.lanes = o.lanes ?? new RunLanes();
    const tz = o.defaultTimezone ?? 'UTC';
    this.entries = collectSchedules(o.pipelines, tz).map((e) => ({
      ...e,
      task: cron.createTask(e.cron, () => {}, { timezone: e.timezone, name: e.id }),
    }));
    this.slots = o.slots ?? new MemoryScheduleSlots();
    this.holder = o.holder ?? `${hostname()}:${process.pid}`;
  }

  private note(line: Omit<ScheduleLogLine, 'at'>): void {
    const full: ScheduleLogLine = { at: new Date(this.clock.now()).toISOString(), ...line };
    // written in the background (a tick never waits on the database); readLog() and stop() wait for the writes
    const p = this.slots.log(full).catch((err: unknown) => {
      this.o.log?.(`schedule log: cannot write (${err instanceof Error ? err.message : String(err)})`);
    });
    this.notes.add(p);
    void p.finally(() => this.notes.delete(p));
    if (line.what === 'skipped' || line.what === 'missed' || line.what === 'failed' || line.what === 'cancelled') {
      this.o.log?.(
        `schedule ${line.pipeline} ${line.scheduledFor}: ${line.what}${line.reason ? ` (${line.reason})` : ''}`,
      );
    }
  }

  /**
   * The next times (ms) each schedule of a pipeline fires, soonest first: minutes scanned up to 8 days ahead (seconds
   * up to an hour for 6-field expressions).
   */
  nextTimes(pipeline: string, n = 3): number[] {
    const out: number[] = [];
    const now = this.clock.now();
    for (const e of this.entries.filter((x) => x.pipeline.name === pipeline)) {
      const sixFields = e.cron.trim().split(/\s+/).length === 6;
      const step = sixFields ? 1000 : 60_000;
      const end = now + (sixFields ? 3600_000 : 8 * 86_400_000);
      for (let t = Math.floor(now / step) * step + step, k = 0; t <= end && k < n; t += step)
        if (e.task.match(new Date(t))) {
          out.push(t);
          k++;
        }
    }
    return out.sort((a, b) => a - b).slice(0, n);
  }

  /** The schedule log (every process on the store), after this scheduler's pending writes. */
  async readLog(): Promise<ScheduleLogLine[]> {
    await Promise.all([...this.notes]);
    return this.slots.readLog();
  }

  /**
   * Handles runs missed while down (each missed slot is claimed too, so with several processes one of them
   * catches up or logs it), then starts ticking.
   * @throws the store's error when the last-fired times cannot be read
   */
  async start(): Promise<void> {
    const now = this.clock.now();
    this.lastSecond = Math.floor(now / 1000);
    this.started = true;
    const maxBack = this.o.maxLookbackMs ?? 31 * 24 * 3600_000;
    const lasts = await Promise.all(this.entries.map((e) => this.slots.lastFired(e.id)));
    this.arm();
    for (const [i, e] of this.entries.entries()) {
      const last = lasts[i];
      if (last === undefined) continue;
      const from = Math.max(last + 1000, now - maxBack);
      let missedAt: number | undefined;
      let count = 0;
      const sixFields = e.cron.trim().split(/\s+/).length === 6;
      const step = sixFields ? 1000 : 60_000;
      let t = sixFields ? Math.ceil(from / 1000) * 1000 : Math.ceil(from / 60_000) * 60_000;
      // the current second belongs to the live ticker
      for (; t < Math.floor(now / 1000) * 1000; t += step) {
        if (e.task.match(new Date(t))) {
          count++;
          missedAt = t;
        }
      }
      if (missedAt === undefined) continue;
      const iso = new Date(missedAt).toISOString();
      // another process on the store caught it up (or logged it) already
      if (!(await this.slots.claim(e.id, e.pipeline.name, missedAt, this.holder))) continue;
      if (e.missed === 'catch-up-once') {
        this.note({
          pipeline: e.pipeline.name,
          schedule: e.cron,
          scheduledFor: iso,
          what: 'missed',
          reason: `${count} missed, catching up once`,
        });
        this.fire(e, missedAt, true, true);
      } else {
        this.note({
          pipeline: e.pipeline.name,
          schedule: e.cron,
          scheduledFor: iso,
          what: 'missed',
          reason: `${count} missed, skipped (missed: skip)`,
        });
      }
    }
  }

  /**
   * The schedules of these pipelines from now on (serve picks up saved pipelines while it runs): schedules no longer
   * given stop, new ones fire from their next slot (no catch-up). A schedule given again (same pipeline name and
   * trigger index) runs the pipeline object given now (a new version's steps, inputs and approval), and keeps its
   * node-cron task only while its cron expression and time zone are the same.
   */
  replace(pipelines: TriggerPipeline[]): void {
    const known = new Map(this.entries.map((e) => [e.id, e]));
    const next = collectSchedules(pipelines, this.o.defaultTimezone ?? 'UTC').map((e): ScheduleEntry => {
      const old = known.get(e.id);
      const same = old !== undefined && old.cron === e.cron && old.timezone === e.timezone;
      return { ...e, task: same ? old.task : cron.createTask(e.cron, () => {}, { timezone: e.timezone, name: e.id }) };
    });
    const kept = new Set(next.map((e) => e.task));
    for (const e of this.entries) if (!kept.has(e.task)) void e.task.destroy();
    this.entries.splice(0, this.entries.length, ...next);
    // a scheduler that had nothing to tick starts ticking now
    if (this.started && !this.stopped && this.timer === undefined) {
      this.lastSecond = Math.floor(this.clock.now() / 1000);
      this.arm();
    }
  }

  private arm(): void {
    if (this.stopped || !this.entries.length) {
      this.timer = undefined;
      return;
    }
    const now = this.clock.now();
    const nextSecond = (Math.floor(now / 1000) + 1) * 1000;
    this.timer = this.clock.setTimeout(() => this.tick(), nextSecond - now);
  }

  private tick(): void {
    if (this.stopped) return;
    const nowS = Math.floor(this.clock.now() / 1000);
    // every whole second since the last tick (bounded: a long stall counts as downtime, handled like a restart)
    const from = Math.max(this.lastSecond + 1, nowS - 120);
    for (let s = from; s <= nowS; s++) {
      const d = new Date(s * 1000);
      for (const e of this.entries) if (e.task.match(d)) this.fire(e, s * 1000, false);
    }
    this.lastSecond = nowS;
    this.arm();
  }

  /** Claims the slot (unless already claimed by the caller), then runs it; tracked until the run settles. */
  private fire(e: ScheduleEntry, at: number, catchUp: boolean, claimed = false): void {
    const p = (async () => {
      if (!claimed && !(await this.slots.claim(e.id, e.pipeline.name, at, this.holder))) return;
      if (this.stopped) return;
      await this.runSlot(e, at, catchUp);
    })().catch((err: unknown) => {
      this.o.log?.(
        `schedule ${e.pipeline.name} ${new Date(at).toISOString()}: cannot claim the slot (${err instanceof Error ? err.message : String(err)})`,
      );
    });
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  }

  private runSlot(e: ScheduleEntry, at: number, catchUp: boolean): Promise<unknown> {
    const scheduledFor = new Date(at).toISOString();
    const lane = e.pipeline.name;
    const mode = e.pipeline.def.concurrency?.mode ?? 'fail';
    const base = { pipeline: e.pipeline.name, schedule: e.cron, scheduledFor };
    if (this.lanes.busy(lane)) {
      if (mode === 'fail') {
        this.o.metrics.scheduleSkipped.inc({ pipeline: e.pipeline.name, reason: 'overlap' });
        this.note({ ...base, what: 'skipped', reason: 'previous run still in progress' });
        return Promise.resolve();
      }
      if (mode === 'queue') {
        if (this.queued.has(lane)) {
          this.o.metrics.scheduleSkipped.inc({ pipeline: e.pipeline.name, reason: 'overlap' });
          this.note({ ...base, what: 'skipped', reason: 'a run is already queued' });
          return Promise.resolve();
        }
        this.queued.add(lane);
        this.note({ ...base, what: 'queued' });
      }
    }
    return this.lanes
      .run(
        lane,
        mode,
        async (signal) => {
          this.queued.delete(lane);
          this.note({ ...base, what: 'started' });
          let out: RunOutcome;
          const started = performance.now();
          try {
            out = await this.o.run({
              pipeline: e.pipeline,
              inputs: e.inputs,
              trigger: {
                kind: 'schedule',
                cron: e.cron,
                timezone: e.timezone,
                scheduledFor,
                ...(catchUp ? { catchUp } : {}),
              },
              confirmWrite: e.approveWrite,
              signal,
            });
          } catch (err) {
            out = { ok: false, status: 'failed', error: err instanceof Error ? err.message : String(err) };
          }
          const runLabels = { pipeline: e.pipeline.name, trigger: 'schedule', status: out.ok ? 'succeeded' : 'failed' };
          this.o.metrics.runs.inc(runLabels);
          this.o.metrics.runDuration.observe(runLabels, (performance.now() - started) / 1000);
          if (!out.ok) this.o.metrics.runFailures.inc({ pipeline: e.pipeline.name });
          this.note({
            ...base,
            what: out.ok ? 'finished' : 'failed',
            ...(out.runId ? { runId: out.runId } : {}),
            ...(out.error ? { reason: out.error } : {}),
          });
        },
        this.abort.signal,
      )
      .catch((err: unknown) => {
        if (err instanceof ConcurrencyRefused) this.note({ ...base, what: 'skipped', reason: err.message });
        else this.note({ ...base, what: 'failed', reason: err instanceof Error ? err.message : String(err) });
      });
  }

  /** Number of scheduled runs in progress. */
  running(): number {
    return this.inflight.size;
  }

  /**
   * Stops ticking; running runs finish (or, after `graceMs`, get their AbortSignal so they checkpoint).
   */
  async stop(graceMs = 30_000): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    const all = Promise.all([...this.inflight]);
    const t = setTimeout(() => this.abort.abort(new Error('shutting down')), graceMs);
    t.unref?.();
    await all;
    clearTimeout(t);
    await Promise.all([...this.notes]);
    for (const e of this.entries) await e.task.destroy();
  }
}
