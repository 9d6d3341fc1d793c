/**
 * The trigger service's own routes and gauges: `GET /healthz` (JSON status of the pipelines, schedules, events, the
 * offline worker and the dead-letter queue) and `GET /metrics` (Prometheus text), with the gauges and counters read at
 * each scrape: `b24flow_dlq_entries`, `b24flow_limiter_wait_seconds_total`, `b24flow_up`, `b24flow_jobs_queued`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Route, sendJson, sendText } from '../lib/http.js';
import type { DeadLetterStore } from './dlq.js';
import type { JobQueue } from './jobs.js';
import type { Metrics } from './metrics.js';
import type { LogFn, RestCaller } from './types.js';

/** What `/healthz` reports of the service now (beside its uptime and the dead-letter queue's size). */
export interface ServiceHealth {
  /** True while the offline worker cannot authenticate (`status: degraded`). */
  degraded: boolean;
  /** Pipelines running now (saved pipelines picked up included). */
  pipelines: number;
  schedules: number;
  /** Upper-case event names routed now. */
  events: string[];
  /** The default portal's offline worker (null when offline delivery is off). */
  offlineSync: { processId: string | null; lastPassAt: string | null; error?: string } | null;
}

/**
 * Registers the service's gauges on `o.metrics` and returns its `/healthz` and `/metrics` routes.
 * @param o.clients the clients of every portal served now (their `stats().limiterWaitMs`, ms, summed into seconds)
 * @param o.health the service's status at the time of the request
 */
export function serviceRoutes(o: {
  metrics: Metrics;
  dlq: DeadLetterStore;
  jobs: JobQueue;
  log: LogFn;
  clients: () => (RestCaller & { stats?: () => { limiterWaitMs?: number } })[];
  health: () => ServiceHealth;
}): Route[] {
  const { metrics, dlq, jobs, log } = o;
  // the gauge reads the size fetched by the scrape (the queue lives in the store, shared with `b24flow dlq`)
  let dlqSize = 0;
  const refreshDlqSize = async () => {
    try {
      dlqSize = await dlq.size();
    } catch (err) {
      log(`dead-letter queue size unavailable (${err instanceof Error ? err.message : String(err)})`);
    }
    return dlqSize;
  };
  metrics.gauge('b24flow_dlq_entries', 'Entries in the dead-letter queue', refreshDlqSize);
  // the clients keep the running sum of their limiter waits: a counter read from them (every portal served)
  metrics.counterFrom(
    'b24flow_limiter_wait_seconds_total',
    'Seconds REST calls waited in the rate limiter (request bucket and operating budget)',
    () => o.clients().reduce((sum, c) => sum + (c.stats?.().limiterWaitMs ?? 0) / 1000, 0),
  );
  metrics.gauge('b24flow_up', '1 while the service runs', () => 1);
  if (jobs.queued)
    metrics.gauge('b24flow_jobs_queued', 'pipeline-run jobs waiting for a worker (every process on the queue)', () =>
      jobs.queued!('pipeline-run'),
    );
  const startedAt = Date.now();
  return [
    {
      method: 'GET',
      path: '/healthz',
      handler: async (_req: IncomingMessage, res: ServerResponse) => {
        const size = await refreshDlqSize();
        const { degraded, ...now } = o.health();
        sendJson(res, 200, {
          status: degraded ? 'degraded' : 'ok',
          uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
          ...now,
          dlqSize: size,
        });
      },
    },
    {
      method: 'GET',
      path: '/metrics',
      handler: async (_req: IncomingMessage, res: ServerResponse) => {
        sendText(res, 200, await metrics.render(), metrics.contentType);
      },
    },
  ];
}
