/**
 * Event intake: the one path every accepted Bitrix24 event takes, whatever channel brought it —
 * durable store → acknowledge → process → processed key (success) or dead-letter queue with the reason (failure).
 *
 * - Online deliveries (`POST /bitrix/events`) have no retries on the portal side
 *   (api-reference/events/index.md: an online handler that does not answer, or fails, loses the event), so the
 *   {@link EventIntake} store is the only copy: each event is written to `<dataDir>/triggers/intake/<id>.json`
 *   (written to a temporary file, fsynced, renamed, directory fsynced) before the endpoint answers 200. The file is
 *   removed only once the event is settled — processed, recorded as a duplicate, or dead-lettered — so a crash at
 *   any point between acknowledge and settle leaves it on disk and {@link EventIntake.recover} replays it at the
 *   next start (the processed-key store makes the replay run each pipeline once).
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
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomicSync } from '../lib/atomic.js';
import type { Dispatcher, DispatchResult } from './dispatcher.js';
import type { DeadLetter, DeadLetterQueue } from './dlq.js';
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
  dispatcher: Dispatcher,
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

/** Puts a failed event into the dead-letter queue with the reason of its last attempt; returns the entry. */
export function deadLetterEvent(
  dlq: DeadLetterQueue,
  ev: B24Event,
  outcome: AttemptOutcome,
  attempts: number,
  firstSeen: Date,
): DeadLetter {
  return dlq.add(ev, { error: outcome.error ?? 'failed', attempts, pipelines: outcome.pipelines, firstSeen });
}

/** An event held in the intake store: `attempts` failed so far, `firstSeen` ISO-8601 time it was accepted. */
export interface StoredEvent {
  id: string;
  event: B24Event;
  attempts: number;
  firstSeen: string;
}

/** Options of {@link EventIntake}. */
export interface IntakeOptions {
  dataDir: string;
  dispatcher: Dispatcher;
  dlq: DeadLetterQueue;
  metrics: Metrics;
  log?: LogFn;
  /** Attempts before an event goes to the DLQ (default 5, as offline). */
  maxAttempts?: number;
  /** First retry delay, ms (default 1000), doubling up to `maxBackoffMs` (default 60 000). */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Events processed in parallel (default 4). */
  parallel?: number;
}

let seq = 0;

/** Durable intake store and its processing queue (see module doc). */
export class EventIntake {
  /** `<dataDir>/triggers/intake`. */
  readonly dir: string;
  private readonly queue: StoredEvent[] = [];
  private readonly known = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private active = 0;
  private stopping = false;
  private waiters: (() => void)[] = [];

  constructor(private readonly o: IntakeOptions) {
    this.dir = join(o.dataDir, 'triggers', 'intake');
    mkdirSync(this.dir, { recursive: true });
  }

  private file(id: string): string {
    return join(this.dir, `${id}.json`);
  }

  /**
   * Writes an accepted event to the store and makes it durable (file and directory fsynced) before returning; the
   * caller acknowledges only after this returns, then hands the result to {@link submit}.
   * @throws the fs error (ENOSPC, EACCES, …) — the event is not accepted then
   */
  store(event: B24Event): StoredEvent {
    const id = `${Date.now().toString(36).padStart(9, '0')}-${(seq++ % 1679616).toString(36).padStart(4, '0')}-${randomBytes(4).toString('hex')}`;
    const stored: StoredEvent = { id, event, attempts: 0, firstSeen: new Date().toISOString() };
    this.write(stored);
    syncDir(this.dir);
    return stored;
  }

  private write(s: StoredEvent): void {
    writeFileAtomicSync(this.file(s.id), `${JSON.stringify(s)}\n`);
  }

  private remove(id: string): void {
    try {
      unlinkSync(this.file(id));
    } catch {}
    this.known.delete(id);
  }

  /** Queues a stored event for processing. */
  submit(s: StoredEvent): void {
    if (this.known.has(s.id)) return;
    this.known.add(s.id);
    this.queue.push(s);
    this.pump();
  }

  /**
   * Queues every event left in the store by an earlier process (accepted, maybe acknowledged, not settled), oldest
   * first. An unreadable file is set aside as `<id>.json.bad` with a log line.
   * @returns how many events were queued
   */
  recover(): number {
    let names: string[];
    try {
      names = readdirSync(this.dir)
        .filter((n) => n.endsWith('.json'))
        .sort();
    } catch {
      return 0;
    }
    let n = 0;
    for (const name of names) {
      const id = name.slice(0, -'.json'.length);
      if (this.known.has(id)) continue;
      let s: StoredEvent;
      try {
        s = JSON.parse(readFileSync(join(this.dir, name), 'utf8')) as StoredEvent;
        if (!s || typeof s.event?.name !== 'string' || typeof s.event.key !== 'string') throw new Error('not an event');
      } catch (err) {
        this.o.log?.(`intake: ${name} is unreadable (${(err as Error).message}); set aside as ${name}.bad`);
        try {
          renameSync(join(this.dir, name), join(this.dir, `${name}.bad`));
        } catch {}
        continue;
      }
      this.submit({ ...s, id, attempts: Number(s.attempts) || 0, firstSeen: s.firstSeen || new Date().toISOString() });
      n++;
    }
    if (n) this.o.log?.(`intake: ${n} accepted event(s) from an earlier run queued again`);
    return n;
  }

  private pump(): void {
    while (this.active < (this.o.parallel ?? 4) && this.queue.length) {
      const s = this.queue.shift()!;
      this.active++;
      void this.process(s).finally(() => {
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
      this.remove(s.id);
      return;
    }
    const attempts = s.attempts + 1;
    const max = this.o.maxAttempts ?? 5;
    if (attempts >= max) {
      try {
        deadLetterEvent(this.o.dlq, ev, out, attempts, new Date(s.firstSeen));
      } catch (err) {
        // the DLQ could not take it: keep it in the store for the next start rather than lose it
        this.o.log?.(`event ${ev.name} ${ev.objectId ?? ''}: dead-letter write failed (${(err as Error).message})`);
        this.write({ ...s, attempts });
        return;
      }
      this.remove(s.id);
      this.o.metrics.inc('b24flow_events_dead_lettered_total', { source: ev.source });
      this.o.log?.(
        `event ${ev.name} ${ev.objectId ?? ''} moved to the dead-letter queue after ${attempts} attempt(s): ${out.error}`,
      );
      return;
    }
    const next: StoredEvent = { ...s, attempts };
    this.write(next);
    if (this.stopping) return;
    const base = this.o.backoffMs ?? 1000;
    const delay = Math.min(base * 2 ** (attempts - 1), this.o.maxBackoffMs ?? 60_000);
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.queue.push(next);
      this.pump();
    }, delay);
    this.timers.add(t);
  }

  /** Events queued, being processed or waiting for a retry. */
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
   * grace period); an event that fails now, or waits for a retry, stays in the store for the next start instead of
   * being retried. Resolves when nothing is in flight.
   */
  stop(): Promise<void> {
    this.stopping = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.notify();
    return this.drain();
  }
}

/** fsyncs a directory so a file just renamed into it survives a power loss (best effort where unsupported). */
function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
