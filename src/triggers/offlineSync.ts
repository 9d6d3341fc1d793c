/**
 * The offline sync worker: the no-loss path for Bitrix24 events (api-reference/events/offline-events.md,
 * event-offline-get.md, event-offline-clear.md, event-offline-error.md).
 *
 * One pass loops:
 * 1. `event.offline.get` with `clear=0`, `limit` and our `process_id` (generated and persisted before the first
 *    call, so rows reserved before a crash are re-read after a restart; when the portal answers with another
 *    process id we adopt and persist it at once);
 * 2. dispatches every row not in back-off (rows of one object in order, different objects in parallel);
 * 3. `event.offline.clear` with `process_id` + the row `id`s that were processed — and only those;
 * 4. failures stay reserved and are retried with exponential back-off; after `maxAttempts` they go to the
 *    dead-letter queue and are reported with `event.offline.error` (`process_id` + `message_id`).
 * Passes run every `syncEveryMs` and on {@link OfflineSyncWorker.kick} (ONOFFLINEEVENT). On stop, dispatches in
 * flight finish, their rows are cleared, every other row stays reserved.
 *
 * Requires application (OAuth) auth: with a webhook the portal answers `WRONG_AUTH_TYPE`, turned into
 * {@link AppAuthRequired} with setup instructions.
 */
import { randomBytes } from 'node:crypto';
import type { Dispatcher } from './dispatcher.js';
import type { DeadLetterStore } from './dlq.js';
import { payloadHash } from './dlq.js';
import { attemptEvent, deadLetterEvent } from './intake.js';
import type { Metrics } from './metrics.js';
import { type B24Event, eventKey, type LogFn, objectIdOf, type RestCaller, toUnixSeconds } from './types.js';

/** How to set up application auth, shown with `WRONG_AUTH_TYPE`. */
export const APP_AUTH_HELP = [
  'Offline events need an application (OAuth) context: Bitrix24 answers WRONG_AUTH_TYPE to event.bind and',
  'event.offline.* called with a webhook. Set up a local application instead:',
  '  1. In Bitrix24: Developer resources → Other → Local application; "server only", scopes crm (plus what your',
  '     pipelines use); handler and install URLs point to your `b24flow serve` (…/bitrix/events).',
  '  2. Put its client id and secret into .env as B24_CLIENT_ID and B24_CLIENT_SECRET (never commit them).',
  '  3. Install the application (an administrator must do it: offline events need admin rights), then run',
  '     `b24flow events bind` and `b24flow serve`.',
].join('\n');

/** The portal refused offline events for this auth (webhook): carries {@link APP_AUTH_HELP}. */
export class AppAuthRequired extends Error {
  readonly exitCode = 1;
  constructor(method: string) {
    super(`${method}: WRONG_AUTH_TYPE — ${APP_AUTH_HELP}`);
    this.name = 'AppAuthRequired';
  }
}

/** True for the portal's "application context required" refusals. */
export function isWrongAuthType(err: unknown): boolean {
  const e = err as { code?: string; name?: string; message?: string } | undefined;
  return (
    e?.code === 'WRONG_AUTH_TYPE' ||
    e?.name === 'WrongAuthType' ||
    /WRONG_AUTH_TYPE|Application context required/i.test(e?.message ?? '')
  );
}

/** One row of `event.offline.get`. */
export interface OfflineRow {
  ID: string | number;
  TIMESTAMP_X?: string;
  EVENT_NAME: string;
  EVENT_DATA?: unknown;
  EVENT_ADDITIONAL?: unknown;
  MESSAGE_ID?: string | number;
}

/** Failed attempts of one offline row: count, first failure and next retry (Unix ms), last reason. */
export interface OfflineAttempt {
  attempts: number;
  firstSeen: number;
  nextAt: number;
  lastError: string;
}

/**
 * What the offline worker keeps across restarts: the process ids holding its reservations (oldest first), the
 * attempts of failed rows by row id, and the rows it dead-lettered (`<rowId>:<key>` → Unix ms; kept 30 days).
 */
export interface OfflineSyncState {
  processIds: string[];
  attempts: Record<string, OfflineAttempt>;
  dead: Record<string, number>;
}

/**
 * Where the offline worker's state lives (src/store/events.ts: table offline_sync, one row per worker name).
 * `save` is committed before it resolves.
 */
export interface OfflineStateStore {
  /** The saved state, or undefined before the first save. */
  load(): Promise<OfflineSyncState | undefined>;
  save(state: OfflineSyncState): Promise<void>;
}

/** Options of {@link OfflineSyncWorker}. */
export interface OfflineSyncOptions {
  client: RestCaller;
  dispatcher: Dispatcher;
  dlq: DeadLetterStore;
  metrics: Metrics;
  /** The worker's durable state (process ids, attempts). */
  state: OfflineStateStore;
  log?: LogFn;
  /** Attempts before an event goes to the DLQ (default 5). */
  maxAttempts?: number;
  /** First retry delay, ms (default 1000); doubles per attempt up to `maxBackoffMs` (default 60 000). */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Rows per `event.offline.get` (default 50). */
  limit?: number;
  /** Events dispatched in parallel within a batch (default 4; rows about one object always in order). */
  parallel?: number;
  /** Interval between passes, ms (default 10 000); 0 = only on kick(). */
  syncEveryMs?: number;
  /** Adopt reservations of lost process ids at start (default true; one worker per portal). */
  adoptOrphans?: boolean;
  /** Wall clock, ms (injectable for tests). */
  now?: () => number;
  /**
   * The portal (`member_id`) whose queue this worker reads, when the service serves several: stamped on its events,
   * so that a dead letter records its portal and `b24flow dlq replay` runs it there.
   */
  memberId?: string;
  /**
   * Asks for a pass through a job queue instead of running it here (`offline-fetch`, one active per portal across
   * processes; src/triggers/jobs.ts); the queue's worker then calls {@link OfflineSyncWorker.passNow}. The persisted
   * state is re-read at the start of each pass, since the previous pass may have run in another process.
   * `periodic`: asked by the `syncEveryMs` timer (every process has one), not by an event or a retry.
   */
  requestPass?: (periodic: boolean) => void;
}

/** Totals of one pass. */
export interface SyncPassResult {
  batches: number;
  processed: number;
  failed: number;
  deadLettered: number;
  deferred: number;
}

/** Turns an offline row into a normalised event. */
export function rowToEvent(row: OfflineRow, hash: (s: string) => string = payloadHash): B24Event {
  const data = row.EVENT_DATA ?? null;
  const ts = toUnixSeconds(row.TIMESTAMP_X);
  const objectId = objectIdOf(data);
  return {
    name: String(row.EVENT_NAME).toUpperCase(),
    data,
    ts,
    key: eventKey(String(row.EVENT_NAME), data, ts, hash),
    source: 'offline',
    rowId: String(row.ID),
    ...(objectId !== undefined ? { objectId } : {}),
    ...(row.MESSAGE_ID !== undefined && row.MESSAGE_ID !== null ? { messageId: String(row.MESSAGE_ID) } : {}),
  };
}

/** The offline queue worker (see module doc). */
export class OfflineSyncWorker {
  private state: OfflineSyncState = { attempts: {}, dead: {}, processIds: [] };
  private loaded = false;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<SyncPassResult> | undefined;
  private again = false;
  private stopping = false;
  /** Set when the portal refused app-only methods; the worker stops trying. */
  authError: AppAuthRequired | undefined;
  lastPassAt: number | undefined;

  constructor(private readonly o: OfflineSyncOptions) {}

  private now(): number {
    return this.o.now ? this.o.now() : Date.now();
  }

  /** Loads the saved state once (before the first pass). */
  private async load(): Promise<void> {
    if (this.loaded) return;
    const s = await this.o.state.load();
    this.state = { attempts: s?.attempts ?? {}, dead: s?.dead ?? {}, processIds: s?.processIds ?? [] };
    this.loaded = true;
  }

  private async save(): Promise<void> {
    const cutoff = this.now() - 30 * 24 * 3600_000;
    for (const [k, t] of Object.entries(this.state.dead)) if (t < cutoff) delete this.state.dead[k];
    await this.o.state.save(this.state);
  }

  /** The newest process id reserving our rows (persisted; undefined before the first pass). */
  get processId(): string | undefined {
    return this.state.processIds.at(-1);
  }

  /** Starts passes every `syncEveryMs` and one pass now. */
  start(): void {
    this.kick();
    const every = this.o.syncEveryMs ?? 10_000;
    if (every > 0) this.timer = setInterval(() => this.kick(true), every);
  }

  /**
   * Requests a pass as soon as possible (coalesced with one in progress). Never throws; errors are logged.
   * @param periodic asked by the `syncEveryMs` timer (see {@link OfflineSyncOptions.requestPass})
   */
  kick(periodic = false): void {
    if (this.stopping || this.authError) return;
    if (this.o.requestPass) this.o.requestPass(periodic);
    else this.kickLocal();
  }

  /** Runs a pass in this process now (the `offline-fetch` job's handler); resolves when no pass is running. */
  async passNow(): Promise<void> {
    if (this.stopping || this.authError) return;
    // the previous pass may have run in another process: start from the state it saved
    this.loaded = false;
    await this.load();
    this.kickLocal();
    await this.idle();
  }

  private kickLocal(): void {
    if (this.stopping || this.authError) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.pass()
      .catch((err: unknown) => {
        if (err instanceof AppAuthRequired) {
          this.authError = err;
          this.o.log?.(`offline sync stopped: ${err.message}`);
        } else {
          this.o.log?.(`offline sync: ${err instanceof Error ? err.message : String(err)}`);
        }
        return { batches: 0, processed: 0, failed: 0, deadLettered: 0, deferred: 0 };
      })
      .finally(() => {
        this.running = undefined;
        if (this.again && !this.stopping) {
          this.again = false;
          this.kickLocal();
          return;
        }
        this.scheduleRetry();
      });
  }

  private retryTimer: NodeJS.Timeout | undefined;

  /** Arms a timer for the earliest retry of a failed row, so back-off does not wait for the next interval. */
  private scheduleRetry(): void {
    if (this.stopping || this.authError) return;
    const next = Math.min(...Object.values(this.state.attempts).map((a) => a.nextAt));
    if (!Number.isFinite(next)) return;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.kick(), Math.max(10, next - this.now() + 5));
    this.retryTimer.unref?.();
  }

  /** Resolves when no pass is running. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /**
   * Stops the worker: no new batch, dispatches in flight finish and are cleared; every other row stays reserved.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.timer = undefined;
    await this.idle();
  }

  /**
   * Runs passes until the queue has nothing dispatchable (all rows done, or only rows in back-off left).
   * @throws AppAuthRequired with a webhook; B24Error for other portal failures
   */
  async pass(): Promise<SyncPassResult> {
    const total: SyncPassResult = { batches: 0, processed: 0, failed: 0, deadLettered: 0, deferred: 0 };
    await this.load();
    while (!this.stopping) {
      const r = await this.batch();
      total.batches++;
      total.processed += r.processed;
      total.failed += r.failed;
      total.deadLettered += r.deadLettered;
      total.deferred = r.deferred;
      if (r.rows === 0 || r.processed + r.failed + r.deadLettered === 0) break;
    }
    this.lastPassAt = this.now();
    return total;
  }

  private async call<T>(method: string, params: Record<string, unknown>): Promise<T> {
    try {
      return (await this.o.client.call<T>(method, params)).result;
    } catch (err) {
      if (isWrongAuthType(err)) throw new AppAuthRequired(method);
      throw err;
    }
  }

  /**
   * Reads the next rows: first the rows reserved under our process ids (re-read after a crash; on portals that
   * honour a caller-chosen `process_id` this also reserves new rows under it, with no window where a reservation
   * is unknown to us), then — when nothing dispatchable came back — a plain `clear=0` read whose new process id
   * is persisted at once.
   */
  private async reserve(): Promise<{ row: OfflineRow; pid: string }[]> {
    if (!this.state.processIds.length) {
      this.state.processIds.push(`b24flow-${randomBytes(8).toString('hex')}`);
      await this.save();
    }
    if (!this.adopted) {
      this.adopted = true;
      await this.adoptOrphans();
    }
    const limit = this.o.limit ?? 50;
    const out = new Map<string, { row: OfflineRow; pid: string }>();
    const empty: string[] = [];
    for (const pid of [...this.state.processIds]) {
      const got = await this.call<{ process_id?: string | null; events?: OfflineRow[] }>('event.offline.get', {
        clear: 0,
        limit,
        process_id: pid,
      });
      const rows = Array.isArray(got?.events) ? got.events : [];
      const realPid = got?.process_id || pid;
      if (realPid !== pid && !this.state.processIds.includes(realPid)) {
        this.state.processIds.push(realPid);
        await this.save();
      }
      if (!rows.length) empty.push(pid);
      for (const row of rows) out.set(String(row.ID), { row, pid: realPid });
    }
    const dispatchable = [...out.values()].some(({ row }) => {
      const a = this.state.attempts[String(row.ID)];
      return !(a && a.nextAt > this.now());
    });
    if (!dispatchable) {
      const got = await this.call<{ process_id?: string | null; events?: OfflineRow[] }>('event.offline.get', {
        clear: 0,
        limit,
      });
      const rows = Array.isArray(got?.events) ? got.events : [];
      if (got?.process_id && rows.length) {
        if (!this.state.processIds.includes(got.process_id)) this.state.processIds.push(got.process_id);
        await this.save();
        for (const row of rows) out.set(String(row.ID), { row, pid: got.process_id });
      }
    }
    // forget process ids that hold nothing any more (keep the newest one for the next read)
    const keep = this.state.processIds.filter(
      (pid, i, all) => i === all.length - 1 || !empty.includes(pid) || [...out.values()].some((x) => x.pid === pid),
    );
    if (keep.length !== this.state.processIds.length) {
      this.state.processIds = keep;
      await this.save();
    }
    return [...out.values()];
  }

  private adopted = false;

  /**
   * Finds reservations no live worker holds (rows reserved by a process id we lost, e.g. killed between the portal's
   * answer and our write) through `event.offline.list`, and adopts them. Assumes one b24flow worker per portal
   * (`B24FLOW_ADOPT_RESERVATIONS=0` turns it off). Best effort: errors are ignored.
   */
  private async adoptOrphans(): Promise<void> {
    if (this.o.adoptOrphans === false) return;
    try {
      const found = new Set<string>();
      for (let start = 0, page = 0; page < 40; page++) {
        const r = (await this.o.client.call<Record<string, unknown>[]>('event.offline.list', {
          filter: { '!PROCESS_ID': '' },
          start,
        })) as { result: Record<string, unknown>[]; next?: number };
        const rows = Array.isArray(r.result) ? r.result : [];
        for (const row of rows) {
          const pid = String(row.PROCESS_ID ?? '');
          if (pid && String(row.ERROR ?? '0') === '0' && !this.state.processIds.includes(pid)) found.add(pid);
        }
        if (r.next === undefined || rows.length === 0) break;
        start = r.next;
      }
      if (found.size) {
        this.state.processIds.unshift(...found);
        await this.save();
        this.o.log?.(`offline sync: adopted ${found.size} orphaned reservation(s)`);
      }
    } catch {}
  }

  /** One get → dispatch → clear/error round. */
  private async batch(): Promise<SyncPassResult & { rows: number }> {
    const reserved = await this.reserve();
    const res = { rows: reserved.length, batches: 1, processed: 0, failed: 0, deadLettered: 0, deferred: 0 };
    if (!reserved.length) return res;
    const pidOf = new Map(reserved.map(({ row, pid }) => [String(row.ID), pid]));
    const rows = reserved.map((x) => x.row);

    const now = this.now();
    const toClear: string[] = [];
    const toError: { pid: string; messageId: string }[] = [];
    const groups = new Map<string, { row: OfflineRow; ev: B24Event }[]>();
    for (const row of rows) {
      const ev = rowToEvent(row);
      if (this.o.memberId !== undefined) ev.memberId = this.o.memberId;
      const id = ev.rowId!;
      if (this.state.dead[`${id}:${ev.key}`]) {
        // already in the DLQ and reported; the portal still shows it to our process
        continue;
      }
      const a = this.state.attempts[id];
      if (a && a.nextAt > now) {
        res.deferred++;
        continue;
      }
      const g = ev.objectId ? `${ev.name.replace(/(ADD|UPDATE|DELETE)$/, '')}:${ev.objectId}` : `row:${id}`;
      const arr = groups.get(g) ?? [];
      arr.push({ row, ev });
      groups.set(g, arr);
    }

    const maxAttempts = this.o.maxAttempts ?? 5;
    const handle = async (ev: B24Event) => {
      const id = ev.rowId!;
      // the same settle path as online events (src/triggers/intake.ts): a throwing handler is a failure with a reason
      const r = await attemptEvent(this.o.dispatcher, ev);
      if (r.ok) {
        toClear.push(id);
        delete this.state.attempts[id];
        res.processed++;
        return;
      }
      const err = r.error ?? 'failed';
      const prev = this.state.attempts[id];
      const attempts = (prev?.attempts ?? 0) + 1;
      const firstSeen = prev?.firstSeen ?? this.now();
      if (attempts >= maxAttempts) {
        await deadLetterEvent(this.o.dlq, ev, r, attempts, new Date(firstSeen));
        this.o.metrics.eventsDeadLettered.inc({ source: ev.source });
        delete this.state.attempts[id];
        this.state.dead[`${id}:${ev.key}`] = this.now();
        if (ev.messageId) toError.push({ pid: pidOf.get(id)!, messageId: ev.messageId });
        res.deadLettered++;
        this.o.log?.(`event ${ev.name} ${ev.objectId ?? ''} moved to the dead-letter queue after ${attempts} attempts`);
      } else {
        const base = this.o.backoffMs ?? 1000;
        const delay = Math.min(base * 2 ** (attempts - 1), this.o.maxBackoffMs ?? 60_000);
        this.state.attempts[id] = { attempts, firstSeen, nextAt: this.now() + delay, lastError: err };
        res.failed++;
      }
    };

    const queue = [...groups.values()];
    const workers = Array.from({ length: Math.max(1, Math.min(this.o.parallel ?? 4, queue.length)) }, async () => {
      for (;;) {
        if (this.stopping) return;
        const group = queue.shift();
        if (!group) return;
        for (const { ev } of group) {
          if (this.stopping) return;
          await handle(ev);
        }
      }
    });
    await Promise.all(workers);

    for (const pid of new Set(toClear.map((id) => pidOf.get(id)!))) {
      const ids = toClear.filter((id) => pidOf.get(id) === pid);
      await this.call('event.offline.clear', { process_id: pid, id: ids });
    }
    for (const pid of new Set(toError.map((x) => x.pid))) {
      const ids = toError.filter((x) => x.pid === pid).map((x) => x.messageId);
      await this.call('event.offline.error', { process_id: pid, message_id: ids });
    }
    await this.save();
    this.o.metrics.offlineBatches.inc();
    return res;
  }
}
