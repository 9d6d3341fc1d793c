/**
 * The shared job queue on PostgreSQL: pg-boss 12 (https://github.com/timgit/pg-boss) in the store's database
 * (its own schema `pgboss`), behind the {@link JobQueue} of src/triggers/jobs.ts. Every `serve` process on the
 * database works the same queues:
 * - `pipeline-run` (policy `standard`): runs are sent with a deterministic id (a second send of the same run is
 *   refused by the primary key); `retryLimit` retries; a job that fails past them is copied by pg-boss into
 *   `pipeline-run-dead`, which every process works by filing it in the dead-letter queue;
 * - `offline-fetch` (policy `stately`, singleton key = the portal): at most one pass per portal active and one
 *   queued, across all processes — two processes never call `event.offline.get` for one portal at once.
 * A job whose worker dies stays `active` until `expireInSeconds`; pg-boss's supervisor then fails it into a retry
 * that another worker takes.
 */
import { PgBoss } from 'pg-boss';
import {
  type JobName,
  type JobQueue,
  type JobSendOptions,
  type JobState,
  type QueuedJob,
  RUN_DEAD_QUEUE,
} from '../triggers/jobs.js';
import { safeUrl } from './db.js';
import { type JobNotice, JobNotices } from './notices.js';

/** Options of {@link openBoss}. */
export interface BossOptions {
  /** The PostgreSQL URL of the store. */
  url: string;
  /** How long a job may stay active before another worker retries it, ms (default 60 000; min 1 000). */
  expireMs?: number;
  /** Retries of a failed `pipeline-run` job before it is dead-lettered (default 2). */
  retryLimit?: number;
  /** How often an idle worker polls, ms, when no notice of a new job wakes it (default 2 000; min 50). */
  pollMs?: number;
  /** Connections of pg-boss's pool (default 4). */
  poolSize?: number;
  /** Receives pg-boss's errors (a dropped connection is retried by pg-boss). */
  onError?: (message: string) => void;
}

const STATES: Record<string, JobState> = {
  created: 'queued',
  retry: 'queued',
  active: 'active',
  completed: 'completed',
  failed: 'failed',
  cancelled: 'failed',
};

/** Finished jobs' outcomes kept for a waiter of this process (the newest this many). */
const RECENT = 2000;

/**
 * pg-boss as a {@link JobQueue} (see module doc). Processes tell each other of new and finished jobs through
 * {@link JobNotices}, so an idle worker starts a new job and a waiting run learns its job's end within milliseconds,
 * without polling; the polls that remain (idle workers, waiters) only cover a missed notice.
 */
export class BossJobQueue implements JobQueue {
  readonly shared = true;
  private stopping = false;
  private readonly loops = new Set<Promise<void>>();
  /** The fetcher of each queue this process works (see {@link work}). */
  private readonly fetchers = new Map<string, Fetcher>();
  /** Waiters of {@link settled} by job id: a `done` notice wakes them. */
  private readonly waiters = new Map<string, Set<() => void>>();
  /** Outcomes of jobs completed in this process, for its own waiters (no read of the job back). */
  private readonly recent = new Map<string, Record<string, unknown> | undefined>();
  /** When a job was last sent or refused per queue and singleton key, by any process (for `notMoreOftenThanMs`). */
  private readonly lastSent = new Map<string, number>();
  private readonly unsubscribe: () => void;
  constructor(
    private readonly boss: PgBoss,
    private readonly notices: JobNotices,
    private readonly pollSeconds: number,
    private readonly onError?: (message: string) => void,
  ) {
    this.unsubscribe = notices.on((n) => this.noticed(n));
  }

  private noticed(n: JobNotice): void {
    if (n.kind === 'done') {
      for (const w of this.waiters.get(n.id) ?? []) w();
      return;
    }
    if (n.key !== undefined) {
      const k = `${n.queue}\0${n.key}`;
      // one entry per queue and key (portals): delete first so that the oldest stay first
      this.lastSent.delete(k);
      this.lastSent.set(k, Date.now());
      if (this.lastSent.size > RECENT) this.lastSent.delete(this.lastSent.keys().next().value as string);
    }
    if (n.kind === 'sent') this.fetchers.get(n.queue)?.poke();
  }

  /**
   * Sends a job. A new job is left to this process's worker when it has a free slot (the job then usually runs where
   * it was sent: a run of an offline pass next to the pass, with that portal's limiter at hand); else every other
   * process is told through a notice.
   */
  async send<T extends object>(name: JobName, data: T, opts: JobSendOptions = {}): Promise<string | null> {
    const key = opts.singletonKey;
    if (key !== undefined && opts.notMoreOftenThanMs !== undefined) {
      const last = this.lastSent.get(`${name}\0${key}`) ?? 0;
      if (Date.now() - last < opts.notMoreOftenThanMs) return null;
    }
    const id = await this.boss.send(name, data, {
      ...(opts.id ? { id: opts.id } : {}),
      ...(key !== undefined ? { singletonKey: key } : {}),
    });
    if (key !== undefined) this.notices.notify({ kind: id !== null ? 'sent' : 'held', queue: name, key });
    else if (id !== null) this.notices.notify({ kind: 'sent', queue: name }, this.fetchers.get(name)?.free() === true);
    return id;
  }

  /** Jobs of `name` queued and not started (pg-boss's queue counts; one query). */
  async queued(name: JobName): Promise<number> {
    return (await this.boss.getQueue(name))?.queuedCount ?? 0;
  }

  /**
   * Works a queue: one fetch loop per queue in this process takes as many jobs as it has free slots (up to
   * `concurrency` running at once), runs them side by side, completes or fails each, and fetches again when a slot
   * frees or a notice says a job was sent; with nothing to do it sleeps `pollSeconds` (a missed notice costs at most
   * that). One loop instead of one per slot: an idle process polls once per queue, not once per slot.
   */
  async work<T>(
    name: JobName,
    concurrency: number,
    handler: (job: QueuedJob<T>) => Promise<object | undefined>,
  ): Promise<void> {
    const f = new Fetcher(Math.max(1, concurrency), this.pollSeconds * 1000);
    this.fetchers.set(name, f);
    const runOne = async (j: { id: string; data: unknown; retryCount: number }) => {
      try {
        const out = await handler({ id: j.id, name, data: j.data as T, retryCount: j.retryCount });
        await this.boss.complete(name, j.id, (out ?? null) as object | null);
        this.recent.set(j.id, out as Record<string, unknown> | undefined);
        if (this.recent.size > RECENT) this.recent.delete(this.recent.keys().next().value as string);
      } catch (err) {
        await this.boss.fail(name, j.id, { message: err instanceof Error ? err.message : String(err) }).catch(() => {});
      }
      // a waiter in this process hears it at once; the other processes only when none waits here
      this.notices.notify({ kind: 'done', queue: name, id: j.id }, this.waiters.has(j.id));
    };
    const loop = (async () => {
      const running = new Set<Promise<void>>();
      while (!this.stopping) {
        if (!f.free()) {
          await f.slotFreed();
          continue;
        }
        f.fetched();
        const want = f.concurrency - f.running;
        let jobs: Awaited<ReturnType<PgBoss['fetch']>> = [];
        try {
          jobs = await this.boss.fetch<T>(name, { batchSize: want });
        } catch (err) {
          this.onError?.(`job queue: cannot fetch ${name} (${(err as Error).message})`);
        }
        for (const j of jobs) {
          f.running++;
          const p = runOne(j).finally(() => {
            f.running--;
            running.delete(p);
            f.release();
          });
          running.add(p);
        }
        // fewer than asked: the queue is empty for now; sleep until a notice, the poll interval, or stop()
        if (jobs.length < want) await f.idle();
      }
      await Promise.all([...running]);
    })();
    this.loops.add(loop);
  }

  async settled(
    name: JobName,
    id: string,
    signal: AbortSignal,
    pollMs: number,
  ): Promise<{ state: JobState; output?: Record<string, unknown> }> {
    const set = this.waiters.get(id) ?? new Set();
    this.waiters.set(id, set);
    let noticed = false;
    let wake = () => {};
    const ping = () => {
      noticed = true;
      wake();
    };
    set.add(ping);
    signal.addEventListener('abort', ping, { once: true });
    try {
      for (;;) {
        noticed = false;
        if (this.recent.has(id)) {
          const output = this.recent.get(id);
          this.recent.delete(id);
          return { state: 'completed', ...(output ? { output } : {}) };
        }
        const s = await this.state(name, id);
        if ((s.state !== 'queued' && s.state !== 'active') || signal.aborted) return s;
        if (noticed) continue;
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, pollMs);
          wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
      }
    } finally {
      set.delete(ping);
      if (!set.size) this.waiters.delete(id);
      signal.removeEventListener('abort', ping);
    }
  }

  async state(name: JobName, id: string): Promise<{ state: JobState; output?: Record<string, unknown> }> {
    const j = await this.boss.getJobById<unknown>(name, id);
    if (!j) return { state: 'gone' };
    const output = j.output as Record<string, unknown> | null | undefined;
    return { state: STATES[j.state] ?? 'queued', ...(output ? { output } : {}) };
  }

  async remove(name: JobName, id: string): Promise<void> {
    await this.boss.deleteJob(name, id);
  }

  /** Stops fetching, waits for the jobs in hand (their runs finish or checkpoint on the shutdown signal), closes. */
  async stop(timeoutMs = 30_000): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const f of this.fetchers.values()) f.stop();
    // a job still running after the timeout stays active in the database: it is retried after its expiry
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all([...this.loops]),
      new Promise((r) => {
        timer = setTimeout(r, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    this.unsubscribe();
    await this.notices.close();
    await this.boss.stop({ graceful: false, close: true, timeout: 1000 });
  }
}

/**
 * The bookkeeping of one queue's fetch loop in one process: slots in use, and the wake-ups of the loop (a slot freed,
 * a notice of a sent job, the poll timer, stop). A notice that comes while the loop is fetching is kept, so the loop
 * fetches again instead of sleeping through it.
 */
class Fetcher {
  running = 0;
  private woken = false;
  private wake: (() => void) | undefined;
  /** The current sleep is {@link idle} (true) or {@link slotFreed} (false). */
  private timed = false;
  private stopped = false;
  constructor(
    readonly concurrency: number,
    private readonly pollMs: number,
  ) {}

  /** True when a slot is free. */
  free(): boolean {
    return this.running < this.concurrency;
  }

  /** A job may be waiting: wake the loop (or make its next sleep return at once). */
  poke(): void {
    this.woken = true;
    this.wake?.();
  }

  /** A slot freed: wake the loop if it waits for one (an idle loop has free slots already). */
  release(): void {
    if (!this.timed) this.wake?.();
  }

  /** The loop is about to fetch: notices from here on count for its next sleep. */
  fetched(): void {
    this.woken = false;
  }

  /** Stops the loop's sleeps. */
  stop(): void {
    this.stopped = true;
    this.wake?.();
  }

  /** Sleeps until a slot frees (or stop). */
  slotFreed(): Promise<void> {
    return this.sleep(false);
  }

  /** Sleeps until a notice, the poll interval, or stop: at once when a notice came during the last fetch. */
  idle(): Promise<void> {
    return this.sleep(true);
  }

  private sleep(timed: boolean): Promise<void> {
    if (this.stopped || (timed && this.woken)) return Promise.resolve();
    this.timed = timed;
    return new Promise((resolve) => {
      const t = timed ? setTimeout(() => done(), this.pollMs) : undefined;
      const done = () => {
        clearTimeout(t);
        this.wake = undefined;
        resolve();
      };
      this.wake = done;
    });
  }
}

/**
 * Starts pg-boss on the store's database (installs or migrates its schema; several processes starting at once
 * migrate once) and creates the queues.
 * @throws Error naming the database (password redacted) when it cannot be reached
 */
export async function openBoss(o: BossOptions): Promise<BossJobQueue> {
  const expire = Math.max(1, Math.ceil((o.expireMs ?? 60_000) / 1000));
  // the supervisor notices expired jobs: check several times per expiry so that a dead worker's job moves on soon
  const supervise = Math.max(1, Math.floor(expire / 2));
  const boss = new PgBoss({
    connectionString: o.url,
    max: o.poolSize ?? 4,
    superviseIntervalSeconds: supervise,
    monitorIntervalSeconds: supervise,
    queueCacheIntervalSeconds: supervise,
    application_name: 'b24flow',
  });
  boss.on('error', (err: Error) => o.onError?.(`pg-boss: ${err.message}`));
  try {
    await boss.start({ attempts: 3 });
  } catch (err) {
    throw new Error(`cannot start the job queue on ${safeUrl(o.url)}: ${(err as Error).message}`);
  }
  const ensure = async (name: string, opts: Parameters<PgBoss['createQueue']>[1]) => {
    try {
      await boss.createQueue(name, opts);
    } catch (err) {
      // another process created it at the same moment
      if (!/exists|duplicate/i.test((err as Error).message)) throw err;
    }
    await boss.updateQueue(name, opts as Parameters<PgBoss['updateQueue']>[1]).catch(() => {});
  };
  await ensure(RUN_DEAD_QUEUE, { policy: 'standard', expireInSeconds: expire, retryLimit: 5 });
  await ensure('pipeline-run', {
    policy: 'standard',
    expireInSeconds: expire,
    retryLimit: o.retryLimit ?? 2,
    retryDelay: 1,
    deadLetter: RUN_DEAD_QUEUE,
  });
  await ensure('offline-fetch', { policy: 'stately', expireInSeconds: expire, retryLimit: 1 });
  let notices: JobNotices;
  try {
    notices = await JobNotices.open(o.url, o.onError);
  } catch (err) {
    await boss.stop({ graceful: false, close: true, timeout: 1000 }).catch(() => {});
    throw new Error(`cannot listen for job notices on ${safeUrl(o.url)}: ${(err as Error).message}`);
  }
  return new BossJobQueue(boss, notices, Math.max(0.05, (o.pollMs ?? 2000) / 1000), o.onError);
}
