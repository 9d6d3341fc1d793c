/**
 * The job queue of the trigger service. On the embedded SQLite store every job runs in this process
 * ({@link InProcessJobQueue}: today's behaviour); on PostgreSQL the queue is pg-boss (src/store/boss.ts), shared by
 * every `serve` process on the database, so any worker of any machine takes the next job.
 *
 * Jobs:
 * - `pipeline-run`: one run of one pipeline started by a cron slot or an event ({@link PipelineRunJob}). Sent with a
 *   deterministic id (the pipeline and what triggered it, see {@link runJobId}), so the same run requested twice
 *   (a redelivered event, a slot retried after a crash) is one job;
 * - `offline-fetch`: one offline sync pass of one portal (`event.offline.get` → dispatch → `event.offline.clear`),
 *   at most one active per portal across all processes (singleton key = the portal).
 * A worker killed in the middle of a job leaves it active until its expiry; then another worker retries it. A job
 * that fails past its retries is dead-lettered ({@link deadLetterJob}).
 */
import { createHash } from 'node:crypto';
import type { RunOutcome, RunRequest, RunTrigger } from './dispatcher.js';
import type { DeadLetterStore } from './dlq.js';

/** The names of the jobs (see module doc). */
export type JobName = 'pipeline-run' | 'offline-fetch' | 'pipeline-run-dead';

/** The dead-letter queue of `pipeline-run` jobs (shared queue only). */
export const RUN_DEAD_QUEUE = 'pipeline-run-dead' satisfies JobName;

/** Options of {@link JobQueue.send}. */
export interface JobSendOptions {
  /** The job's id (a UUID): a second send with the same id is refused (returns null). */
  id?: string;
  /** At most one job per key queued and one active (the queue's policy decides; see src/store/boss.ts). */
  singletonKey?: string;
  /**
   * With `singletonKey`: skip the send (resolve null) when a job with this key was sent — or refused because one is
   * queued — by any process sharing the queue within this many ms. Periodic requests of several processes (offline
   * passes) then cost one attempt per period in all, not one per process.
   */
  notMoreOftenThanMs?: number;
}

/** A job handed to a worker. */
export interface QueuedJob<T> {
  id: string;
  name: JobName;
  data: T;
  /** Attempts before this one (0 on the first). */
  retryCount: number;
}

/** Where a job is. `gone`: no such job (never sent, or deleted by retention). */
export type JobState = 'queued' | 'active' | 'completed' | 'failed' | 'gone';

/** A job queue (see module doc). */
export interface JobQueue {
  /** True when other processes share the jobs (PostgreSQL); false for the in-process queue. */
  readonly shared: boolean;
  /** Queues a job; resolves to its id, or null when a job with the same id / singleton key already exists. */
  send<T extends object>(name: JobName, data: T, opts?: JobSendOptions): Promise<string | null>;
  /**
   * Runs `handler` for jobs of `name`, up to `concurrency` at a time in this process. What the handler returns is
   * the job's output; a throw fails the attempt (retried until the queue's retry limit).
   */
  work<T>(
    name: JobName,
    concurrency: number,
    handler: (job: QueuedJob<T>) => Promise<object | undefined>,
  ): Promise<void>;
  /** The state of a job and its output (what the handler returned, or `{ message }` of its failure). */
  state(name: JobName, id: string): Promise<{ state: JobState; output?: Record<string, unknown> }>;
  /**
   * Resolves when the job is finished (`completed`, `failed` or `gone`) or `signal` aborts (then with its current
   * state). The in-process queue answers when the handler ends; the shared one when a worker of any process reports
   * the job done (PostgreSQL NOTIFY), reading the state again every `pollMs` in case a notice was missed.
   * @param pollMs the longest wait between two reads of the state, ms
   */
  settled(
    name: JobName,
    id: string,
    signal: AbortSignal,
    pollMs: number,
  ): Promise<{ state: JobState; output?: Record<string, unknown> }>;
  /** Deletes a finished job so that the same id can be sent again (a new attempt of a failed run). */
  remove(name: JobName, id: string): Promise<void>;
  /** Jobs of `name` waiting for a worker (not started yet), when the queue can tell cheaply (metrics). */
  queued?(name: JobName): Promise<number>;
  /** Stops the workers (running handlers finish, at most `timeoutMs`, default 30 s) and closes the queue. */
  stop(timeoutMs?: number): Promise<void>;
}

/** The payload of a `pipeline-run` job: the pipeline by name, its inputs and what triggered it. */
export interface PipelineRunJob {
  pipeline: string;
  inputs: Record<string, unknown>;
  trigger: RunTrigger;
  confirmWrite: boolean;
  /**
   * The portal (`member_id`) whose client runs it, when the service serves several portals of an OAuth application;
   * absent: the service's one portal.
   */
  portal?: string;
}

/** A UUID (v4 layout) derived from a text: the same text gives the same id on every machine. */
export function uuidOf(text: string): string {
  const h = createHash('sha256').update(text).digest('hex');
  const v = `4${h.slice(13, 16)}`;
  const r = ((Number.parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16) + h.slice(17, 20);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${v}-${r}-${h.slice(20, 32)}`;
}

/**
 * The id of the `pipeline-run` job of one run request: pipeline + event key, or pipeline + schedule slot, and the
 * portal when one is named (the same change on two portals is two runs).
 */
export function runJobId(req: Pick<RunRequest, 'trigger'> & { pipeline: string; portal?: string }): string {
  const t = req.trigger;
  const what = t.kind === 'event' ? `event:${t.event.key}` : `schedule:${t.cron}@${t.scheduledFor}`;
  return uuidOf(`pipeline-run|${req.portal !== undefined ? `${req.portal}|` : ''}${req.pipeline}|${what}`);
}

/** The outcome a `pipeline-run` job stored, or undefined when its output is not one. */
function outcomeOf(output: Record<string, unknown> | undefined): RunOutcome | undefined {
  if (!output || typeof output.ok !== 'boolean' || typeof output.status !== 'string') return undefined;
  return output as unknown as RunOutcome;
}

/**
 * A runner that runs every request as a `pipeline-run` job of a shared queue and waits for its outcome (the caller's
 * bookkeeping — processed keys, the schedule log, `event.offline.clear` — stays where it is). The same request twice
 * is one job: an existing job that succeeded answers at once, one in progress is waited for, one that failed is
 * replaced by a new attempt.
 * @param pollMs the longest wait between two reads of the job's state while no notice of its end arrives (default
 *   15 000 ms: only a missed notice waits that long; a worker's notice usually answers within milliseconds, and runs
 *   queued behind busy workers would otherwise read their state again and again)
 * @param portal the portal (`member_id`) the jobs run on, when the service serves several (see {@link PipelineRunJob})
 */
export function queuedRunner(
  jobs: JobQueue,
  pollMs = 15_000,
  portal?: string,
): (req: RunRequest) => Promise<RunOutcome> {
  return async (req) => {
    const data: PipelineRunJob = {
      pipeline: req.pipeline.name,
      inputs: req.inputs,
      trigger: req.trigger,
      confirmWrite: req.confirmWrite,
      ...(portal !== undefined ? { portal } : {}),
    };
    const id = runJobId({
      pipeline: req.pipeline.name,
      trigger: req.trigger,
      ...(portal !== undefined ? { portal } : {}),
    });
    try {
      if ((await jobs.send('pipeline-run', data, { id })) === null) {
        const s = await jobs.state('pipeline-run', id);
        const prev = outcomeOf(s.output);
        if (s.state === 'completed' && prev?.ok) return prev;
        if (s.state === 'completed' || s.state === 'failed' || s.state === 'gone') {
          await jobs.remove('pipeline-run', id);
          await jobs.send('pipeline-run', data, { id });
        }
      }
      const s = await jobs.settled('pipeline-run', id, req.signal, pollMs);
      if (s.state === 'completed')
        return outcomeOf(s.output) ?? { ok: false, status: 'failed', error: 'the run job returned no outcome' };
      if (s.state === 'failed')
        return { ok: false, status: 'failed', error: String(s.output?.message ?? 'the run job failed') };
      if (s.state === 'gone') return { ok: false, status: 'failed', error: 'the run job disappeared' };
      return { ok: false, status: 'interrupted', error: 'shutting down' };
    } catch (err) {
      return { ok: false, status: 'failed', error: err instanceof Error ? err.message : String(err) };
    }
  };
}

/**
 * Jobs in this process (the embedded SQLite store: one `serve` per store). `send` starts the job at once on a free
 * worker slot of its name; a singleton key coalesces a job while one with the key is queued or active, like the
 * `stately` policy of the shared queue. Finished jobs are kept in memory for {@link InProcessJobQueue.state} (the
 * newest 10,000).
 */
export class InProcessJobQueue implements JobQueue {
  readonly shared = false;
  private readonly handlers = new Map<
    JobName,
    { concurrency: number; running: number; handler: (job: QueuedJob<any>) => Promise<object | undefined> }
  >();
  private readonly waiting: { name: JobName; job: QueuedJob<any>; key?: string }[] = [];
  private readonly jobs = new Map<string, { state: JobState; output?: Record<string, unknown>; key?: string }>();
  private readonly inflight = new Set<Promise<void>>();
  /** Waiters of {@link settled} by job id. */
  private readonly settle = new Map<string, Set<() => void>>();
  /** When a job was last sent per queue and singleton key (for `notMoreOftenThanMs`). */
  private readonly lastSent = new Map<string, number>();
  private seq = 0;
  private stopped = false;

  async send<T extends object>(name: JobName, data: T, opts: JobSendOptions = {}): Promise<string | null> {
    if (this.stopped) return null;
    if (opts.id && this.jobs.has(opts.id)) return null;
    if (opts.singletonKey && opts.notMoreOftenThanMs) {
      const k = `${name}\0${opts.singletonKey}`;
      if (Date.now() - (this.lastSent.get(k) ?? 0) < opts.notMoreOftenThanMs) return null;
      this.lastSent.set(k, Date.now());
    }
    if (opts.singletonKey) {
      const queued = this.waiting.some((w) => w.name === name && w.key === opts.singletonKey);
      if (queued) return null;
    }
    const id = opts.id ?? `job-${++this.seq}`;
    this.jobs.set(id, { state: 'queued', ...(opts.singletonKey ? { key: opts.singletonKey } : {}) });
    while (this.jobs.size > 10_000) this.jobs.delete(this.jobs.keys().next().value as string);
    this.waiting.push({
      name,
      job: { id, name, data, retryCount: 0 },
      ...(opts.singletonKey ? { key: opts.singletonKey } : {}),
    });
    this.pump();
    return id;
  }

  async work<T>(
    name: JobName,
    concurrency: number,
    handler: (job: QueuedJob<T>) => Promise<object | undefined>,
  ): Promise<void> {
    this.handlers.set(name, { concurrency: Math.max(1, concurrency), running: 0, handler });
    this.pump();
  }

  private activeKey(name: JobName, key: string): boolean {
    for (const j of this.jobs.values()) if (j.state === 'active' && j.key === `${name}\0${key}`) return true;
    return false;
  }

  private pump(): void {
    for (let i = 0; i < this.waiting.length; i++) {
      const w = this.waiting[i]!;
      const h = this.handlers.get(w.name);
      if (!h || h.running >= h.concurrency || this.stopped) continue;
      if (w.key && this.activeKey(w.name, w.key)) continue;
      this.waiting.splice(i--, 1);
      h.running++;
      const rec = this.jobs.get(w.job.id) ?? { state: 'queued' as JobState };
      rec.state = 'active';
      if (w.key) rec.key = `${w.name}\0${w.key}`;
      this.jobs.set(w.job.id, rec);
      const p = h
        .handler(w.job)
        .then(
          (out) => {
            rec.state = 'completed';
            if (out) rec.output = out as Record<string, unknown>;
          },
          (err: unknown) => {
            rec.state = 'failed';
            rec.output = { message: err instanceof Error ? err.message : String(err) };
          },
        )
        .finally(() => {
          h.running--;
          delete rec.key;
          this.inflight.delete(p);
          for (const f of this.settle.get(w.job.id) ?? []) f();
          this.pump();
        });
      this.inflight.add(p);
    }
  }

  async state(_name: JobName, id: string): Promise<{ state: JobState; output?: Record<string, unknown> }> {
    const j = this.jobs.get(id);
    return j ? { state: j.state, ...(j.output ? { output: j.output } : {}) } : { state: 'gone' };
  }

  async settled(
    name: JobName,
    id: string,
    signal: AbortSignal,
  ): Promise<{ state: JobState; output?: Record<string, unknown> }> {
    const now = await this.state(name, id);
    if (now.state !== 'queued' && now.state !== 'active') return now;
    await new Promise<void>((resolve) => {
      const set = this.settle.get(id) ?? new Set();
      this.settle.set(id, set);
      const done = () => {
        set.delete(done);
        if (!set.size) this.settle.delete(id);
        signal.removeEventListener('abort', done);
        resolve();
      };
      set.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
    return this.state(name, id);
  }

  async queued(name: JobName): Promise<number> {
    return this.waiting.filter((w) => w.name === name).length;
  }

  async remove(_name: JobName, id: string): Promise<void> {
    const j = this.jobs.get(id);
    if (j && (j.state === 'completed' || j.state === 'failed')) this.jobs.delete(id);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.waiting.length = 0;
    while (this.inflight.size) await Promise.all([...this.inflight]);
  }
}

/**
 * Files a `pipeline-run` job that failed past its retries in the dead-letter queue (so `b24flow dlq` shows it), as an
 * entry keyed `run:<pipeline>:<job id>`. Runs started by an event are not filed here: the event itself goes to the
 * dead-letter queue through its own retries (src/triggers/intake.ts, offlineSync.ts), with its payload for replay.
 */
export async function deadLetterJob(
  dlq: Pick<DeadLetterStore, 'add'>,
  job: { id: string; data: PipelineRunJob },
  error: string,
  attempts: number,
): Promise<void> {
  const t = job.data.trigger;
  if (t.kind === 'event') return;
  await dlq.add(
    {
      name: 'SCHEDULE',
      data: { pipeline: job.data.pipeline, inputs: job.data.inputs, trigger: t },
      ts: Math.floor(Date.parse(t.scheduledFor) / 1000),
      key: `run:${job.data.pipeline}:${job.id}`,
      source: 'replay',
    },
    { error, attempts, pipelines: [job.data.pipeline] },
  );
}
