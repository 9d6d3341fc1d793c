/**
 * `b24flow serve` itself (flag parsing lives in src/cli/commands/serve.ts): load pipelines, connect, start the
 * trigger service, mount the chat HTTP API when its module is present, print a ready line, stop on SIGTERM/SIGINT.
 */

import type { Route } from '../adapters/http/server.js';
import { loadEnv } from '../bitrix/connect.js';
import { RuntimeFailure } from '../lib/failures.js';
import { redact } from '../lib/redact.js';
import { APP_AUTH_HELP } from './offlineSync.js';
import { startTriggerService } from './service.js';
import { connectApp, dataDirOf, loadPipelinesDir } from './setup.js';

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

async function chatApiRoutes(
  client: unknown,
  pipelinesDir: string,
  dataDir: string,
  env: NodeJS.ProcessEnv,
): Promise<Route[]> {
  const tokens = (env.HTTP_API_TOKENS ?? '')
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  if (!tokens.length) return [];
  try {
    const api = (await import('../adapters/http/api.js' as string)) as { apiRoutes(deps: unknown): Route[] };
    const runtime = (await import('../agent/runtime.js' as string)) as {
      createRuntimeEngine(o: unknown): Promise<unknown>;
    };
    const agentMod = (await import('../agent/agent.js' as string)) as { ChatAgent: new (o: unknown) => unknown };
    const engine = await runtime.createRuntimeEngine({ client, pipelinesDir, dataDir });
    const agent = new agentMod.ChatAgent({ engine, dataDir });
    return api.apiRoutes({ agent, tokens, log });
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
  const env = loadEnv(process.env);
  const dataDir = dataDirOf(env);
  const pipelines = await loadPipelinesDir(o.pipelinesDir);
  const conn = await connectApp({ env });
  const wantsEvents = pipelines.some((p) => (p.def.triggers ?? []).some((t) => t.event));
  let offline = o.offline && wantsEvents;
  if (offline && conn.kind === 'webhook') {
    log(`serve: offline events disabled — ${APP_AUTH_HELP.replace(/\n/g, '\n  ')}`);
    offline = false;
  }
  const extraRoutes = await chatApiRoutes(conn.client, o.pipelinesDir, dataDir, env);
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
