/**
 * Event intake: the one path every accepted Bitrix24 event takes, whatever channel brought it —
 * durable store → acknowledge → process → processed key (success) or dead-letter queue with the reason (failure).
 *
 * - Online deliveries (`POST /bitrix/events`) have no retries on the portal side
 *   (api-reference/events/index.md: an online handler that does not answer, or fails, loses the event), so the
 *   {@link EventStore} is the only copy: each event is committed to the durable store (table events) before the
 *   endpoint answers 200. The row is removed only once the event is settled — processed, recorded as a duplicate,
 *   or dead-lettered — so a crash at any point between acknowledge and settle leaves it in the store, and it is
 *   processed again at the next start or by another worker once its lease ran out (the processed keys make the
 *   replay run each pipeline once).
 * - Several processes may share one store: an event is processed by the holder of its lease (`leased_by`,
 *   `lease_until_ms`); the lease is taken by one conditional UPDATE and renewed while the event is processed, so a
 *   killed worker's events are claimed by another after their lease ({@link EventStore.claimDue}).
 * - Offline rows are stored by the portal itself (a reserved row stays until `event.offline.clear`), so the offline
 *   worker acknowledges after processing; it settles through the same {@link attemptEvent} and
 *   {@link deadLetterEvent} as the online path, so both get the same failure handling and DLQ reasons.
 *
 * A failed attempt is retried with exponential back-off (`backoffMs`, doubling up to `maxBackoffMs`); after
 * `maxAttempts` the event goes to the dead-letter queue with the pipelines' errors as its reason. "Failed" covers a
 * pipeline run that did not succeed (refused for want of `approve`, check error, …), a runner or handler that threw,
 * and a `trigger.if` that could not be evaluated.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Dispatcher, DispatchResult } from './dispatcher.js';
import type { DeadLetter, DeadLetterInfo, DeadLetterStore } from './dlq.js';
import type { Metrics } from './metrics.js';
import type { B24Event, LogFn } from './types.js';

/**
 * Outcome of one processing attempt of an event (never thrown).
 * - `ok`: nothing left to do (processed, duplicate, own write, unmatched);
 * - `error`: the reason when not ok (`pipeline: error; …`, or `dispatch: <message>` when the handler threw);
 * - `pipelines`: the pipelines that failed (all the event's pipelines when the handler threw).
 */
export interface AttemptOutcome {
  ok: boolean;
  result?: DispatchResult;
  error?: string;
  pipelines: string[];
}

/**
 * Dispatches an event once and turns every failure — a failed run, or a dispatcher that throws — into a reason.
 * Never throws.
 */
export async function attemptEvent(
  dispatcher: Pick<Dispatcher, 'dispatch' | 'pipelinesFor'>,
  ev: B24Event,
  opts: { only?: string[]; force?: boolean } = {},
): Promise<AttemptOutcome> {
  try {
    const result = await dispatcher.dispatch(ev, opts);
    if (result.outcome !== 'failed') return { ok: true, result, pipelines: [] };
    return {
      ok: false,
      result,
      error: result.failures.map((f) => `${f.pipeline}: ${f.error}`).join('; ') || 'failed',
      pipelines: result.failures.map((f) => f.pipeline),
    };
  } catch (err) {
    const names = dispatcher.pipelinesFor(ev.name).map((p) => p.name);
    return {
      ok: false,
      error: `dispatch: ${err instanceof Error ? err.message : String(err)}`,
      pipelines: opts.only ?? names,
    };
  }
}

/** What the dead-letter queue records of a failed attempt (the reason of the last attempt, the failed pipelines). */
export function deadLetterInfo(outcome: AttemptOutcome, attempts: number, firstSeen: Date): DeadLetterInfo {
  return { error: outcome.error ?? 'failed', attempts, pipelines: outcome.pipelines, firstSeen };
}

/** Puts a failed event into the dead-letter queue with the reason of its last attempt; resolves to the entry. */
export function deadLetterEvent(
  dlq: DeadLetterStore,
  ev: B24Event,
  outcome: AttemptOutcome,
  attempts: number,
  firstSeen: Date,
): Promise<DeadLetter> {
  return dlq.add(ev, deadLetterInfo(outcome, attempts, firstSeen));
}

/** An event held in the intake store: `attempts` failed so far, `firstSeen` ISO-8601 time it was accepted. */
export interface StoredEvent {
  id: string;
  event: B24Event;
  attempts: number;
  firstSeen: string;
}

/**
 * Where accepted events wait until they are settled (src/store/events.ts on SQLite or PostgreSQL). Safe with several
 * processes on one store: every event is processed by the holder of its lease. The protocol of a worker:
 * 1. `add` (online endpoint: the event is committed, leased to the accepting worker, then acknowledged) or
 *    `claimDue` (events of an earlier process, of a killed worker whose lease ran out, or retries released by
 *    another worker);
 * 2. while processing, `renew` the lease (well before `leaseMs`); a false answer means it was lost;
 * 3. settle it: `complete` (processed, with its processed keys — one transaction), `fail` (a retry at `nextDueMs`),
 *    or `deadLetter` (the dead letter upserted and the event removed — one transaction); `release` on a stop.
 * Every method is committed before it resolves; errors are the database's.
 */
export interface EventStore {
  /**
   * Stores an accepted event, leased to `holder` for `leaseMs`, due now. Committed (durable against a process
   * crash) before it resolves: only then may the event be acknowledged.
   */
  add(event: B24Event, holder: string, leaseMs: number): Promise<StoredEvent>;
  /**
   * Claims up to `limit` due events (`due_ms <= now`) that nobody holds or whose lease ran out, oldest first: each
   * one by `UPDATE … WHERE event_id = ? AND (leased_by IS NULL OR lease_until_ms < now)`, kept only when a row was
   * updated, so two claimers never get the same event.
   */
  claimDue(limit: number, holder: string, leaseMs: number): Promise<StoredEvent[]>;
  /** Extends `holder`'s lease to now + `leaseMs`; false when the holder lost it (another worker claimed it). */
  renew(id: string, holder: string, leaseMs: number): Promise<boolean>;
  /**
   * Settles a processed event: removes it and records `processedKeys` (insert … on conflict do nothing) in one
   * transaction.
   */
  complete(id: string, processedKeys?: string[]): Promise<void>;
  /**
   * Records a failed attempt: attempts + 1, the error, due again at `nextDueMs`. With `hold`, the lease stays with
   * `hold.holder` until `nextDueMs + hold.leaseMs` (it retries itself); without, it is released for any worker.
   */
  fail(id: string, error: string, nextDueMs: number, hold?: { holder: string; leaseMs: number }): Promise<void>;
  /**
   * Gives up on an event: the dead letter is added (upserted by event key, see `DeadLetterStore.add`) and the event
   * removed, in one transaction.
   */
  deadLetter(id: string, ev: B24Event, info: DeadLetterInfo): Promise<DeadLetter>;
  /** Releases `holder`'s lease (due as it is): on a graceful stop, so the next start takes it at once. */
  release(id: string, holder: string): Promise<void>;
  /** Events held (waiting, leased or in back-off). */
  count(): Promise<number>;
  /** Up to `limit` held events, oldest first, with their lease and back-off (for `b24flow events pending`). */
  list(limit: number): Promise<HeldEvent[]>;
}

/**
 * An event in the intake store as an operator sees it: due again at `dueMs` (Unix ms), leased by `leasedBy` until
 * `leaseUntilMs` (null: free), the reason of its last failed attempt.
 */
export interface HeldEvent extends StoredEvent {
  dueMs: number;
  leasedBy: string | null;
  leaseUntilMs: number | null;
  lastError: string | null;
}

/** A lease holder name for this process: `<host>:<pid>:<random>` (unique per intake instance). */
export function leaseHolder(): string {
  return `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}

/** Options of {@link EventIntake}. */
export interface IntakeOptions {
  /** The durable store of accepted events. */
  events: EventStore;
  /** The dispatcher (with several portals served: one that routes each event to its portal's dispatcher). */
  dispatcher: Pick<Dispatcher, 'dispatch' | 'pipelinesFor'>;
  dlq: DeadLetterStore;
  metrics: Metrics;
  log?: LogFn;
  /** Attempts before an event goes to the DLQ (default 5, as offline). */
  maxAttempts?: number;
  /** First retry delay, ms (default 1000), doubling up to `maxBackoffMs` (default 60 000). */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Events processed in parallel (default 4). */
  parallel?: number;
  /** Lease of an event being processed, ms (default 60 000); renewed every third of it while processing. */
  leaseMs?: number;
  /** Renew leases while processing (default true; false only to simulate a worker that died, in tests). */
  renewLeases?: boolean;
  /** Interval of the look for due events of other (dead) workers, ms (default 5 000; 0: only {@link recover}). */
  pollMs?: number;
  /** The lease holder name (default {@link leaseHolder}). */
  holder?: string;
}

/** Durable intake store and its processing queue (see module doc). */
export class EventIntake {
  /** The name this intake's leases carry. */
  readonly holder: string;
  private readonly queue: StoredEvent[] = [];
  private readonly known = new Set<string>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly leaseMs: number;
  private renewTimer: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private readonly processing = new Set<string>();
  private active = 0;
  private stopping = false;
  private waiters: (() => void)[] = [];

  constructor(private readonly o: IntakeOptions) {
    this.holder = o.holder ?? leaseHolder();
    this.leaseMs = o.leaseMs ?? 60_000;
  }

  /**
   * Commits an accepted event to the store, leased to this intake, before resolving; the caller acknowledges only
   * after this resolves, then hands the result to {@link submit}.
   * @throws the store's error — the event is not accepted then
   */
  store(event: B24Event): Promise<StoredEvent> {
    return this.o.events.add(event, this.holder, this.leaseMs);
  }

  /** Queues a stored event (leased to this intake) for processing. */
  submit(s: StoredEvent): void {
    if (this.known.has(s.id)) return;
    this.known.add(s.id);
    this.queue.push(s);
    this.startTimers();
    this.pump();
  }

  /**
   * Claims and queues every due event left in the store by an earlier process (accepted, maybe acknowledged, not
   * settled) whose lease is free or ran out, oldest first; then looks again every `pollMs`, so a killed worker's
   * events are taken over after their lease.
   * @returns how many events were queued now
   */
  async recover(): Promise<number> {
    const n = await this.claim();
    if (n) this.o.log?.(`intake: ${n} accepted event(s) from an earlier run queued again`);
    this.startTimers();
    return n;
  }

  private startTimers(): void {
    if (this.stopping) return;
    const poll = this.o.pollMs ?? 5_000;
    if (poll > 0 && !this.pollTimer) {
      this.pollTimer = setInterval(() => {
        void this.claim()
          .then((n) => {
            if (n) this.o.log?.(`intake: ${n} accepted event(s) taken over from a worker whose lease ran out`);
          })
          .catch((err: unknown) => this.o.log?.(`intake: looking for due events failed (${errText(err)})`));
      }, poll);
      this.pollTimer.unref?.();
    }
    if (this.o.renewLeases !== false && !this.renewTimer) {
      this.renewTimer = setInterval(() => void this.renewAll(), Math.max(10, Math.floor(this.leaseMs / 3)));
      this.renewTimer.unref?.();
    }
  }

  /** Claims due events up to what this intake can take on, and submits them; resolves to how many. */
  private async claim(): Promise<number> {
    if (this.stopping) return 0;
    const room = (this.o.parallel ?? 4) * 4 - this.pending();
    if (room <= 0) return 0;
    const got = await this.o.events.claimDue(room, this.holder, this.leaseMs);
    let n = 0;
    for (const s of got) {
      if (this.known.has(s.id)) continue;
      this.submit(s);
      n++;
    }
    return n;
  }

  /** Renews the leases of the events queued or being processed here. */
  private async renewAll(): Promise<void> {
    const ids = [...this.processing, ...this.queue.map((s) => s.id)];
    for (const id of ids) {
      try {
        if (!(await this.o.events.renew(id, this.holder, this.leaseMs)))
          this.o.log?.(`intake: the lease of event ${id} was lost (another worker may process it too)`);
      } catch (err) {
        this.o.log?.(`intake: renewing the lease of event ${id} failed (${errText(err)})`);
      }
    }
  }

  private pump(): void {
    while (this.active < (this.o.parallel ?? 4) && this.queue.length) {
      const s = this.queue.shift()!;
      this.active++;
      this.processing.add(s.id);
      void this.process(s)
        .catch((err: unknown) =>
          // the store failed while settling: the event stays in it (leased) and is taken again after its lease
          this.o.log?.(`event ${s.event.name} ${s.event.objectId ?? ''}: not settled (${errText(err)})`),
        )
        .finally(() => {
          this.processing.delete(s.id);
          if (!this.timers.has(s.id)) this.known.delete(s.id);
          this.active--;
          this.pump();
          this.notify();
        });
    }
    this.notify();
  }

  private notify(): void {
    if (this.pending() === 0) for (const w of this.waiters.splice(0)) w();
  }

  private async process(s: StoredEvent): Promise<void> {
    const ev = s.event;
    const out = await attemptEvent(this.o.dispatcher, ev);
    if (out.ok) {
      const keys = out.result?.processedKeys ?? (out.result?.ran ?? []).map((p) => `${ev.key}#${p}`);
      await this.o.events.complete(s.id, keys);
      return;
    }
    const attempts = s.attempts + 1;
    const max = this.o.maxAttempts ?? 5;
    if (attempts >= max) {
      try {
        await this.o.events.deadLetter(s.id, ev, deadLetterInfo(out, attempts, new Date(s.firstSeen)));
      } catch (err) {
        // the DLQ could not take it: keep it in the store (released, counted) for a later attempt rather than lose it
        this.o.log?.(`event ${ev.name} ${ev.objectId ?? ''}: dead-letter write failed (${errText(err)})`);
        await this.o.events.fail(s.id, out.error ?? 'failed', Date.now());
        return;
      }
      this.o.metrics.eventsDeadLettered.inc({ source: ev.source });
      this.o.log?.(
        `event ${ev.name} ${ev.objectId ?? ''} moved to the dead-letter queue after ${attempts} attempt(s): ${out.error}`,
      );
      return;
    }
    const next: StoredEvent = { ...s, attempts };
    const base = this.o.backoffMs ?? 1000;
    const delay = Math.min(base * 2 ** (attempts - 1), this.o.maxBackoffMs ?? 60_000);
    if (this.stopping) {
      // stays in the store for the next start (or another worker), free at once
      await this.o.events.fail(s.id, out.error ?? 'failed', Date.now() + delay);
      return;
    }
    // this intake retries it itself: the lease covers the back-off
    await this.o.events.fail(s.id, out.error ?? 'failed', Date.now() + delay, {
      holder: this.holder,
      leaseMs: this.leaseMs,
    });
    const t = setTimeout(() => {
      this.timers.delete(s.id);
      this.queue.push(next);
      this.pump();
    }, delay);
    this.timers.set(s.id, t);
  }

  /** Events queued, being processed or waiting for a retry here. */
  pending(): number {
    return this.queue.length + this.active + this.timers.size;
  }

  /** Resolves when every event submitted so far is settled (processed or dead-lettered). */
  drain(): Promise<void> {
    if (this.pending() === 0) return Promise.resolve();
    return new Promise<void>((r) => this.waiters.push(r));
  }

  /**
   * Graceful stop: queued events and attempts in flight finish (runs get the service's abort signal after its
   * grace period); an event that fails now, or waits for a retry, stays in the store, its lease released, for the
   * next start (or another worker) instead of being retried here. Resolves when nothing is in flight.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = undefined;
    const waiting = [...this.timers.keys()];
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    for (const id of waiting) {
      this.known.delete(id);
      await this.o.events
        .release(id, this.holder)
        .catch((err: unknown) => this.o.log?.(`intake: releasing event ${id} failed (${errText(err)})`));
    }
    this.notify();
    await this.drain();
    if (this.renewTimer) clearInterval(this.renewTimer);
    this.renewTimer = undefined;
  }
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
