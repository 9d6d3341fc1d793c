/**
 * `b24flow serve` itself (flag parsing lives in src/cli/commands/serve.ts), the serve side of the composition root:
 * read the settings, load pipelines, connect with application auth, start the trigger service with the chat HTTP
 * API mounted when `HTTP_API_TOKENS` is set, print a ready line, stop on SIGTERM/SIGINT.
 */
import { InvalidInputError, RuntimeFailure } from '../lib/failures.js';
import { clientAddressOf, type Route } from '../lib/http.js';
import { redact } from '../lib/redact.js';
import { APP_AUTH_HELP } from '../triggers/offlineSync.js';
import { startTriggerService } from '../triggers/service.js';
import { loadPipelinesDir } from '../triggers/setup.js';
import { buildChatAgent } from './chatRuntime.js';
import { type AppConnection, connectApp, readSettings } from './compose.js';
import { type StoreRunSettings, storeRunSettings } from './runSettings.js';

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
}

const log = (line: string) => process.stderr.write(`${new Date().toISOString()} ${redact(line)}\n`);

/** The chat HTTP API's routes when `HTTP_API_TOKENS` is set (else none); a failure to build it is logged, not fatal. */
async function chatApiRoutes(
  client: AppConnection['client'],
  pipelinesDir: string,
  dataDir: string,
  env: NodeJS.ProcessEnv,
  runOptions: StoreRunSettings,
): Promise<Route[]> {
  const tokens = (env.HTTP_API_TOKENS ?? '')
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
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
    const agent = await buildChatAgent({ client, pipelinesDir, dataDir, env, runOptions });
    return apiRoutes({ agent, tokens, log, trustedProxies });
  } catch (err) {
    log(`serve: chat HTTP API not mounted (${err instanceof Error ? err.message : String(err)})`);
    return [];
  }
}

/**
 * Runs the service until SIGTERM/SIGINT, then stops gracefully and resolves (exit code 0).
 * @throws InvalidInputError naming invalid pipelines; RuntimeFailure when the port is taken
 */
export async function serve(o: ServeOptions): Promise<void> {
  const settings = readSettings();
  const { env, dataDir } = settings;
  const pipelines = await loadPipelinesDir(o.pipelinesDir, { timezone: settings.timezone });
  const conn = await connectApp({ env });
  const wantsEvents = pipelines.some((p) => (p.def.triggers ?? []).some((t) => t.event));
  let offline = o.offline && wantsEvents;
  if (offline && conn.kind === 'webhook') {
    log(`serve: offline events disabled — ${APP_AUTH_HELP.replace(/\n/g, '\n  ')}`);
    offline = false;
  }
  const runOptions = await storeRunSettings(settings);
  const extraRoutes = await chatApiRoutes(conn.client, o.pipelinesDir, dataDir, env, runOptions);
  let svc: Awaited<ReturnType<typeof startTriggerService>>;
  try {
    svc = await startTriggerService({
      client: conn.client,
      pipelines,
      dataDir,
      port: o.port,
      host: o.host,
      tokens: conn.tokens,
      ...(conn.verifyInstall ? { verifyInstall: conn.verifyInstall } : {}),
      offline,
      syncEveryMs: o.syncEveryMs,
      maxAttempts: o.maxAttempts,
      backoffMs: o.backoffMs,
      parallel: o.parallel,
      extraRoutes,
      authConnector: settings.authConnector,
      runOptions,
      timezone: settings.timezone,
      log,
    });
  } catch (err) {
    await conn.close();
    const code = (err as NodeJS.ErrnoException).code;
    throw new RuntimeFailure(`serve: cannot listen on ${o.host}:${o.port} (${code ?? (err as Error).message})`);
  }
  const ready = {
    url: svc.url,
    pipelines: pipelines.map((p) => p.name),
    schedules: svc.scheduler.entries.length,
    events: svc.dispatcher.eventNames(),
    offlineSync: !!svc.worker,
    pid: process.pid,
  };
  if (o.json) process.stdout.write(`${JSON.stringify(ready)}\n`);
  else
    process.stdout.write(
      `b24flow serve: listening on ${svc.url} — ${pipelines.length} pipelines, ${ready.schedules} schedules, events ${ready.events.join(', ') || 'none'}${svc.worker ? ', offline sync on' : ''}\n`,
    );
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      log(`serve: ${sig} received, stopping (running steps finish, unprocessed offline events stay reserved)`);
      resolve();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  await svc.close(Number(env.B24FLOW_SHUTDOWN_GRACE_MS ?? 30_000));
  await conn.close();
  log('serve: stopped');
}
