/**
 * The trigger service behind `b24flow serve`: HTTP server (`/healthz`, `/metrics`, `POST /bitrix/events`, plus any
 * extra routes such as the chat HTTP API), the dispatcher, the offline sync worker and the cron scheduler, with a
 * graceful stop.
 *
 * Graceful stop ({@link TriggerService.close}, used on SIGTERM): the HTTP server stops accepting, the scheduler
 * stops ticking, the offline worker takes no new batch, runs in progress finish (after `graceMs` they get their
 * AbortSignal and checkpoint through the journal); only processed offline rows are cleared, the rest stays
 * reserved under our process id for the next start. Accepted online events are settled, or stay in the intake store
 * (src/triggers/intake.ts), which the next start replays.
 */
import { setMaxListeners } from 'node:events';
import { type HttpServerHandle, type Route, startHttpServer } from '../lib/http.js';
import { redact } from '../lib/redact.js';
import type { ApprovalService, RunOptions } from '../pipeline/index.js';
import { RunLanes } from './concurrency.js';
import { Dispatcher, type PipelineRunner, type TriggerPipeline } from './dispatcher.js';
import type { DeadLetterStore } from './dlq.js';
import type { InstallVerifier } from './install.js';
import { installRoutes } from './installPage.js';
import { EventIntake, type EventStore, type IntakeOptions } from './intake.js';
import { deadLetterJob, InProcessJobQueue, type JobQueue, type PipelineRunJob, queuedRunner } from './jobs.js';
import { DEFAULT_AUTH_CONNECTOR, guardClient, OwnWrites } from './loopGuard.js';
import { Metrics } from './metrics.js';
import { type OfflineStateStore, OfflineSyncWorker } from './offlineSync.js';
import { onlineEventRoutes, type PortalTokens } from './online.js';
import { type ProcessedKeys, portalKeys } from './processed.js';
import { pipelineRunner } from './runner.js';
import type { Clock } from './scheduleClock.js';
import { Scheduler } from './scheduler.js';
import type { ScheduleSlots } from './scheduleSlots.js';
import { serviceRoutes } from './serviceRoutes.js';
import type { LogFn, RestCaller } from './types.js';

/**
 * The durable state of the event side, implemented on the store by src/store (`triggerStores(store)`): the
 * dead-letter queue, the intake of accepted events, the processed-event keys and the offline worker's state.
 */
export interface TriggerStores {
  deadLetters: DeadLetterStore;
  events: EventStore;
  processed: ProcessedKeys;
  offline: OfflineStateStore;
}

/** The client the service calls a portal with (`B24Client`); `stats()` is read for limiter waits when present. */
export type ServiceClient = RestCaller & { stats?: () => { limiterWaitMs?: number } };

/** One installed portal of an OAuth application that the service serves (see {@link PortalDirectory}). */
export interface ServedPortal {
  /** The portal's `member_id`. */
  memberId: string;
  /** A client of that portal, paced by that portal's own limiter. */
  client: ServiceClient;
  /** The portal's offline worker state (named per portal in the store). */
  offline: OfflineStateStore;
  /** The application token its online events carry, when known. */
  applicationToken?: string;
}

/**
 * The installed portals of an OAuth application (multi-portal `serve`): `list()` is read at start, on a verified
 * ONAPPINSTALL, every ten offline intervals (5 s to a minute), and for an event or job of a portal not served yet. Returns the same client object
 * for a portal on every call.
 */
export interface PortalDirectory {
  list(): Promise<ServedPortal[]>;
}

/** How often at most the installed portals are read again (ms); sooner with a short offline interval. */
const PORTAL_REFRESH_MS = 60_000;

/** What serves one portal inside the service. */
interface PortalContext {
  client: ServiceClient;
  localRun: PipelineRunner;
  dispatcher: Dispatcher;
  lanes: RunLanes;
  /** Created when the service first has an event pipeline (auto mode: also one picked up later). */
  worker?: OfflineSyncWorker;
  /** Makes {@link worker} when offline delivery is wanted now and it does not exist yet. */
  ensureWorker(): void;
}

/** Options of {@link startTriggerService}. */
export interface TriggerServiceOptions {
  /** Where the event side keeps its durable state (see {@link TriggerStores}). */
  stores: TriggerStores;
  /** A connected client (`B24Client`); `stats()` is read for limiter waits when present. */
  client: ServiceClient;
  pipelines: TriggerPipeline[];
  dataDir: string;
  port?: number;
  host?: string;
  /** Application tokens per portal for online events (`member_id` → token). */
  tokens?: PortalTokens;
  /**
   * Run the offline sync worker (needs app auth). Default: when some pipeline has an event trigger — also one that
   * {@link TriggerService.updatePipelines} brings later (the worker starts then).
   */
  offline?: boolean;
  /** Offline pass interval, ms (default 10 000). */
  syncEveryMs?: number;
  maxAttempts?: number;
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Rows per event.offline.get (default 50). */
  limit?: number;
  /** Parallel dispatches per offline batch (default 4). */
  parallel?: number;
  /** Leases of the online intake (src/triggers/intake.ts): length, renewal, look for other workers' due events. */
  intake?: Pick<IntakeOptions, 'leaseMs' | 'renewLeases' | 'pollMs'>;
  /** IANA time zone of schedules without their own (default UTC; the CLI passes `B24FLOW_TZ`). */
  timezone?: string;
  /** Run the scheduler (default true). */
  schedules?: boolean;
  clock?: Clock;
  /** Pipeline runner; default runs `runPipeline` of src/pipeline with the loop-guarded client. */
  run?: PipelineRunner;
  /** Options of the default runner's `runPipeline` calls (see {@link pipelineRunner}). */
  runOptions?: Omit<Partial<RunOptions>, 'client'>;
  /**
   * The approval service of a portal's (loop-guarded) client: runs whose writes are not pre-approved by their trigger
   * and whose pipeline declares `approvers:` ask them instead of being refused (see {@link pipelineRunner}).
   */
  approvals?: (client: RunOptions['client']) => ApprovalService;
  /** `auth_connector` key for our writes (default `b24flow`; the CLI passes `B24FLOW_AUTH_CONNECTOR`). */
  authConnector?: string;
  /** More routes for the same server (chat HTTP API). */
  extraRoutes?: Route[];
  maxBodyBytes?: number;
  /**
   * Verifies an install: ONAPPINSTALL of a portal whose application token is not known yet at `/bitrix/events`, and
   * the install path `POST /bitrix/install` (src/triggers/install.ts, installPage.ts).
   */
  verifyInstall?: InstallVerifier;
  /**
   * Called once a verified install's portal is served (multi-portal: after its context exists), with its client
   * (serve binds the pipelines' events there). A failure is logged.
   */
  onInstalled?: (memberId: string, client: ServiceClient) => Promise<void>;
  log?: LogFn;
  /**
   * The job queue (src/triggers/jobs.ts; default in this process). A shared one (pg-boss on PostgreSQL) runs every
   * pipeline run as a `pipeline-run` job any process may take, and the offline passes as `offline-fetch` jobs.
   */
  jobs?: JobQueue;
  /** `pipeline-run` jobs this process runs at once (default 4; only with a shared queue). */
  workers?: number;
  /** The portal the offline passes are for (the `offline-fetch` singleton key; default `default`). */
  portalKey?: string;
  /**
   * Serve every installed portal of an OAuth application (`client`, `stores.offline` and `portalKey` are then the
   * default portal's: its member_id, which also runs the schedules). Without `portalKey` no portal is the default
   * one yet (an application no portal had installed when serve started): every installed portal is served from the
   * directory, schedules run on the first installed portal (member_id order), and `client` is not called. Each
   * portal's events run through that portal's client, with its own offline worker and `offline-fetch` singleton;
   * `pipeline-run` jobs carry the portal, so any process runs them with the right client. Processed keys of the other
   * portals carry their member_id.
   */
  portals?: PortalDirectory;
  /** Claimed cron slots and the schedule log (src/store/schedules.ts; default in memory). */
  slots?: ScheduleSlots;
  /**
   * The service's metrics (default a new {@link Metrics}): serve creates them first, so that its clients' REST
   * observer and its own gauges (approvals pending) feed the same registry.
   */
  metrics?: Metrics;
}

/** A running trigger service. */
export interface TriggerService {
  /**
   * The pipelines the service runs from now on (saved pipelines picked up without a restart): schedules and event
   * routes of every portal follow; runs in flight keep theirs. The first event pipeline starts the offline workers
   * (unless `offline: false`); binding its events on the portal is the caller's (`b24flow events bind`, serve).
   */
  updatePipelines(pipelines: TriggerPipeline[]): void;
  url: string;
  http: HttpServerHandle;
  metrics: Metrics;
  dispatcher: Dispatcher;
  dlq: DeadLetterStore;
  /** The durable intake of accepted online events (src/triggers/intake.ts). */
  intake: EventIntake;
  worker?: OfflineSyncWorker;
  scheduler: Scheduler;
  /** Stops everything gracefully (see module doc). */
  close(graceMs?: number): Promise<void>;
}

/** How often serve marks approval requests past their expiry `expired`, ms. */
const APPROVAL_SWEEP_MS = 60_000;

/**
 * Starts the service.
 * @throws InvalidInputError for a bad schedule (names the pipeline file); the listen error (EADDRINUSE)
 */
export async function startTriggerService(o: TriggerServiceOptions): Promise<TriggerService> {
  const sink = o.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  // every log line of the service (dispatcher, scheduler, worker, online endpoint, loop guard) is redacted here
  const log = (l: string) => sink(redact(l));
  const metrics = o.metrics ?? new Metrics();
  const dlq = o.stores.deadLetters;
  const shutdown = new AbortController();
  // every run in flight listens on it (parallel dispatches + schedules)
  setMaxListeners(0, shutdown.signal);
  const jobs = o.jobs ?? new InProcessJobQueue();
  const multi = !!o.portals;
  const defaultKey = o.portalKey ?? 'default';

  /** Offline delivery wanted now: set by `o.offline`, else while some pipeline has an event trigger. */
  const wantsOffline = (d: Dispatcher) => o.offline ?? d.eventNames().length > 0;
  let started = false;
  /**
   * What serves one portal: its loop-guarded client and runner, its dispatcher (processed keys of a further portal
   * carry its member_id, so the same change on two portals is two events) and its offline worker.
   */
  const portalContext = (
    client: ServiceClient,
    offline: OfflineStateStore,
    memberId?: string,
    noWorker = false,
  ): PortalContext => {
    const own = new OwnWrites();
    const lanes = new RunLanes();
    const guarded = guardClient(client, { authConnector: o.authConnector ?? DEFAULT_AUTH_CONNECTOR, own, log });
    const localRun =
      o.run ??
      pipelineRunner(
        guarded as RunOptions['client'],
        o.runOptions,
        o.approvals?.(guarded as RunOptions['client']),
        (pipeline, steps) => metrics.observeSteps(pipeline, steps),
      );
    // with a shared queue every run is a job: the process that got the event or the slot waits for its outcome
    const run = jobs.shared ? queuedRunner(jobs, undefined, multi ? memberId : undefined) : localRun;
    const processed = portalKeys(o.stores.processed, memberId);
    const dispatcher = new Dispatcher({
      // the pipelines of now: a portal installed after updatePipelines() gets the current ones
      pipelines: [...byName.values()],
      run,
      processed,
      metrics,
      own,
      log,
      lanes,
      signal: shutdown.signal,
    });
    const key = memberId ?? defaultKey;
    const ctx: PortalContext = {
      client,
      localRun,
      dispatcher,
      lanes,
      ensureWorker: () => {
        if (ctx.worker || noWorker || !wantsOffline(dispatcher)) return;
        ctx.worker = new OfflineSyncWorker({
          client,
          dispatcher,
          ...(multi && memberId !== undefined ? { memberId } : {}),
          dlq,
          metrics,
          state: offline,
          log: multi ? (l: string) => log(`${l} [portal ${key}]`) : log,
          ...(o.maxAttempts !== undefined ? { maxAttempts: o.maxAttempts } : {}),
          ...(o.backoffMs !== undefined ? { backoffMs: o.backoffMs } : {}),
          ...(o.maxBackoffMs !== undefined ? { maxBackoffMs: o.maxBackoffMs } : {}),
          ...(o.limit !== undefined ? { limit: o.limit } : {}),
          ...(o.parallel !== undefined ? { parallel: o.parallel } : {}),
          ...(o.syncEveryMs !== undefined ? { syncEveryMs: o.syncEveryMs } : {}),
          // one pass per portal at a time across every process on the queue; the timers of all processes together
          // ask about once per period (timers drift: 0.9 of it), events and retries at once
          requestPass: (periodic) => {
            const every = o.syncEveryMs ?? 10_000;
            jobs
              .send('offline-fetch', multi ? { portal: key } : {}, {
                singletonKey: key,
                ...(periodic && every > 0 ? { notMoreOftenThanMs: every * 0.9 } : {}),
              })
              .catch((err: unknown) => {
                log(`offline sync: cannot queue a pass (${err instanceof Error ? err.message : String(err)})`);
              });
          },
        });
        if (started) ctx.worker.start();
      },
    };
    ctx.ensureWorker();
    return ctx;
  };

  // an application with no default portal yet: the portals come from the directory, the main context only schedules
  const noDefault = multi && o.portalKey === undefined;
  // the pipelines by name as the run jobs look them up (updatePipelines() swaps them)
  const byName = new Map(o.pipelines.map((p) => [p.name, p]));
  const main = portalContext(o.client, o.stores.offline, o.portalKey, noDefault);
  const { dispatcher, lanes, localRun } = main;
  // application tokens per portal (online events and installs verify against them)
  const tokens = o.tokens ?? new Map<string, string>();
  // the further portals of an OAuth application (multi-portal serve), by member_id
  const others = new Map<string, PortalContext>();
  let refreshing: Promise<void> | undefined;
  const refreshPortals = (): Promise<void> => {
    if (!o.portals) return Promise.resolve();
    refreshing ??= (async () => {
      try {
        for (const p of await o.portals!.list()) {
          if (p.applicationToken) tokens.set(p.memberId, p.applicationToken);
          if ((!noDefault && p.memberId === o.portalKey) || others.has(p.memberId)) continue;
          const ctx = portalContext(p.client, p.offline, p.memberId);
          others.set(p.memberId, ctx);
          log(`serve: serving portal ${p.memberId}`);
        }
      } catch (err) {
        log(`serve: cannot list the installed portals (${err instanceof Error ? err.message : String(err)})`);
      } finally {
        refreshing = undefined;
      }
    })();
    return refreshing;
  };
  /** The context of a portal; an unknown one is looked up among the installed portals once. */
  const contextOf = async (memberId: string | undefined): Promise<PortalContext> => {
    if (!multi || memberId === undefined || memberId === '' || (!noDefault && memberId === o.portalKey)) return main;
    if (!others.has(memberId)) await refreshPortals();
    const ctx = others.get(memberId);
    if (!ctx) throw new Error(`portal ${memberId} is not installed (no stored tokens)`);
    return ctx;
  };
  await refreshPortals();
  const router: Pick<Dispatcher, 'dispatch' | 'pipelinesFor'> = multi
    ? {
        dispatch: async (ev, opts) => (await contextOf(ev.memberId)).dispatcher.dispatch(ev, opts),
        pipelinesFor: (name) => dispatcher.pipelinesFor(name),
      }
    : dispatcher;
  const scheduler = new Scheduler({
    pipelines: o.pipelines,
    run: noDefault
      ? // the default portal is the first installed one (member_id order), looked up at each run
        async (req) => {
          if (!others.size) await refreshPortals();
          const first = [...others.keys()].sort()[0];
          if (!first) return { ok: false, status: 'failed', error: 'no portal has installed the application yet' };
          return jobs.shared ? queuedRunner(jobs, undefined, first)(req) : others.get(first)!.localRun(req);
        }
      : jobs.shared
        ? queuedRunner(jobs, undefined, multi ? o.portalKey : undefined)
        : localRun,
    ...(o.slots ? { slots: o.slots } : {}),
    metrics,
    lanes,
    log,
    ...(o.timezone ? { defaultTimezone: o.timezone } : {}),
    ...(o.clock ? { clock: o.clock } : {}),
  });
  const intake = new EventIntake({
    events: o.stores.events,
    dispatcher: router,
    dlq,
    metrics,
    log,
    ...(o.maxAttempts !== undefined ? { maxAttempts: o.maxAttempts } : {}),
    ...(o.backoffMs !== undefined ? { backoffMs: o.backoffMs } : {}),
    ...(o.maxBackoffMs !== undefined ? { maxBackoffMs: o.maxBackoffMs } : {}),
    ...(o.parallel !== undefined ? { parallel: o.parallel } : {}),
    ...o.intake,
  });
  // the offline passes as jobs, once offline delivery is wanted (at start or when an event pipeline arrives)
  let fetching: Promise<void> | undefined;
  const ensureOfflineFetch = (): Promise<void> => {
    if (!fetching && (main.worker || (multi && wantsOffline(dispatcher))))
      // several portals: their passes run side by side (each paced by its own portal's limits)
      fetching = jobs.work<{ portal?: string }>('offline-fetch', multi ? 8 : 1, async (job) => {
        await (await contextOf(job.data.portal)).worker?.passNow();
        return undefined;
      });
    return fetching ?? Promise.resolve();
  };
  await ensureOfflineFetch();
  if (jobs.shared) {
    await jobs.work<PipelineRunJob>('pipeline-run', o.workers ?? 4, async (job) => {
      const p = byName.get(job.data.pipeline);
      // a process with another pipelines folder: fail the attempt, a process that has the pipeline retries it
      if (!p) throw new Error(`pipeline ${job.data.pipeline} is not loaded by this process`);
      const out = await (await contextOf(job.data.portal)).localRun({
        pipeline: p,
        inputs: job.data.inputs,
        trigger: job.data.trigger,
        confirmWrite: job.data.confirmWrite,
        signal: shutdown.signal,
      });
      // stopped by our shutdown (checkpointed in the journal): fail the attempt so that another process resumes it
      if (!out.ok && shutdown.signal.aborted)
        throw new Error(`run interrupted by a shutdown: ${out.error ?? out.status}`);
      return { ...out };
    });
    await jobs.work<PipelineRunJob>('pipeline-run-dead', 1, async (job) => {
      await deadLetterJob(
        dlq,
        job,
        'the run job failed past its retries (worker killed or crashed)',
        job.retryCount + 1,
      );
      log(`run job ${job.data.pipeline} ${job.id} moved to the dead-letter queue`);
      return undefined;
    });
  }
  /** A verified install: serve the portal (multi-portal), then the caller's hook with the portal's client. */
  const installed = (memberId: string) => {
    void (async () => {
      await refreshPortals();
      if (!o.onInstalled) return;
      // one portal served: only its own install concerns it (another portal's tokens are stored, not served)
      if (!multi && o.portalKey !== undefined && memberId !== o.portalKey) return;
      const ctx = multi && (noDefault || memberId !== o.portalKey) ? others.get(memberId) : main;
      if (!ctx) return log(`serve: portal ${memberId} installed but not served (no stored tokens)`);
      await o.onInstalled(memberId, ctx.client);
    })().catch((err: unknown) => {
      log(`serve: after the install of portal ${memberId}: ${err instanceof Error ? err.message : String(err)}`);
    });
  };
  const online = onlineEventRoutes({
    intake,
    tokens,
    metrics,
    log,
    // ONOFFLINEEVENT wakes the worker of the portal it comes from (a worker may start after the routes exist)
    onOfflineEvent: (memberId?: string) => {
      if (!multi) return main.worker?.kick();
      contextOf(memberId)
        .then((ctx) => ctx.worker?.kick())
        .catch(() => {});
    },
    ...(o.verifyInstall ? { verifyInstall: o.verifyInstall } : {}),
    ...(multi || o.onInstalled ? { onInstall: installed } : {}),
  });
  const install = installRoutes({
    tokens,
    metrics,
    log,
    ...(o.verifyInstall ? { verifyInstall: o.verifyInstall } : {}),
    onInstall: installed,
  });

  const routes: Route[] = [
    ...serviceRoutes({
      metrics,
      dlq,
      jobs,
      log,
      clients: () => [o.client, ...[...others.values()].map((c) => c.client)],
      health: () => {
        const worker = main.worker;
        return {
          degraded: !!worker?.authError,
          pipelines: byName.size,
          schedules: scheduler.entries.length,
          events: dispatcher.eventNames(),
          offlineSync: worker
            ? {
                processId: worker.processId ?? null,
                lastPassAt: worker.lastPassAt ? new Date(worker.lastPassAt).toISOString() : null,
                ...(worker.authError ? { error: 'WRONG_AUTH_TYPE: application auth required' } : {}),
              }
            : null,
        };
      },
    }),
    ...online.routes,
    ...install,
    ...(o.extraRoutes ?? []),
  ];
  const http = await startHttpServer({
    port: o.port ?? 0,
    host: o.host ?? '127.0.0.1',
    routes,
    maxBodyBytes: o.maxBodyBytes ?? 1024 * 1024,
    log,
  });
  // events accepted (and maybe acknowledged) by an earlier process that it did not settle: the store is their only copy
  // a store that does not answer now is logged; the intake looks again every `pollMs`
  await intake
    .recover()
    .catch((err: unknown) => log(`intake: recovery failed (${err instanceof Error ? err.message : String(err)})`));
  if (o.schedules !== false) await scheduler.start();
  main.worker?.start();
  for (const ctx of others.values()) ctx.worker?.start();
  started = true;
  // a portal installed while serving (ONAPPINSTALL at another process, `b24flow` install) is picked up within ten
  // offline intervals (at least 5 s, at most a minute)
  const refreshMs = Math.min(PORTAL_REFRESH_MS, Math.max(5_000, 10 * (o.syncEveryMs ?? 10_000)));
  const portalTimer = multi ? setInterval(() => void refreshPortals(), refreshMs) : undefined;
  portalTimer?.unref();
  // approval requests past their expiry end `expired` (and their runs settle) even when no bot is running
  const approvals = o.approvals?.(o.client as RunOptions['client']);
  const expiryTimer = approvals
    ? setInterval(
        () =>
          void approvals
            .expireDue()
            .then((gone) => {
              for (const a of gone) log(`approvals: request ${a.request.id} (${a.request.pipeline.name}) expired`);
            })
            .catch((err: unknown) => log(`approvals: expiry sweep failed (${String(err)})`)),
        APPROVAL_SWEEP_MS,
      )
    : undefined;
  expiryTimer?.unref();

  let closing: Promise<void> | undefined;
  return {
    updatePipelines(pipelines) {
      byName.clear();
      for (const p of pipelines) byName.set(p.name, p);
      main.dispatcher.replace(pipelines);
      for (const c of others.values()) c.dispatcher.replace(pipelines);
      scheduler.replace(pipelines);
      // the first event pipeline starts offline delivery on every portal served
      for (const c of [main, ...others.values()]) c.ensureWorker();
      ensureOfflineFetch().catch((err: unknown) =>
        log(`offline sync: cannot take passes (${err instanceof Error ? err.message : String(err)})`),
      );
      log(`serve: now running ${pipelines.length} pipelines (${pipelines.map((p) => p.name).join(', ')})`);
    },
    url: http.url,
    http,
    metrics,
    dispatcher,
    dlq,
    intake,
    scheduler,
    get worker() {
      return main.worker;
    },
    close(graceMs = 30_000) {
      closing ??= (async () => {
        const timer = setTimeout(() => shutdown.abort(new Error('shutting down')), graceMs);
        timer.unref?.();
        await http.close();
        clearInterval(portalTimer);
        clearInterval(expiryTimer);
        await Promise.all([
          main.worker?.stop(),
          ...[...others.values()].map((c) => c.worker?.stop()),
          scheduler.stop(graceMs),
          intake.stop(),
        ]);
        await jobs.stop();
        clearTimeout(timer);
      })();
      return closing;
    },
  };
}
