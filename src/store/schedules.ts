/**
 * The scheduler's state in the store ({@link ScheduleSlots} of src/triggers/scheduleSlots.ts): tables
 * `schedule_slots` (one row per claimed cron slot, primary key (schedule_id, slot_ms)) and `schedule_log`.
 *
 * A slot fires once across every process on the store: `claim` inserts the row with `on conflict do nothing`, and only
 * the insert that wrote a row gets `true` — the database's unique key decides, on SQLite and PostgreSQL alike.
 */
import { randomBytes } from 'node:crypto';
import type { ScheduleLogLine, ScheduleSlots } from '../triggers/scheduleSlots.js';
import type { Store } from './db.js';

/** {@link ScheduleSlots} on the store (see module doc). */
export class StoreScheduleSlots implements ScheduleSlots {
  private seq = 0;
  constructor(private readonly store: Store) {}

  async claim(scheduleId: string, pipeline: string, slotMs: number, holder: string): Promise<boolean> {
    const r = await this.store.db
      .insertInto('schedule_slots')
      .values({
        schedule_id: scheduleId,
        slot_ms: slotMs,
        pipeline,
        claimed_by: holder,
        run_id: null,
        at_ms: Date.now(),
      })
      .onConflict((oc) => oc.columns(['schedule_id', 'slot_ms']).doNothing())
      .executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0n) > 0;
  }

  async lastFired(scheduleId: string): Promise<number | undefined> {
    const r = await this.store.db
      .selectFrom('schedule_slots')
      .select((eb) => eb.fn.max('slot_ms').as('last'))
      .where('schedule_id', '=', scheduleId)
      .executeTakeFirst();
    return r?.last === null || r?.last === undefined ? undefined : Number(r.last);
  }

  async log(line: ScheduleLogLine): Promise<void> {
    await this.store.db
      .insertInto('schedule_log')
      .values({
        // sortable: time, then this process's order (two lines of one millisecond), then a random tail
        log_id: `${String(Date.parse(line.at)).padStart(15, '0')}-${String(++this.seq).padStart(9, '0')}-${randomBytes(4).toString('hex')}`,
        at_ms: Date.parse(line.at),
        pipeline: line.pipeline,
        scheduled_ms: Date.parse(line.scheduledFor),
        what: line.what,
        line_json: JSON.stringify(line),
      })
      .execute();
  }

  async readLog(opts: { pipeline?: string; limit?: number } = {}): Promise<ScheduleLogLine[]> {
    let q = this.store.db.selectFrom('schedule_log').select(['line_json', 'at_ms']);
    if (opts.pipeline) q = q.where('pipeline', '=', opts.pipeline);
    // newest first for the limit, then oldest first for the reader
    q = q.orderBy('log_id', 'desc');
    if (opts.limit) q = q.limit(opts.limit);
    const rows = await q.execute();
    return rows.reverse().map((r) => JSON.parse(r.line_json) as ScheduleLogLine);
  }
}

/** How many slots of a schedule were claimed in a time range (tests, bench: "one run per slot"). */
export async function claimedSlots(
  store: Store,
  scheduleId: string,
): Promise<{ slot_ms: number; claimed_by: string }[]> {
  return store.db
    .selectFrom('schedule_slots')
    .select(['slot_ms', 'claimed_by'])
    .where('schedule_id', '=', scheduleId)
    .orderBy('slot_ms')
    .execute();
}
