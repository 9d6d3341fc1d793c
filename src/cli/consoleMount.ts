/**
 * The web console as `serve` (and `b24flow console`) mount it: sessions in the store, the API keys of
 * `HTTP_API_TOKENS` (`key@<user id>` binds one to a Bitrix24 user), the store's journal, approval requests and dead
 * letters, the loaded pipelines compiled for their graphs, each schedule's next times and the portal's health.
 */
import { consoleRoutes } from '../adapters/console/routes.js';
import { SqlConsoleSessions } from '../adapters/console/sessions.js';
import type { ConsolePipeline } from '../adapters/console/views.js';
import type { Route } from '../lib/http.js';
import { compile, defaultCatalog, type LoadedPipeline, type PipelineClient, triggerKind } from '../pipeline/index.js';
import type { TriggerPipeline } from '../triggers/dispatcher.js';
import { type DeadLetterStore, replayEvent } from '../triggers/dlq.js';
import type { openDataStore } from './dataStore.js';
import { approvalService, type StoreRunSettings } from './runSettings.js';

/** `HTTP_API_TOKENS` as keys with the Bitrix24 user each is bound to (`key@<id>`). */
export function apiKeys(env: NodeJS.ProcessEnv): Map<string, string | undefined> {
  const out = new Map<string, string | undefined>();
  for (const t of (env.HTTP_API_TOKENS ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)) {
    const m = /^(.+)@(\d+)$/.exec(t);
    out.set(m ? m[1]! : t, m ? m[2] : undefined);
  }
  return out;
}

/** What the console needs from a running service (bound after it starts). */
export interface LiveService {
  nextTimes?(pipeline: string): number[];
  replay?(ev: ReturnType<typeof replayEvent>, pipelines: string[]): Promise<string>;
}

/** The trigger of a pipeline entry in words. */
function triggerWords(t: NonNullable<TriggerPipeline['def']['triggers']>[number]): string {
  const kind = triggerKind(t);
  if (t.schedule) {
    const a = t.schedule.approve;
    return `schedule ${t.schedule.cron}${t.schedule.timezone ? ` (${t.schedule.timezone})` : ''}, approve: ${a === undefined ? 'ask' : JSON.stringify(a)}`;
  }
  if (t.event)
    return `event ${t.event.events.join(', ')}, approve: ${t.event.approve === undefined ? 'ask' : JSON.stringify(t.event.approve)}`;
  return `${kind}${t.chat?.command ? ` /${t.chat.command}` : ''}`;
}

/**
 * The console's routes over the store and the portal's client.
 * @param live filled in once the service runs (next schedule times, DLQ replay through its dispatcher)
 */
export async function mountConsole(o: {
  store: Awaited<ReturnType<typeof openDataStore>>;
  env: NodeJS.ProcessEnv;
  runOptions: StoreRunSettings;
  client: PipelineClient & { stats?(): unknown };
  /** The pipelines loaded now (read on every request: `serve` picks up saved pipelines without a restart). */
  pipelines: () => readonly TriggerPipeline[];
  deadLetters?: DeadLetterStore;
  live?: LiveService;
  log?: (l: string) => void;
}): Promise<Route[]> {
  const catalog = await defaultCatalog();
  // compiled once per loaded pipeline (serve loads a saved pipeline again only when the store changed)
  const compiled = new WeakMap<TriggerPipeline, ConsolePipeline>();
  const shown = (p: TriggerPipeline): ConsolePipeline => {
    const hit = compiled.get(p);
    if (hit) return hit;
    const program = compile(p.loaded as LoadedPipeline, catalog);
    const out: ConsolePipeline = {
      name: p.name,
      file: p.file,
      ...(p.def.description ? { description: p.def.description } : {}),
      triggers: (p.def.triggers ?? []).map(triggerWords),
      next: [],
      steps: program.steps.map((s) => ({
        id: s.id,
        ...(s.method ? { method: s.method.name, risk: s.method.risk } : {}),
        deps: s.deps,
      })),
    };
    compiled.set(p, out);
    return out;
  };
  const dl = o.deadLetters;
  return consoleRoutes({
    sessions: new SqlConsoleSessions(o.store),
    keys: apiKeys(o.env),
    journal: o.runOptions.journal,
    approvals: approvalService(o.runOptions, o.client),
    ...(dl
      ? {
          deadLetters: {
            list: async () =>
              (await dl.list()).map((x) => ({
                id: x.id,
                event: x.event,
                error: x.error,
                attempts: x.attempts,
                pipelines: x.pipelines,
              })),
            get: (id) => dl.get(id),
            drop: (id) => dl.drop(id),
            replay: async (id) => {
              const x = await dl.get(id);
              if (!x) return `no dead letter ${id}`;
              if (!o.live?.replay) return 'replay runs in serve';
              const out = await o.live.replay(replayEvent(x), x.pipelines);
              if (/^processed|^duplicate/.test(out)) await dl.drop(x.id);
              return out;
            },
          },
        }
      : {}),
    pipelines: () =>
      o
        .pipelines()
        .map(shown)
        .map((p) => ({
          ...p,
          next: (o.live?.nextTimes?.(p.name) ?? []).map((t) => new Date(t).toISOString()),
        })),
    health: async () => {
      const rows = await o.store.db.selectFrom('limiter').selectAll().execute();
      const outlook = o.client.operatingOutlook?.();
      return [
        // this process's counters (requests, retries, 503 QUERY_LIMIT_EXCEEDED, 429 OPERATION_TIME_LIMIT, waits)
        { client: o.client.stats?.() ?? {} },
        ...(outlook
          ? [
              {
                operating_budget_s: outlook.limit,
                methods: Object.fromEntries(
                  Object.entries(outlook.methods).map(([m, v]) => [
                    m,
                    {
                      spent_s: Math.round(v.operating * 100) / 100,
                      resets: new Date(v.resetAt * 1000).toISOString(),
                      avg_call_s: v.avgCost,
                    },
                  ]),
                ),
              },
            ]
          : []),
        ...rows.map((r) => ({
          portal: r.portal,
          tokens: r.tokens,
          updated: new Date(Number(r.updated_ms)).toISOString(),
          state: JSON.parse(r.state_json) as unknown,
        })),
      ];
    },
    secure: /^https:/i.test(o.env.B24FLOW_PUBLIC_URL ?? ''),
    ...(o.log ? { log: o.log } : {}),
  });
}
