/**
 * Where the scheduler keeps its state: which cron slots were claimed (so each slot fires once across every `serve`
 * process on one store), the last slot each schedule fired (for `missed: catch-up-once` after downtime), and the
 * schedule log. The database implementation is src/store/schedules.ts; {@link MemoryScheduleSlots} serves unit tests.
 */

/** One line of the schedule log. `at` and `scheduledFor` are ISO-8601 times. */
export interface ScheduleLogLine {
  at: string;
  pipeline: string;
  schedule: string;
  scheduledFor: string;
  what: 'started' | 'finished' | 'failed' | 'skipped' | 'missed' | 'queued' | 'cancelled';
  reason?: string;
  runId?: string;
}

/** The scheduler's shared state (see module doc). */
export interface ScheduleSlots {
  /**
   * Claims one slot of a schedule for `holder` (`host:pid`). True for the one caller that got it; false when another
   * process (or an earlier start of this one) already holds it — that caller skips the slot, it is no failure.
   * @param scheduleId `<pipeline>#<trigger index>`; @param slotMs the slot's cron time, Unix ms
   */
  claim(scheduleId: string, pipeline: string, slotMs: number, holder: string): Promise<boolean>;
  /** The newest slot claimed for a schedule (Unix ms), or undefined when it never fired. */
  lastFired(scheduleId: string): Promise<number | undefined>;
  /** Appends a line to the schedule log (committed when the promise resolves). */
  log(line: ScheduleLogLine): Promise<void>;
  /** The schedule log, oldest first (optionally of one pipeline, at most `limit` newest lines). */
  readLog(opts?: { pipeline?: string; limit?: number }): Promise<ScheduleLogLine[]>;
}

/** Schedule state in memory (unit tests; one process only). Shared by schedulers given the same instance. */
export class MemoryScheduleSlots implements ScheduleSlots {
  private readonly slots = new Map<string, number[]>();
  private readonly lines: ScheduleLogLine[] = [];

  async claim(scheduleId: string, _pipeline: string, slotMs: number): Promise<boolean> {
    const got = this.slots.get(scheduleId) ?? [];
    if (got.includes(slotMs)) return false;
    got.push(slotMs);
    this.slots.set(scheduleId, got);
    return true;
  }

  async lastFired(scheduleId: string): Promise<number | undefined> {
    const got = this.slots.get(scheduleId);
    return got?.length ? Math.max(...got) : undefined;
  }

  async log(line: ScheduleLogLine): Promise<void> {
    this.lines.push(line);
  }

  async readLog(opts: { pipeline?: string; limit?: number } = {}): Promise<ScheduleLogLine[]> {
    const all = this.lines.filter((l) => !opts.pipeline || l.pipeline === opts.pipeline);
    return opts.limit ? all.slice(-opts.limit) : [...all];
  }
}
