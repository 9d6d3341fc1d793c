/**
 * The trigger runtime's Prometheus metrics, on prom-client (one {@link Registry} per service instance, never the
 * global default registry, so several services in one process do not share series). `GET /metrics` serves
 * {@link Metrics.render} with {@link Metrics.contentType} (text exposition format 0.0.4).
 *
 * Series (counters end `_total`, durations are histograms in seconds):
 * - runs: `b24flow_runs_total{pipeline,trigger,status}`, `b24flow_run_failures_total{pipeline}`,
 *   `b24flow_run_duration_seconds{pipeline,trigger,status}`, `b24flow_step_duration_seconds{pipeline,step,status}`;
 * - events: `b24flow_events_processed_total{source,result}`, `b24flow_events_rejected_total{reason}`,
 *   `b24flow_events_dead_lettered_total{source}`, `b24flow_offline_sync_batches_total`,
 *   `b24flow_schedule_skipped_total{pipeline,reason}`;
 * - Bitrix24 REST: `b24flow_rest_request_duration_seconds{method,transport}` (transport `rest2`, `rest3`, `batch`),
 *   `b24flow_rest_responses_total{status,code}` (code `OK` for a success; `QUERY_LIMIT_EXCEEDED` with 503,
 *   `OPERATION_TIME_LIMIT` with 429, `NETWORK` with status 0), `b24flow_limiter_wait_seconds_total`;
 * - state read at scrape time: `b24flow_dlq_entries`, `b24flow_jobs_queued` (when the queue can tell),
 *   `b24flow_approvals_pending` (registered by `serve`), `b24flow_up`;
 * - installs: `b24flow_app_installs_total`, `b24flow_app_installs_refused_total{reason}`.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { CallObservation } from '../bitrix/index.js';

/** Buckets of request latency, seconds: a Bitrix24 call takes 50 ms to the 60 s the cloud allows. */
const REST_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** Buckets of run and step durations, seconds: under a second to an hour (paced bulk runs). */
const RUN_BUCKETS = [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600];

/** A step of a finished run, as the runner reports it (ISO times from the run record's steps). */
export interface StepTiming {
  id: string;
  status: string;
  startedAt?: string;
  finishedAt?: string;
}

/** The metrics of one service instance. Callers use the prom-client metrics directly (`m.runs.inc({...})`). */
export class Metrics {
  /** This instance's registry (scraped by {@link render}). */
  readonly registry = new Registry();
  readonly runs: Counter<'pipeline' | 'trigger' | 'status'>;
  readonly runFailures: Counter<'pipeline'>;
  readonly runDuration: Histogram<'pipeline' | 'trigger' | 'status'>;
  readonly stepDuration: Histogram<'pipeline' | 'step' | 'status'>;
  readonly eventsProcessed: Counter<'source' | 'result'>;
  readonly eventsRejected: Counter<'reason'>;
  readonly eventsDeadLettered: Counter<'source'>;
  readonly offlineBatches: Counter;
  readonly scheduleSkipped: Counter<'pipeline' | 'reason'>;
  readonly restDuration: Histogram<'method' | 'transport'>;
  readonly restResponses: Counter<'status' | 'code'>;
  readonly appInstalls: Counter;
  readonly appInstallsRefused: Counter<'reason'>;

  constructor() {
    const registers = [this.registry];
    const counter = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) =>
      new Counter<L>({ name, help, labelNames, registers });
    const histogram = <L extends string>(name: string, help: string, labelNames: readonly L[], buckets: number[]) =>
      new Histogram<L>({ name, help, labelNames, buckets, registers });
    this.runs = counter('b24flow_runs_total', 'Pipeline runs started by triggers, by final status', [
      'pipeline',
      'trigger',
      'status',
    ]);
    this.runFailures = counter('b24flow_run_failures_total', 'Pipeline runs started by triggers that failed', [
      'pipeline',
    ]);
    this.runDuration = histogram(
      'b24flow_run_duration_seconds',
      'Duration of pipeline runs started by triggers (queue wait included), seconds',
      ['pipeline', 'trigger', 'status'],
      RUN_BUCKETS,
    );
    this.stepDuration = histogram(
      'b24flow_step_duration_seconds',
      'Duration of the steps of pipeline runs started by triggers, seconds',
      ['pipeline', 'step', 'status'],
      RUN_BUCKETS,
    );
    this.eventsProcessed = counter('b24flow_events_processed_total', 'Bitrix24 events handled, by source and result', [
      'source',
      'result',
    ]);
    this.eventsRejected = counter('b24flow_events_rejected_total', 'Online event deliveries rejected, by reason', [
      'reason',
    ]);
    this.eventsDeadLettered = counter(
      'b24flow_events_dead_lettered_total',
      'Accepted events moved to the dead-letter queue, by source',
      ['source'],
    );
    this.offlineBatches = counter('b24flow_offline_sync_batches_total', 'event.offline.get batches processed');
    this.scheduleSkipped = counter('b24flow_schedule_skipped_total', 'Scheduled runs not started, by reason', [
      'pipeline',
      'reason',
    ]);
    this.restDuration = histogram(
      'b24flow_rest_request_duration_seconds',
      'Bitrix24 REST request latency (one HTTP exchange), by method and transport, seconds',
      ['method', 'transport'],
      REST_BUCKETS,
    );
    this.restResponses = counter(
      'b24flow_rest_responses_total',
      'Bitrix24 REST answers by HTTP status and error code (OK for a success, status 0 for no answer)',
      ['status', 'code'],
    );
    this.appInstalls = counter('b24flow_app_installs_total', 'Verified installs of the application on a portal');
    this.appInstallsRefused = counter('b24flow_app_installs_refused_total', 'Install requests refused, by reason', [
      'reason',
    ]);
  }

  /** Records one REST answer: latency histogram and the answers-by-code counter. */
  observeRest(a: CallObservation): void {
    this.restDuration.observe({ method: a.method, transport: a.transport }, Math.max(0, a.seconds));
    this.restResponses.inc({ status: String(a.status), code: a.code ?? 'OK' });
  }

  /** Records the durations of a finished run's steps (steps without both times are skipped). */
  observeSteps(pipeline: string, steps: Iterable<StepTiming>): void {
    for (const s of steps) {
      if (!s.startedAt || !s.finishedAt) continue;
      const sec = (Date.parse(s.finishedAt) - Date.parse(s.startedAt)) / 1000;
      if (Number.isFinite(sec) && sec >= 0)
        this.stepDuration.observe({ pipeline, step: s.id, status: String(s.status) }, sec);
    }
  }

  /**
   * Registers a gauge read at scrape time. A read that throws leaves the last value.
   * @param read current value; may be async (a store query)
   */
  gauge(name: string, help: string, read: () => number | Promise<number>): void {
    new Gauge({
      name,
      help,
      registers: [this.registry],
      async collect() {
        try {
          const v = await read();
          if (Number.isFinite(v)) this.set(v);
        } catch {
          // keep the last value: a store that does not answer must not fail the scrape
        }
      },
    });
  }

  /**
   * Registers a counter whose total is read at scrape time from a running sum kept elsewhere (e.g. the clients'
   * limiter wait), so it stays a counter (never decreases while the sum does not).
   */
  counterFrom(name: string, help: string, read: () => number): void {
    new Counter({
      name,
      help,
      registers: [this.registry],
      collect() {
        const v = read();
        this.reset();
        if (Number.isFinite(v) && v > 0) this.inc(v);
      },
    });
  }

  /** The Content-Type of {@link render}'s text. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Prometheus text exposition of every series. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  /**
   * The sum of a metric's series whose labels include `labels` (0 when none); for a histogram its `_count`.
   * For tests and `--json` summaries.
   */
  async value(name: string, labels: Record<string, string> = {}): Promise<number> {
    const m = this.registry.getSingleMetric(name);
    if (!m) return 0;
    const { values } = await m.get();
    const want = Object.entries(labels);
    let n = 0;
    for (const v of values) {
      const metricName = (v as { metricName?: string }).metricName;
      if (metricName && metricName !== name && !metricName.endsWith('_count')) continue;
      const l = v.labels as Record<string, string | number>;
      if (want.every(([k, x]) => String(l[k]) === x)) n += v.value;
    }
    return n;
  }
}
