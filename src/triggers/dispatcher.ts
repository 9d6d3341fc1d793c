/**
 * The dispatcher: one Bitrix24 event → the pipelines whose `triggers[].event.events` contain its name, each run with
 * `inputs: { event }` in `full` mode, writes pre-approved only when the trigger says `approve: [write]`.
 *
 * Online events, offline rows and DLQ replays all go through {@link Dispatcher.dispatch}. Per pipeline, a change is
 * run once: the pair (dedupe key, pipeline) is recorded in the {@link ProcessedKeys} after the run succeeded, so a
 * retry after a partial failure only re-runs the pipelines that failed.
 */
import { evaluate } from '@marcbachmann/cel-js';
import type { Pipeline } from '../generated/pipeline.js';
import { approvesWrite } from '../pipeline/index.js';
import { ConcurrencyRefused, RunLanes } from './concurrency.js';
import type { OwnWrites } from './loopGuard.js';
import type { Metrics } from './metrics.js';
import type { ProcessedKeys } from './processed.js';
import type { B24Event, LogFn } from './types.js';

/** A loaded pipeline as the trigger runtime sees it: its document plus what `runPipeline` takes. */
export interface TriggerPipeline {
  name: string;
  file: string;
  def: Pipeline;
  /** The `LoadedPipeline` of src/pipeline (opaque here). */
  loaded: unknown;
}

/** What started a run (passed to `runPipeline` as `trigger`). */
export type RunTrigger =
  | { kind: 'event'; event: { name: string; key: string; source: string; objectId?: string; ts: number } }
  | { kind: 'schedule'; cron: string; timezone: string; scheduledFor: string; catchUp?: boolean };

/** One run request made by a trigger. */
export interface RunRequest {
  pipeline: TriggerPipeline;
  inputs: Record<string, unknown>;
  trigger: RunTrigger;
  /** True when the trigger pre-approves writes (`approve: [write]`). */
  confirmWrite: boolean;
  signal: AbortSignal;
}

/** Result of a run as far as triggers care: ok or not, and the run id for logs. */
export interface RunOutcome {
  runId?: string;
  status: string;
  ok: boolean;
  error?: string;
}

/** Runs one pipeline (the default implementation calls `runPipeline` of src/pipeline). Must not throw for a failed run. */
export type PipelineRunner = (req: RunRequest) => Promise<RunOutcome>;

/** Result of dispatching one event. */
export interface DispatchResult {
  /** processed: every matching pipeline ran (or had run) fine; own: our own write, ignored; unmatched: no pipeline. */
  outcome: 'processed' | 'duplicate' | 'own' | 'unmatched' | 'failed';
  ran: string[];
  failures: { pipeline: string; error: string }[];
  /**
   * The processed keys of the pipelines that ran, as the processed store holds them (with the portal, see
   * `portalKeys`): what a caller that records them itself (the online intake, in the transaction that settles the
   * event) must write.
   */
  processedKeys?: string[];
}

/** Evaluates a `${{ expr }}` string (or returns the literal) over `ctx`. */
export function evalMaybeExpr(v: unknown, ctx: Record<string, unknown>): unknown {
  if (typeof v !== 'string') return v;
  const m = /^\$\{\{([\s\S]*)\}\}$/.exec(v.trim());
  if (!m) return v;
  return evaluate(m[1]!.trim(), ctx);
}

/** Concurrency lane and mode of a pipeline for given inputs. */
export function laneOf(
  p: TriggerPipeline,
  inputs: Record<string, unknown>,
): { lane: string; mode: 'queue' | 'cancel' | 'fail' } | undefined {
  const c = p.def.concurrency;
  if (!c) return undefined;
  let key = '';
  if (c.key !== undefined) {
    try {
      key = String(evalMaybeExpr(c.key, { inputs }));
    } catch {
      key = String(c.key);
    }
  }
  return { lane: `${p.name}${key ? `#${key}` : ''}`, mode: c.mode };
}

/** Dispatches events to pipelines. */
export class Dispatcher {
  readonly lanes: RunLanes;
  private readonly inflight = new Map<string, Promise<void>>();
  private readonly byEvent = new Map<
    string,
    { p: TriggerPipeline; trigger: NonNullable<Pipeline['triggers']>[number]['event'] }[]
  >();

  constructor(
    private readonly o: {
      pipelines: TriggerPipeline[];
      run: PipelineRunner;
      processed: ProcessedKeys;
      metrics: Metrics;
      own?: OwnWrites;
      log?: LogFn;
      lanes?: RunLanes;
      /** Aborts running runs on shutdown. */
      signal?: AbortSignal;
    },
  ) {
    this.lanes = o.lanes ?? new RunLanes();
    this.replace(o.pipelines);
  }

  /**
   * The pipelines events go to from now on (serve picks up saved pipelines while it runs); a dispatch in flight
   * keeps the pipelines it matched.
   */
  replace(pipelines: readonly TriggerPipeline[]): void {
    this.byEvent.clear();
    for (const p of pipelines) {
      for (const t of p.def.triggers ?? []) {
        if (!t.event) continue;
        for (const name of t.event.events) {
          const n = name.toUpperCase();
          const arr = this.byEvent.get(n) ?? [];
          arr.push({ p, trigger: t.event });
          this.byEvent.set(n, arr);
        }
      }
    }
  }

  /** Upper-case event names some pipeline reacts to (what `events bind` registers). */
  eventNames(): string[] {
    return [...this.byEvent.keys()].sort();
  }

  /** Pipelines reacting to an event name. */
  pipelinesFor(name: string): TriggerPipeline[] {
    return (this.byEvent.get(name.toUpperCase()) ?? []).map((x) => x.p);
  }

  /** True when every matching pipeline ran for this change already. */
  private async allProcessed(key: string, matches: { p: TriggerPipeline }[]): Promise<boolean> {
    for (const { p } of matches) if (!(await this.o.processed.has(`${key}#${p.name}`))) return false;
    return true;
  }

  /**
   * Runs every matching pipeline not yet run for this change.
   * @param opts.only restrict to these pipeline names (DLQ replay)
   * @param opts.force ignore the processed store (DLQ replay of an event that was recorded)
   */
  async dispatch(ev: B24Event, opts: { only?: string[]; force?: boolean } = {}): Promise<DispatchResult> {
    const log = this.o.log ?? (() => {});
    const m = this.o.metrics;
    let matches = this.byEvent.get(ev.name.toUpperCase()) ?? [];
    if (opts.only) matches = matches.filter((x) => opts.only!.includes(x.p.name));
    if (!matches.length) {
      m.eventsProcessed.inc({ source: ev.source, result: 'unmatched' });
      return { outcome: 'unmatched', ran: [], failures: [] };
    }
    // the same change arriving on both paths at once: let the first copy finish before deciding
    for (const { p } of matches) {
      const pk = `${ev.key}#${p.name}`;
      while (this.inflight.has(pk)) await this.inflight.get(pk);
    }
    if (!opts.force && (await this.allProcessed(ev.key, matches))) {
      m.eventsProcessed.inc({ source: ev.source, result: 'duplicate' });
      return { outcome: 'duplicate', ran: [], failures: [] };
    }
    // offline rows never carry our own writes (auth_connector); online deliveries may
    if (ev.source === 'online' && this.o.own?.isOwn(ev.name, ev.objectId, ev.ts)) {
      m.eventsProcessed.inc({ source: ev.source, result: 'own' });
      return { outcome: 'own', ran: [], failures: [] };
    }
    const ran: string[] = [];
    const failures: DispatchResult['failures'] = [];
    let skipped = 0;
    for (const { p, trigger } of matches) {
      const pk = `${ev.key}#${p.name}`;
      // the same change arriving on both paths at once: wait for the first copy, then look again
      while (this.inflight.has(pk)) await this.inflight.get(pk);
      // held from here (no await in between), so a second copy waits while this one looks up the key
      let done!: () => void;
      this.inflight.set(
        pk,
        new Promise<void>((r) => {
          done = r;
        }),
      );
      try {
        if (!opts.force && (await this.o.processed.has(pk))) {
          skipped++;
          continue;
        }
        const inputs = {
          event: { name: ev.name, data: ev.data, ts: ev.ts, objectId: ev.objectId ?? null, source: ev.source },
        };
        if (trigger?.if) {
          let pass = false;
          try {
            pass = evalMaybeExpr(trigger.if, { inputs, event: inputs.event }) === true;
          } catch (err) {
            failures.push({ pipeline: p.name, error: `trigger if: ${(err as Error).message}` });
            continue;
          }
          if (!pass) {
            await this.o.processed.add(pk);
            skipped++;
            continue;
          }
        }
        const lane = laneOf(p, inputs);
        const runOnce = (signal: AbortSignal) =>
          this.o.run({
            pipeline: p,
            inputs,
            trigger: {
              kind: 'event',
              event: {
                name: ev.name,
                key: ev.key,
                source: ev.source,
                ts: ev.ts,
                ...(ev.objectId ? { objectId: ev.objectId } : {}),
              },
            },
            confirmWrite: approvesWrite(trigger?.approve),
            signal,
          });
        let out: RunOutcome;
        const started = performance.now();
        try {
          out = lane
            ? await this.lanes.run(lane.lane, lane.mode, runOnce, this.o.signal)
            : await runOnce(this.o.signal ?? new AbortController().signal);
        } catch (err) {
          out = {
            ok: false,
            status: err instanceof ConcurrencyRefused ? 'refused' : 'failed',
            error: err instanceof Error ? err.message : String(err),
          };
        }
        const runLabels = { pipeline: p.name, trigger: 'event', status: out.ok ? 'succeeded' : 'failed' };
        m.runs.inc(runLabels);
        m.runDuration.observe(runLabels, (performance.now() - started) / 1000);
        if (out.ok) {
          await this.o.processed.add(pk);
          ran.push(p.name);
        } else {
          m.runFailures.inc({ pipeline: p.name });
          failures.push({ pipeline: p.name, error: out.error ?? out.status });
          log(`event ${ev.name} ${ev.objectId ?? ''} → ${p.name}: failed (${out.error ?? out.status})`);
        }
      } finally {
        this.inflight.delete(pk);
        done();
      }
    }
    const outcome = failures.length ? 'failed' : ran.length ? 'processed' : skipped ? 'duplicate' : 'processed';
    m.eventsProcessed.inc({ source: ev.source, result: outcome });
    return {
      outcome,
      ran,
      failures,
      processedKeys: ran.map((p) => this.o.processed.keyFor?.(`${ev.key}#${p}`) ?? `${ev.key}#${p}`),
    };
  }
}
