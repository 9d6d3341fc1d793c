/**
 * `b24flow serve` itself (flag parsing lives in src/cli/commands/serve.ts), the serve side of the composition root:
 * read the settings, load pipelines, open the store (SQLite: take the one-serve lease; PostgreSQL: start pg-boss on
 * the same database, so any number of `serve` share the work), connect with application auth, start the trigger
 * service with the chat HTTP API mounted when `HTTP_API_TOKENS` is set, print a ready line, stop on SIGTERM/SIGINT.
 * Reads `B24FLOW_LEASE_MS` (lease and job expiry, default 30 s), `B24FLOW_LOG_FILE` and `B24FLOW_LOG_MAX_MB` (the
 * service log, src/cli/serveLog.ts) besides the shared settings. Logs pino JSON lines; `/metrics` is fed by one
 * {@link Metrics} registry that also observes every REST exchange of this process's clients.
 */
import { InvalidInputError, RuntimeFailure } from '../lib/failures.js';
import { clientAddressOf, type Route } from '../lib/http.js';
import { redact } from '../lib/redact.js';
import { bindPortalEvents, declaredEvents } from '../triggers/bindings.js';
import { Metrics } from '../triggers/metrics.js';
import { APP_AUTH_HELP } from '../triggers/offlineSync.js';
import { type ServiceClient, startTriggerService, type TriggerStores } from '../triggers/service.js';
import { loadPipelinesDir } from '../triggers/setup.js';
import { buildChatAgent } from './chatRuntime.js';
import { type AppConnection, connectApp, portalSettings, readSettings, type Settings } from './compose.js';
import { type LiveService, mountConsole } from './consoleMount.js';
import { closeDataStore, openDataStore } from './dataStore.js';
import { appUrls, publicUrlOf } from './publicUrl.js';
import { approvalService, type StoreRunSettings, storeRunSettings } from './runSettings.js';
import { sandboxHint } from './sandboxHint.js';
import { openServeLog, type ServeLog } from './serveLog.js';
import { openTriggerStores } from './triggerStores.js';

/** Options of {@link serve}. */
export interface ServeOptions {
  pipelinesDir: string;
  port: number;
  host: string;
  syncEveryMs: number;
  maxAttempts: number;
  backoffMs: number;
  /** Events dispatched in parallel per offline batch. */
  parallel: number;
  offline: boolean;
  json: boolean;
  /** `pipeline-run` jobs this process runs at once on PostgreSQL (`--workers`, default 4). */
  workers?: number;
  /** The public URL the portal reaches this serve at (`--public-url`, else `B24FLOW_PUBLIC_URL`). */
  publicUrl?: string;
}

/** The shared state of a `serve`: the store's schedule slots, the job queue, and on SQLite the `serve` lease. */
interface ServeStore {
  slots: import('../triggers/scheduleSlots.js').ScheduleSlots;
  /** The offline sync state of a portal in the store (PostgreSQL: the portal's passes may run on any process). */
  jobs?: import('../triggers/jobs.js').JobQueue;
  release(): Promise<void>;
}

/**
 * Lease and expiry time (`B24FLOW_LEASE_MS`, default 30 000): how long a killed `serve` keeps the SQLite store, and
 * how long a PostgreSQL job stays with a dead worker before another one retries it.
 * @throws InvalidInputError for a value that is not a number ≥ 1000
 */
function leaseMsOf(env: NodeJS.ProcessEnv): number {
  const v = env.B24FLOW_LEASE_MS;
  if (v === undefined || v === '') return 30_000;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 1000) throw new InvalidInputError(`B24FLOW_LEASE_MS must be ≥ 1000 (ms), got "${v}"`);
  return n;
}

/**
 * Opens the store for `serve`. On SQLite, takes the `serve` lease (one scheduler per store) or refuses, naming the
 * process that holds it; on PostgreSQL, starts pg-boss on the same database (any number of `serve` share the work).
 * @param onLost called when this process loses the SQLite lease (it stalled past the lease time)
 * @throws InvalidInputError (exit 2) when another `serve` holds the SQLite store
 */
async function openServeStore(settings: Settings, onLost: (why: string) => void): Promise<ServeStore> {
  const leaseMs = leaseMsOf(settings.env);
  const store = await openDataStore(settings);
  const { StoreScheduleSlots } = await import('../store/schedules.js');
  const slots = new StoreScheduleSlots(store);
  if (store.dialect === 'postgres' && store.url) {
    const { openBoss } = await import('../store/boss.js');
    const jobs = await openBoss({ url: store.url, expireMs: leaseMs, onError: log });
    return { slots, jobs, release: async () => {} };
  }
  const { acquireLease, keepLease, thisProcessHolder } = await import('../store/leases.js');
  const me = thisProcessHolder();
  const got = await acquireLease(store, 'serve', me, leaseMs);
  if (!got.ok) {
    const who = got.holder ? `pid ${got.holder.pid} on ${got.holder.host}` : 'another process';
    const wait = Math.max(1, Math.ceil((got.untilMs - Date.now()) / 1000));
    throw new InvalidInputError(
      `serve: another b24flow serve (${who}) is running on this store (${store.where}); one serve per SQLite store. ` +
        `Stop it first, or set B24FLOW_DATABASE_URL to a PostgreSQL database to run several serve processes. ` +
        `If that process is gone, its lease expires in ${wait} s.`,
    );
  }
  const held = keepLease(store, 'serve', me, leaseMs, onLost);
  return { slots, release: () => held.release() };
}

/** True when the configuration is an OAuth application serving every portal that installs it (no webhook, no pin). */
function isAppOnly(env: NodeJS.ProcessEnv): boolean {
  const ps = portalSettings(env);
  return !!ps?.oauth && !ps.webhookUrl && !env.B24_MEMBER_ID;
}

/**
 * The connection of an OAuth application that no portal has installed yet: no client of its own (a call says so),
 * application tokens from `B24_APPLICATION_TOKEN` only; the installs bring the portals.
 */
function awaitingInstall(env: NodeJS.ProcessEnv): AppConnection {
  const none = async (): Promise<never> => {
    throw new RuntimeFailure('no portal has installed the application yet');
  };
  return {
    client: { call: none, batch: none, portal: { id: 'none', kind: 'oauth' } } as unknown as AppConnection['client'],
    kind: 'oauth',
    tokens: new Map(env.B24_APPLICATION_TOKEN ? [[env.B24_MEMBER_ID ?? '', env.B24_APPLICATION_TOKEN]] : []),
    close: async () => {},
  };
}

/** The log of the running serve (pino JSON lines, src/cli/serveLog.ts); plain redacted lines before it opens. */
let serveLog: ServeLog | undefined;
const log = (line: string) =>
  serveLog ? serveLog.log(line) : process.stderr.write(`${new Date().toISOString()} ${redact(line)}\n`);

/** The chat HTTP API's routes when `HTTP_API_TOKENS` is set (else none); a failure to build it is logged, not fatal. */
async function chatApiRoutes(
  client: AppConnection['client'],
  pipelinesDir: string,
  dataDir: string,
  env: NodeJS.ProcessEnv,
  runOptions: StoreRunSettings,
  stores: TriggerStores,
): Promise<Route[]> {
  // entries `key` or `key@<Bitrix24 user id>`: a bound key decides approval requests as that user
  const entries = (env.HTTP_API_TOKENS ?? '')
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean)
    .map((t) => /^(.+)@(\d+)$/.exec(t)?.slice(1, 3) ?? [t]);
  const tokens = entries.map((e) => e[0]!);
  const keyUsers = new Map(entries.filter((e) => e[1]).map((e) => [e[0]!, e[1]!]));
  if (!tokens.length) return [];
  // reverse proxies whose X-Forwarded-For the API believes (IPs or CIDRs); a bad entry stops serve with a clear error
  const trustedProxies = (env.B24FLOW_TRUSTED_PROXIES ?? '')
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  try {
    clientAddressOf(trustedProxies);
  } catch (err) {
    throw new InvalidInputError(`B24FLOW_TRUSTED_PROXIES: ${err instanceof Error ? err.message : String(err)}`);
  }
  try {
    const { apiRoutes } = await import('../adapters/http/api.js');
    const { chatDeadLetters } = await import('./chatDeadLetters.js');
    const agent = await buildChatAgent({
      client,
      pipelinesDir,
      dataDir,
      env,
      runOptions,
      deadLetters: chatDeadLetters(async () => stores, pipelinesDir),
    });
    const approvals = approvalService(runOptions, client);
    return apiRoutes({ agent, tokens, log, trustedProxies, approvals, keyUsers });
  } catch (err) {
    log(`serve: chat HTTP API not mounted (${err instanceof Error ? err.message : String(err)})`);
    return [];
  }
}

/**
 * Retention while serving: `collectGarbage` a minute after start, then every 24 h (the same deletes as `b24flow gc`;
 * several `serve` processes on one PostgreSQL may each run it: the deletes are idempotent). A failure is logged.
 */
function startDailyGc(settings: Settings): () => void {
  const collect = async () => {
    try {
      const { collectGarbage } = await import('../store/retention.js');
      const { retentionOf } = await import('./retention.js');
      const n = await collectGarbage(await openDataStore(settings), retentionOf(settings.env));
      const total = Object.values(n).reduce((a, x) => a + x, 0);
      if (total)
        log(
          `serve: retention deleted ${Object.entries(n)
            .filter(([, v]) => v)
            .map(([k, v]) => `${v} ${k}`)
            .join(', ')}`,
        );
    } catch (err) {
      log(`serve: retention failed (${err instanceof Error ? err.message : String(err)})`);
    }
  };
  const first = setTimeout(collect, 60_000);
  first.unref();
  const every = setInterval(collect, 24 * 3600_000);
  every.unref();
  return () => {
    clearTimeout(first);
    clearInterval(every);
  };
}

/**
 * The enabled saved pipelines of the store, loaded (`store:<name>@v<version>` as their file); one that no longer loads
 * (saved by an older b24flow) is left out and logged.
 */
async function savedPipelinesOf(settings: Settings): Promise<Awaited<ReturnType<typeof loadPipelinesDir>>> {
  const { SqlSavedPipelines } = await import('../store/savedPipelines.js');
  const { loadPipelineText } = await import('../pipeline/load.js');
  const list = await new SqlSavedPipelines(await openDataStore(settings)).list();
  return list
    .filter((s) => !s.disabled)
    .flatMap((s) => {
      const file = `store:${s.name}@v${s.version}`;
      try {
        const loaded = loadPipelineText(s.text, file);
        return [{ name: loaded.pipeline.name, file, def: loaded.pipeline, loaded }];
      } catch (err) {
        log(`serve: saved pipeline ${file} does not load (${err instanceof Error ? err.message : String(err)})`);
        return [];
      }
    });
}

/**
 * Runs the service until SIGTERM/SIGINT, then stops gracefully and resolves (exit code 0).
 * @throws InvalidInputError naming invalid pipelines; RuntimeFailure when the port is taken
 */
export async function serve(o: ServeOptions): Promise<void> {
  const settings = readSettings();
  const { env } = settings;
  serveLog = await openServeLog({ env });
  try {
    await serveWith(o, settings);
  } finally {
    await serveLog.close();
    serveLog = undefined;
  }
}

/** {@link serve} once its log is open. */
async function serveWith(o: ServeOptions, settings: Settings): Promise<void> {
  const { env, dataDir } = settings;
  // one registry for the service: its REST observer goes into every client of this process
  const metrics = new Metrics();
  const onCall = metrics.observeRest.bind(metrics);
  const publicUrl = publicUrlOf(o.publicUrl ?? env.B24FLOW_PUBLIC_URL);
  const folder = await loadPipelinesDir(o.pipelinesDir, { timezone: settings.timezone });
  // the enabled pipelines saved in the store (`b24flow pipelines save`, chat's "save") run beside the folder's; a
  // folder file wins
  const withSaved = (saved: Awaited<ReturnType<typeof savedPipelinesOf>>) => {
    const out = [...folder];
    for (const sp of saved)
      if (out.some((x) => x.name === sp.name)) log(`serve: saved pipeline ${sp.name} is shadowed by the folder's`);
      else out.push(sp);
    return out;
  };
  let savedNow = await savedPipelinesOf(settings);
  const pipelines = withSaved(savedNow);
  // what runs now: the console lists it (the saved poll below replaces it)
  let pipelinesNow = pipelines;
  let lost: ((why: string) => void) | undefined;
  const shared = await openServeStore(settings, (why) => lost?.(why)).catch(async (err: unknown) => {
    await closeDataStore();
    throw err;
  });
  // an OAuth application installed on several portals serves all of them; the first one (or B24_MEMBER_ID) is the
  // default portal (schedules, chat API): pick it here, since connecting needs one portal when several are installed
  const { appPortals, defaultAppPortal, keepPinnedPortalFresh } = await import('./appPortals.js');
  const giveUp = async (err: unknown): Promise<never> => {
    await shared.release();
    await shared.jobs?.stop();
    await closeDataStore();
    throw err;
  };
  // an application serving every portal must read the stored tokens (a wrong store key is an error, not "none")
  const appOnly = await Promise.resolve()
    .then(() => isAppOnly(env))
    .catch(giveUp);
  const first = appOnly
    ? await defaultAppPortal(settings).catch(giveUp)
    : await defaultAppPortal(settings).catch(() => undefined);
  const connEnv = first && !env.B24_MEMBER_ID ? { ...env, B24_MEMBER_ID: first } : env;
  // an OAuth application no portal has installed yet: serve waits for the first install (no default portal)
  const awaiting = !first && appOnly;
  const conn: AppConnection = awaiting
    ? awaitingInstall(env)
    : await connectApp({ env: connEnv, onCall, stderr: log }).catch(giveUp);
  const wantsEvents = pipelines.some((p) => (p.def.triggers ?? []).some((t) => t.event));
  if (o.offline && wantsEvents && conn.kind === 'webhook')
    log(`serve: offline events disabled — ${APP_AUTH_HELP.replace(/\n/g, '\n  ')}`);
  // offline delivery: off with --no-offline or a webhook (no application auth); otherwise the service runs it while
  // some pipeline has an event trigger, also one saved after the start
  const offline = o.offline && conn.kind !== 'webhook';
  const runOptions = await storeRunSettings(settings);
  let stores: TriggerStores;
  try {
    // the offline worker's state is kept per portal: passes of one portal may run on any process on the store
    stores = await openTriggerStores(settings, {
      offlineName: awaiting ? 'offline:default' : `offline:${conn.client.portal.id}`,
    });
  } catch (err) {
    await conn.close();
    throw new RuntimeFailure(`serve: ${err instanceof Error ? err.message : String(err)}`);
  }
  const portals =
    conn.kind === 'oauth' && !conn.sandbox
      ? await appPortals(
          settings,
          awaiting ? undefined : { memberId: conn.client.portal.id, client: conn.client },
          log,
          onCall,
        )
      : undefined;
  // a serve pinned to one portal of an OAuth application keeps that portal's tokens fresh itself
  const pinnedKeeper =
    conn.kind === 'oauth' && !conn.sandbox && !portals ? await keepPinnedPortalFresh(settings, log) : undefined;
  if (awaiting)
    log(
      `serve: no portal has installed the application yet — install it on a portal (the install path is ` +
        `${publicUrl ?? '<public URL>'}/bitrix/install; \`b24flow app\` prints what to paste into the portal's form); ` +
        'the chat HTTP API is mounted once a portal is installed and serve restarted',
    );
  const extraRoutes = awaiting
    ? []
    : await chatApiRoutes(conn.client, o.pipelinesDir, dataDir, env, runOptions, stores);
  // the web console (sign-in with an API key or the bot's one-time link); bound to the service once it runs
  const live: LiveService = {};
  const consoleRoutes = awaiting
    ? []
    : await mountConsole({
        store: await openDataStore(settings),
        env,
        runOptions,
        client: conn.client,
        pipelines: () => pipelinesNow,
        deadLetters: stores.deadLetters,
        live,
        log,
      });
  // bind events on a portal (offline, with our auth_connector; ONOFFLINEEVENT to our public URL when it is known)
  const bindEvents = async (memberId: string, client: ServiceClient, events: string[]) => {
    if (!events.length) return;
    const bound = await bindPortalEvents(client, events, {
      authConnector: settings.authConnector,
      ...(publicUrl ? { handler: appUrls(publicUrl).events } : {}),
    });
    log(`serve: portal ${memberId}: ${bound.map((b) => `${b.event} (${b.type}) ${b.status}`).join(', ')}`);
  };
  // a verified install: bind the events the pipelines of now declare on that portal
  const bindOnInstall = (memberId: string, client: ServiceClient) =>
    bindEvents(memberId, client, declaredEvents(pipelinesNow));
  // an OAuth application on real portals binds, on every portal it serves, the events its pipelines declare: at the
  // start (a folder pipeline, one saved while serve was down) and those of saved pipelines it picks up
  const bindsEvents = offline && conn.kind === 'oauth' && !conn.sandbox;
  // never throws: a portal that does not answer, or a portal list that cannot be read, is logged
  const bindServed = async (events: string[]) => {
    const served = portals
      ? await portals.list().catch((err: unknown) => {
          log(`serve: events ${events.join(', ')} not bound (${err instanceof Error ? err.message : String(err)})`);
          return [];
        })
      : awaiting
        ? []
        : [{ memberId: conn.client.portal.id, client: conn.client as ServiceClient }];
    for (const p of served)
      await bindEvents(p.memberId, p.client, events).catch((err: unknown) =>
        log(
          `serve: portal ${p.memberId}: events ${events.join(', ')} not bound (${err instanceof Error ? err.message : String(err)})`,
        ),
      );
  };
  const verifyInstall = portals?.verifyInstall ?? conn.verifyInstall;
  const { pendingApprovals } = await import('../store/gauges.js');
  const store = await openDataStore(settings);
  metrics.gauge('b24flow_approvals_pending', 'Approval requests waiting for a decision', () => pendingApprovals(store));
  let svc: Awaited<ReturnType<typeof startTriggerService>>;
  try {
    svc = await startTriggerService({
      client: conn.client,
      pipelines,
      dataDir,
      stores,
      port: o.port,
      host: o.host,
      tokens: conn.tokens,
      ...(verifyInstall ? { verifyInstall } : {}),
      ...(conn.kind === 'oauth' && !conn.sandbox ? { onInstalled: bindOnInstall } : {}),
      ...(offline ? {} : { offline: false }),
      syncEveryMs: o.syncEveryMs,
      maxAttempts: o.maxAttempts,
      backoffMs: o.backoffMs,
      parallel: o.parallel,
      extraRoutes: [...extraRoutes, ...consoleRoutes],
      authConnector: settings.authConnector,
      runOptions,
      approvals: (client) => approvalService(runOptions, client),
      timezone: settings.timezone,
      log,
      metrics,
      slots: shared.slots,
      ...(shared.jobs ? { jobs: shared.jobs } : {}),
      ...(o.workers !== undefined ? { workers: o.workers } : {}),
      ...(awaiting ? {} : { portalKey: conn.client.portal.id }),
      ...(portals ? { portals } : {}),
    });
  } catch (err) {
    pinnedKeeper?.stop();
    await portals?.close();
    await conn.close();
    await shared.release();
    await shared.jobs?.stop();
    await closeDataStore();
    const code = (err as NodeJS.ErrnoException).code;
    throw new RuntimeFailure(`serve: cannot listen on ${o.host}:${o.port} (${code ?? (err as Error).message})`);
  }
  live.nextTimes = (name) => svc.scheduler.nextTimes(name);
  live.replay = async (ev, only) => {
    const r = await svc.dispatcher.dispatch(ev, { only, force: true });
    return `${r.outcome}${r.failures.length ? `: ${r.failures.map((f) => `${f.pipeline}: ${f.error}`).join('; ')}` : ''}`;
  };
  const ready = {
    url: svc.url,
    pipelines: pipelines.map((p) => p.name),
    schedules: svc.scheduler.entries.length,
    events: svc.dispatcher.eventNames(),
    offlineSync: !!svc.worker,
    pid: process.pid,
  };
  // the stop handlers are in place before the ready line: a supervisor may signal as soon as it reads it
  const stopped = new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      log(`serve: ${sig} received, stopping (running steps finish, unprocessed offline events stay reserved)`);
      resolve();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    lost = (why) => {
      log(`serve: stopping — ${why}`);
      resolve();
    };
  });
  if (conn.sandbox) process.stderr.write(sandboxHint(conn, env, o.pipelinesDir, ready.events));
  if (o.json) process.stdout.write(`${JSON.stringify(ready)}\n`);
  else
    process.stdout.write(
      `b24flow serve: listening on ${svc.url} — ${pipelines.length} pipelines, ${ready.schedules} schedules, events ${ready.events.join(', ') || 'none'}${svc.worker ? ', offline sync on' : ''}\n`,
    );
  // in the background: a portal that does not answer is logged and does not hold the others (or the service) up
  if (bindsEvents) void bindServed(declaredEvents(pipelines));
  const stopGc = startDailyGc(settings);
  // saved pipelines are picked up without a restart: the store is looked at every B24FLOW_SAVED_POLL_MS (10 s)
  const pollMs = Number(env.B24FLOW_SAVED_POLL_MS) > 0 ? Number(env.B24FLOW_SAVED_POLL_MS) : 10_000;
  const signature = (l: typeof savedNow) => l.map((x) => x.file).join('\n');
  const savedTimer = setInterval(() => {
    void savedPipelinesOf(settings)
      .then((next) => {
        if (signature(next) === signature(savedNow)) return;
        savedNow = next;
        const before = new Set(declaredEvents(pipelinesNow));
        pipelinesNow = withSaved(next);
        svc.updatePipelines(pipelinesNow);
        const fresh = declaredEvents(pipelinesNow).filter((e) => !before.has(e));
        if (fresh.length && bindsEvents) return bindServed(fresh);
      })
      .catch((err: unknown) =>
        log(`serve: saved pipelines not read (${err instanceof Error ? err.message : String(err)})`),
      );
  }, pollMs);
  savedTimer.unref();
  await stopped;
  clearInterval(savedTimer);
  stopGc();
  await svc.close(Number(env.B24FLOW_SHUTDOWN_GRACE_MS ?? 30_000));
  await shared.release();
  pinnedKeeper?.stop();
  await portals?.close();
  await conn.close();
  await closeDataStore();
  log('serve: stopped');
}
