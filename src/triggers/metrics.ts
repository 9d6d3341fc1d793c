/**
 * Counters of the trigger runtime, rendered as Prometheus text exposition format 0.0.4 on `GET /metrics`.
 *
 * Series: `b24flow_runs_total{pipeline,trigger,status}`, `b24flow_run_failures_total{pipeline}`,
 * `b24flow_events_processed_total{source,result}`, `b24flow_events_rejected_total{reason}`,
 * `b24flow_events_dead_lettered_total{source}`, `b24flow_dlq_size`, `b24flow_limiter_wait_seconds_total`, `b24flow_offline_sync_batches_total`, `b24flow_schedule_skipped_total{pipeline,reason}`.
 */

type Labels = Record<string, string>;

const HELP: Record<string, [string, 'counter' | 'gauge']> = {
  b24flow_runs_total: ['Pipeline runs started by triggers, by final status', 'counter'],
  b24flow_run_failures_total: ['Pipeline runs started by triggers that failed', 'counter'],
  b24flow_events_processed_total: ['Bitrix24 events handled, by source and result', 'counter'],
  b24flow_events_rejected_total: ['Online event deliveries rejected, by reason', 'counter'],
  b24flow_offline_sync_batches_total: ['event.offline.get batches processed', 'counter'],
  b24flow_schedule_skipped_total: ['Scheduled runs not started, by reason', 'counter'],
  b24flow_dlq_size: ['Entries in the dead-letter queue', 'gauge'],
  b24flow_events_dead_lettered_total: ['Accepted events moved to the dead-letter queue, by source', 'counter'],
  b24flow_limiter_wait_seconds_total: ['Seconds REST calls waited in the rate limiter', 'counter'],
  b24flow_up: ['1 while the service runs', 'gauge'],
  b24flow_app_installs_total: ['Verified installs of the application on a portal', 'counter'],
  b24flow_app_installs_refused_total: ['Install requests refused, by reason', 'counter'],
};

function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** In-memory metric registry. */
export class Metrics {
  private readonly values = new Map<string, Map<string, { labels: Labels; value: number }>>();
  private readonly gauges = new Map<string, () => number>();

  /** Adds `by` (default 1) to a counter series. */
  inc(name: string, labels: Labels = {}, by = 1): void {
    let series = this.values.get(name);
    if (!series) {
      series = new Map();
      this.values.set(name, series);
    }
    const id = JSON.stringify(Object.entries(labels).sort());
    const cur = series.get(id);
    if (cur) cur.value += by;
    else series.set(id, { labels, value: by });
  }

  /** Registers a gauge computed at scrape time. */
  gauge(name: string, read: () => number): void {
    this.gauges.set(name, read);
  }

  /** Current value of a series (0 when absent); labels must match exactly. */
  get(name: string, labels: Labels = {}): number {
    return this.values.get(name)?.get(JSON.stringify(Object.entries(labels).sort()))?.value ?? 0;
  }

  /** Sum over every series of a metric. */
  sum(name: string): number {
    let n = 0;
    for (const v of this.values.get(name)?.values() ?? []) n += v.value;
    return n;
  }

  /** Prometheus text exposition. */
  render(): string {
    const out: string[] = [];
    const names = new Set([...Object.keys(HELP), ...this.values.keys(), ...this.gauges.keys()]);
    for (const name of names) {
      const [help, type] = HELP[name] ?? ['', 'counter'];
      const g = this.gauges.get(name);
      const series = this.values.get(name);
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${g ? 'gauge' : type}`);
      if (g) {
        let v = 0;
        try {
          v = g();
        } catch {}
        out.push(`${name} ${Number.isFinite(v) ? v : 0}`);
      } else if (series?.size) {
        for (const { labels, value } of series.values()) {
          const l = Object.entries(labels)
            .map(([k, v]) => `${k}="${esc(v)}"`)
            .join(',');
          out.push(`${name}${l ? `{${l}}` : ''} ${value}`);
        }
      } else if (!Object.keys(HELP).includes(name) || type === 'counter') {
        out.push(`${name} 0`);
      }
    }
    return `${out.join('\n')}\n`;
  }
}
