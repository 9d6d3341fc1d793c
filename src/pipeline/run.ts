/**
 * The interpreter: runs a checked pipeline step by step against a Bitrix24 client.
 *
 * - Reads run for real in every mode; independent single reads are packed into one `batch`, `foreach` calls into
 *   batches of ≤ 50, `all: true` lists use the client's fast export. Each batch command's error maps back to its
 *   step and item.
 * - Writes follow the mode (see modes.ts): shadow resolves them into planned writes; canary executes safe creates;
 *   full executes everything that was confirmed. A full run with an unconfirmed write step writes nothing and
 *   returns the plan with the refusal.
 * - Every write has a key (`idempotency_key`, else step + item index). Before a request the journal records the
 *   intent, after it the outcome; `resume` skips done keys and looks up uncertain legacy CRM creates by the
 *   `ORIGIN_ID` b24flow sets on them.
 */
import { randomBytes } from 'node:crypto';
import { BatchRef } from '../bitrix/encode.js';
import { InvalidInputError, RuntimeFailure } from '../lib/failures.js';
import { type CatalogView, defaultCatalog, type MethodInfo } from './catalog.js';
import { type CostEstimate, estimateCost } from './cost.js';
import { expandSteps, recipePipeline, subPipelinePath } from './expand.js';
import { Evaluator, expressionBody, isExpression, isTemplate } from './expr.js';
import { ancestors, buildGraph, type StepGraph } from './graph.js';
import { FileIdempotencyStore, type IdempotencyStore } from './idempotency.js';
import { resolveInputs } from './inputs.js';
import {
  FileJournal,
  type Journal,
  type RunRecord,
  type RunStatus,
  type StepRecord,
  type WriteEntry,
} from './journal.js';
import { hashOf, type LoadedPipeline, loadPipelineFile, loadPipelineObject, type Step } from './load.js';
import { isSafeCreate, type RunMode, refusalReason, stepMethod } from './modes.js';
import type { BatchCommand, ClientLike } from './runtimeTypes.js';
import { summarize, userLanguage } from './summary.js';

/** What started a run. `kind` decides whether a person can confirm (cli, chat, api) or not (schedule, event). */
export interface RunTrigger {
  kind: 'cli' | 'schedule' | 'event' | 'chat' | 'api';
  [k: string]: unknown;
}

/** Progress of a long step: `done` of `total` items (calls), after each request. */
export interface ProgressEvent {
  step: string;
  done: number;
  total: number;
  requests: number;
}

/** Options of {@link runPipeline}. */
export interface RunOptions {
  client: ClientLike;
  inputs?: Record<string, unknown>;
  /** Default shadow (plan only). */
  mode?: RunMode;
  confirmWrite?: boolean;
  confirmDestructive?: boolean;
  /** Default: a FileJournal under the data dir; false = no journal. */
  journal?: Journal | false;
  trigger?: RunTrigger;
  onProgress?: (e: ProgressEvent) => void;
  signal?: AbortSignal;
  catalog?: CatalogView;
  /** Pack reads and fan-outs into batch requests (default true). */
  batching?: boolean;
  /** Fixed "now" (ms since epoch); apply and resume reuse the plan's/run's instant. */
  now?: number;
  /** Summary language (default from B24FLOW_LANG / LANG). */
  lang?: 'en' | 'ru';
  verbose?: boolean;
  /**
   * Cross-run memory of keyed writes (steps with `idempotency_key`). Default: the file store in the data dir when
   * the journal is the default file journal, else none; false = none.
   */
  idempotency?: IdempotencyStore | false;
  /** Internal: continue this run record (resume). */
  resume?: RunRecord;
  /** Internal: id of the plan being applied. */
  planId?: string;
  /**
   * Results of the reads of a plan made just before with the same inputs and `now` ({@link Plan.reads}, from
   * `planPipeline(..., { withReads: true })`). A top-level read step that depends on no write (nor recipe or
   * sub-pipeline) is taken from here instead of being sent again; reads downstream of a write are always sent.
   */
  planReads?: Record<string, unknown>;
}

/** One resolved write: exact method and params, the step and item it comes from, and the diff for updates. */
export interface PlannedWrite {
  step: string;
  item?: number;
  key: string;
  method: string;
  entity: string;
  risk: 'write' | 'destructive';
  params: unknown;
  /** Risk fields of the method that this write sets. */
  riskFields: string[];
  /** Field-level before → after for updates (after a plan read the record). */
  diff?: { field: string; before: unknown; after: unknown }[];
  /** Why the write will not be executed in this mode, when refused. */
  refused?: string;
  /** Set when params depend on results of earlier writes and are shown with placeholders. */
  pending?: boolean;
}

/** A plan: every write resolved, its risk, the cost; `id` = hash of the writes and of the state read. */
export interface Plan {
  id: string;
  pipeline: { name: string; file?: string; hash: string };
  createdAt: string;
  expiresAt: string;
  writes: PlannedWrite[];
  /** Highest risk among the writes: none | write | destructive. */
  risk: 'none' | 'write' | 'destructive';
  riskFields: string[];
  cost: CostEstimate & { batchRequests: number; wallSeconds: number; text: string };
  stateHash: string;
  checks: { message: string; ok: boolean; behavior: 'block' | 'warn' }[];
  inputs: Record<string, unknown>;
  now: number;
  portal?: string;
  /** Results of the plan's reads by step id; only with `planPipeline(..., { withReads: true })`, never stored. */
  reads?: Record<string, unknown>;
}

/** Result of a run. `steps` in execution order; `summary` per language. */
export interface RunResult {
  runId: string;
  status: RunStatus;
  mode: RunMode;
  pipeline: string;
  steps: (StepRecord & { results?: unknown[] })[];
  summary: { en: string[]; ru: string[] };
  writes: PlannedWrite[];
  refusals: { step: string; reason: string }[];
  checks: { message: string; ok: boolean; behavior: 'block' | 'warn' }[];
  /** Present when the run only planned (shadow, or refused full run). */
  plan?: Plan;
  requests: number;
  /** The pipeline's `outputs`, evaluated at the end (reports of read-only pipelines). */
  outputs?: Record<string, unknown>;
  error?: string;
}

const BATCH_SIZE = 50;
const LEGACY_CRM_ADD = /^crm\.(deal|lead|contact|company)\.add$/i;
const BATCH_SYNTAX = /\$(result|error|result_error|result_next|result_total)\[/;

function newRunId(): string {
  const t = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
  return `r${t}-${randomBytes(4).toString('hex')}`;
}

function errorInfo(e: unknown): { code?: string; message: string } {
  const o = e as { code?: string; message?: string; description?: string };
  return { code: o?.code, message: String(o?.message ?? o?.description ?? e) };
}

function containsBatchSyntax(v: unknown): boolean {
  if (typeof v === 'string') return BATCH_SYNTAX.test(v);
  if (Array.isArray(v)) return v.some(containsBatchSyntax);
  if (v && typeof v === 'object') return Object.values(v).some(containsBatchSyntax);
  return false;
}

/** Sleeps ms, resolving early when aborted. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((res) => {
    const t = setTimeout(res, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        res();
      },
      { once: true },
    );
  });
}

function parseTimeout(t: string | undefined): number | undefined {
  if (!t) return undefined;
  const m = /^(\d+)(ms|s|m)$/.exec(t);
  if (!m) return undefined;
  return Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 's' ? 1000 : 60_000);
}

/** The rows of a list result (array, or the one array under a wrapper key like `tasks`/`items`). */
export function rowsOf(result: unknown, wrapper?: string | null): unknown[] {
  if (Array.isArray(result)) return result;
  if (result && typeof result === 'object') {
    const o = result as Record<string, unknown>;
    if (wrapper && Array.isArray(o[wrapper])) return o[wrapper] as unknown[];
    const arrays = Object.values(o).filter(Array.isArray);
    if (arrays.length === 1) return arrays[0] as unknown[];
  }
  return result === undefined || result === null ? [] : [result];
}

/** Case-insensitive field read. */
function fieldOf(o: unknown, name: string): unknown {
  if (!o || typeof o !== 'object') return undefined;
  const rec = o as Record<string, unknown>;
  if (name in rec) return rec[name];
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(rec)) if (k.toLowerCase() === lower) return v;
  // tasks.task.get uses camelCase (responsibleId) for RESPONSIBLE_ID
  const camel = lower.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());
  return rec[camel];
}

interface Work {
  index: number;
  item?: unknown;
  key: string;
  params: unknown;
  pending: boolean;
}

/** One execution of one pipeline (sub-pipelines get their own, sharing the run). */
class Execution {
  readonly ev: Evaluator;
  readonly graph: StepGraph;
  readonly steps = new Map<string, StepRecord>();
  readonly stepScope: Record<string, { result: unknown; outputs: Record<string, unknown> }> = {};
  readonly celSteps: Record<string, unknown> = {};
  readonly writes: PlannedWrite[] = [];
  readonly refusals: { step: string; reason: string }[] = [];
  readonly checks: RunResult['checks'] = [];
  readonly reads: Record<string, unknown> = {};
  readonly itemCounts: Record<string, number> = {};
  readonly results = new Map<string, unknown[]>();
  requests = 0;
  checksDone = false;
  blocked = false;
  failed?: string;
  private base!: Record<string, unknown>;
  private writeLog = new Map<string, WriteEntry>();

  constructor(
    readonly p: LoadedPipeline,
    readonly o: Required<Pick<RunOptions, 'client' | 'mode'>> & RunOptions,
    readonly catalog: CatalogView,
    readonly inputs: Record<string, unknown>,
    readonly run: RunRecord,
    readonly journal: Journal | undefined,
    readonly prefix = '',
    readonly idem?: IdempotencyStore,
  ) {
    this.ev = new Evaluator({ timezone: p.pipeline.timezone, now: run.now });
    this.graph = buildGraph(p, (s) => {
      const m = stepMethod(s, catalog);
      return !!m && m.risk !== 'read';
    });
  }

  private method(s: Step): MethodInfo | undefined {
    return stepMethod(s, this.catalog);
  }

  private lang(): 'en' | 'ru' {
    return this.o.lang ?? userLanguage();
  }

  async init(): Promise<void> {
    const env: Record<string, string> = {};
    for (const n of this.p.pipeline.env ?? []) env[n] = process.env[n] ?? '';
    this.base = {
      inputs: this.ev.celValue(this.inputs),
      steps: this.celSteps,
      now: new Date(this.ev.now),
      env,
      trigger: this.ev.celValue(this.o.trigger ?? { kind: 'cli' }),
    };
    if (this.journal && this.o.resume) this.writeLog = await this.journal.loadWrites(this.run.runId);
  }

  private ctx(item?: { item: unknown; index: number }): Record<string, unknown> {
    if (!item) return this.base;
    return { ...this.base, item: this.ev.celValue(item.item), index: BigInt(item.index) };
  }

  private maxListSize = 0;
  /** Largest list seen so far (for the expression cost cap), kept incrementally. */
  private maxList(): number {
    return this.maxListSize;
  }

  private count(id: string, n: number) {
    this.itemCounts[id] = n;
    if (n > this.maxListSize) this.maxListSize = n;
  }

  private setResult(id: string, result: unknown, s: Step) {
    const entry = { result, outputs: {} as Record<string, unknown> };
    this.stepScope[id] = entry;
    this.celSteps[id] = this.ev.celValue(entry);
    if (s.outputs) {
      for (const [k, v] of Object.entries(s.outputs)) {
        try {
          entry.outputs[k] = this.ev.resolve(v, this.base, this.maxList());
        } catch (err) {
          if (this.o.mode === 'shadow' || this.o.mode === 'canary') entry.outputs[k] = null;
          else throw err;
        }
      }
      this.celSteps[id] = this.ev.celValue(entry);
    }
  }

  private record(s: Step, patch: Partial<StepRecord>): StepRecord {
    const m = this.method(s);
    const prev = this.steps.get(s.id) ?? {
      id: this.prefix + s.id,
      method: m?.name ?? s.method,
      status: 'pending',
      risk: m?.risk,
      entity: m?.entity,
      items: 0,
      done: 0,
      existing: 0,
      failed: 0,
      requests: 0,
    };
    const next = { ...prev, ...patch };
    this.steps.set(s.id, next);
    this.run.steps[next.id] = next;
    return next;
  }

  /** Request/response summary of a finished step for the journal (param names only, never values). */
  private summarizeIo(s: Step) {
    const rec = this.steps.get(s.id);
    if (!rec?.method) return;
    const names = (v: unknown): string => {
      if (!v || typeof v !== 'object' || Array.isArray(v) || isExpression(v) || isTemplate(v)) return '';
      return `{${Object.keys(v).join(',')}}`;
    };
    const p = s.params;
    const params =
      p && typeof p === 'object' && !Array.isArray(p)
        ? Object.entries(p)
            .map(([k, v]) => `${k}${names(v)}`)
            .join(' ')
        : Array.isArray(p)
          ? `[${p.length} positional]`
          : '';
    const calls = s.foreach && rec.items > 1 ? ` ×${rec.items}` : '';
    const result = this.stepScope[s.id]?.result;
    const first = Array.isArray(result) ? result[0] : result;
    const firstText = first === undefined || first === null ? '' : `; first ${JSON.stringify(compactResult(first))}`;
    this.record(s, {
      request: `${rec.method}${params ? ` ${params}` : ''}${calls}`.slice(0, 300),
      response:
        `${s.all ? `${rec.items} rows` : `${rec.done} ok`}${rec.failed ? `, ${rec.failed} failed` : ''}${rec.existing ? `, ${rec.existing} already done` : ''}${firstText}`.slice(
          0,
          300,
        ),
    });
  }

  private async persist(): Promise<void> {
    if (this.journal) await this.journal.update(this.run);
  }

  private progress(step: string, done: number, total: number) {
    this.o.onProgress?.({ step: this.prefix + step, done, total, requests: this.requests });
  }

  /** Batch (or single calls when batching is off); returns per-key result/error. */
  private async send(
    cmds: [string, BatchCommand][],
    opts: { single?: boolean; idempotencyKeys?: Record<string, string> } = {},
  ): Promise<Map<string, { result?: unknown; error?: { code?: string; message: string } }>> {
    const out = new Map<string, { result?: unknown; error?: { code?: string; message: string } }>();
    const batching = this.o.batching !== false && !opts.single;
    const singles = batching ? cmds.filter(([, c]) => containsBatchSyntax(c.params)) : cmds;
    const batched = batching ? cmds.filter(([, c]) => !containsBatchSyntax(c.params)) : [];
    if (batched.length === 1) singles.push(batched.pop()!);
    for (let i = 0; i < batched.length; i += BATCH_SIZE) {
      const chunk = batched.slice(i, i + BATCH_SIZE);
      // batch command keys allow only [A-Za-z0-9_.-]: our own short keys, mapped back to the work keys
      const rec: Record<string, BatchCommand> = {};
      const keyOf = new Map<string, string>();
      chunk.forEach(([k, c], j) => {
        rec[`c${j}`] = c;
        keyOf.set(k, `c${j}`);
      });
      const r = (await this.o.client.batch(rec, { halt: false, signal: this.signal })) as {
        results?: Record<string, unknown>;
        errors?: Record<string, unknown>;
        requests?: number;
      };
      this.requests += r.requests ?? 1;
      for (const [k] of chunk) {
        const ck = keyOf.get(k)!;
        if (r.errors && ck in r.errors) out.set(k, { error: errorInfo(r.errors[ck]) });
        else if (r.results && ck in r.results) out.set(k, { result: r.results[ck] });
        else out.set(k, { error: { code: 'NOT_RUN', message: 'command did not run' } });
      }
    }
    for (const [k, c] of singles) {
      try {
        const key = opts.idempotencyKeys?.[k];
        const r = await this.o.client.call(c.method, c.params, {
          signal: this.signal,
          ...(key ? { idempotencyKey: key } : {}),
        });
        this.requests++;
        out.set(k, { result: r.result });
      } catch (err) {
        this.requests++;
        if (this.signal?.aborted) throw err;
        out.set(k, { error: errorInfo(err) });
      }
    }
    return out;
  }

  /** Runs the pipeline's steps in graph order. */
  async execute(): Promise<void> {
    const order = this.graph.order.filter((id) => !this.graph.handlers.has(id));
    const byId = new Map(this.p.pipeline.steps.map((s) => [s.id, s] as const));
    for (let oi = 0; oi < order.length; oi++) {
      if (this.o.signal?.aborted) throw new RuntimeFailure('run aborted');
      const s = byId.get(order[oi]!)!;
      if (this.failed || this.blocked) {
        this.record(s, {
          status: 'skipped',
          reason: this.failed ? 'an earlier step failed' : 'a check blocked the run',
        });
        continue;
      }
      // resume: completed steps come back from the journal
      const prev = this.o.resume?.steps[this.prefix + s.id];
      if (prev && (prev.status === 'done' || prev.status === 'skipped' || prev.status === 'refused')) {
        let result: unknown = null;
        let restored = true;
        if (prev.hasResult && this.journal) {
          try {
            result = await this.journal.loadStepResult(this.run.runId, this.prefix + s.id);
          } catch {
            // result lost (power loss before it reached the disk): run the step again; its writes skip by key
            restored = false;
          }
        }
        if (restored) {
          this.steps.set(s.id, prev);
          this.setResult(s.id, result, s);
          continue;
        }
      }
      const blockedBy = [...(this.graph.deps.get(s.id) ?? [])].find((d) => {
        const st = this.steps.get(d)?.status;
        return st !== 'done' && st !== 'planned' && st !== 'partial';
      });
      if (blockedBy) {
        this.record(s, { status: 'skipped', reason: `"${blockedBy}" did not run` });
        this.setResult(s.id, null, s);
        continue;
      }
      if (s.if !== undefined && isExpression(s.if)) {
        const ok = this.ev.evaluate(expressionBody(s.if).expr, this.base, this.maxList());
        if (ok !== true) {
          this.record(s, { status: 'skipped', reason: 'condition is false' });
          this.setResult(s.id, null, s);
          continue;
        }
      }
      const m = this.method(s);
      if (s.method && !m) throw new InvalidInputError(`${this.p.file}: unknown method "${s.method}" in step "${s.id}"`);
      if (m && m.risk !== 'read' && !this.checksDone) {
        await this.runChecks();
        if (this.blocked) {
          this.record(s, { status: 'skipped', reason: 'a check blocked the run' });
          continue;
        }
      }
      const started = new Date().toISOString();
      this.record(s, { status: 'running', startedAt: started });
      try {
        if (m?.risk === 'read' && (await this.reusePlanRead(s))) {
          // taken from the plan made just before
        } else if (s.use || s.pipeline) await this.subPipeline(s);
        else if (m!.risk === 'read') {
          if (!s.foreach && !s.all && this.o.batching !== false) {
            // pack this read with the other independent single reads that are ready now
            const group = [s];
            for (let j = oi + 1; j < order.length && group.length < BATCH_SIZE; j++) {
              const t = byId.get(order[j]!)!;
              const tm = this.method(t);
              if (
                tm?.risk !== 'read' ||
                tm.batchable === false ||
                t.foreach ||
                t.all ||
                t.if !== undefined ||
                t.retry ||
                t.use ||
                t.pipeline
              )
                continue;
              if (this.o.resume?.steps[this.prefix + t.id]?.status === 'done') continue;
              const deps = this.graph.deps.get(t.id) ?? new Set();
              if ([...deps].every((d) => this.steps.get(d)?.status === 'done')) group.push(t);
            }
            await this.singleReads(group);
            for (const t of group.slice(1)) {
              order.splice(order.indexOf(t.id), 1);
            }
          } else await this.methodStep(s, m!);
        } else {
          const partner = this.fusablePartner(s, m!, order, oi, byId);
          if (partner && (await this.fusedFanOut(s, m!, partner.step, partner.method, partner.refs))) {
            order.splice(order.indexOf(partner.step.id), 1);
            await this.afterStep(partner.step, byId);
          } else await this.methodStep(s, m!);
        }
      } catch (err) {
        if (err instanceof InvalidInputError || this.o.signal?.aborted) throw err;
        const info = errorInfo(err);
        this.record(s, {
          status: 'failed',
          failed: 1,
          errors: [{ message: info.message, code: info.code }],
          finishedAt: new Date().toISOString(),
        });
        this.setResult(s.id, null, s);
      }
      const rec = this.steps.get(s.id)!;
      if (rec.status === 'running') this.record(s, { status: 'done', finishedAt: new Date().toISOString() });
      this.summarizeIo(s);
      await this.afterStep(s, byId);
      await this.persist();
    }
    if (!this.checksDone) await this.runChecks();
  }

  /**
   * Takes a read step's result from the plan made just before (`planReads`) when nothing forces a re-read: a
   * top-level step with a recorded result, no retry/`if` surprises, and no write, recipe or sub-pipeline upstream.
   * @returns false when the step must be read from the portal
   */
  private async reusePlanRead(s: Step): Promise<boolean> {
    const reads = this.o.planReads;
    if (!reads || this.prefix || this.o.resume || !Object.hasOwn(reads, s.id)) return false;
    const byId = new Map(this.p.pipeline.steps.map((x) => [x.id, x] as const));
    for (const a of ancestors(this.graph, s.id)) {
      const t = byId.get(a);
      if (!t || t.use || t.pipeline || this.method(t)?.risk !== 'read') return false;
      if (this.steps.get(a)?.status !== 'done') return false;
    }
    const result = reads[s.id];
    const n = Array.isArray(result) ? result.length : 1;
    if (Array.isArray(result)) this.count(s.id, n);
    this.reads[s.id] = result;
    this.setResult(s.id, result, s);
    await this.saveResult(s, result);
    this.record(s, {
      status: 'done',
      items: n,
      done: n,
      requests: 0,
      finishedAt: new Date().toISOString(),
    });
    return true;
  }

  private async afterStep(s: Step, byId: Map<string, Step>) {
    const rec = this.steps.get(s.id)!;
    if (rec.status !== 'failed' && !(rec.status === 'partial' && rec.failed)) return;
    const onError = s.on_error ?? 'fail';
    if (onError === 'continue') return;
    if (onError !== 'fail' && byId.has(onError)) {
      const h = byId.get(onError)!;
      this.setResult(s.id, { errors: rec.errors ?? [] }, s);
      const hm = this.method(h);
      this.record(h, { status: 'running', startedAt: new Date().toISOString() });
      if (hm) await this.methodStep(h, hm);
      const hr = this.steps.get(h.id)!;
      if (hr.status === 'running') this.record(h, { status: 'done', finishedAt: new Date().toISOString() });
      return;
    }
    this.failed = `step "${s.id}" failed: ${rec.errors?.[0]?.message ?? rec.reason ?? 'error'}`;
  }

  /**
   * A foreach write step B that can run in the same batches as write step A: same `foreach`, ready once A is done,
   * and every mention of A is a whole field `steps.A.result[index](.field)*` — which becomes `$result[a][...]`.
   */
  private fusablePartner(
    a: Step,
    am: MethodInfo,
    order: string[],
    at: number,
    byId: Map<string, Step>,
  ): { step: Step; method: MethodInfo; refs: Map<string, (string | number)[]> } | undefined {
    if (this.o.batching === false || this.o.mode === 'shadow' || this.o.resume || !a.foreach || a.retry || a.if) return;
    if (am.batchable === false) return;
    // B is the first later step that depends on A, with only reads in between (the declared write order holds)
    let b: Step | undefined;
    for (let k = at + 1; k < order.length && !b; k++) {
      const t = byId.get(order[k]!)!;
      if ((this.graph.deps.get(t.id) ?? new Set()).has(a.id)) b = t;
      else if (this.method(t)?.risk !== 'read') return;
    }
    if (!b?.method || !b.foreach || b.retry || b.if || b.use || b.pipeline || b.outputs || b.concurrency) return;
    if (b.foreach.replace(/\s+/g, '') !== a.foreach.replace(/\s+/g, '')) return;
    const bm = this.method(b);
    if (!bm || bm.risk === 'read' || bm.batchable === false || bm.positional) return;
    for (const d of this.graph.deps.get(b.id) ?? []) if (d !== a.id && this.steps.get(d)?.status !== 'done') return;
    const refRe = new RegExp(`^steps\\.${a.id}\\.result\\[index\\]((?:\\.[A-Za-z_][A-Za-z0-9_]*)*)$`);
    const refs = new Map<string, (string | number)[]>();
    const check = (v: unknown, path: string): boolean => {
      if (isExpression(v)) {
        const body = expressionBody(v).expr;
        if (!new RegExp(`\\bsteps\\s*(\\.\\s*${a.id}\\b|\\[)`).test(body)) return true;
        const m = refRe.exec(body);
        if (!m) return false;
        refs.set(path, m[1] ? m[1].slice(1).split('.') : []);
        return true;
      }
      if (isTemplate(v)) return !new RegExp(`\\bsteps\\s*\\.\\s*${a.id}\\b`).test(v.$template);
      if (Array.isArray(v)) return v.every((x, i) => check(x, `${path}/${i}`));
      if (v && typeof v === 'object') return Object.entries(v).every(([k, x]) => check(x, `${path}/${k}`));
      return true;
    };
    if (!check(b.params ?? {}, '') || !check(b.idempotency_key, '#key')) return;
    if (refs.has('#key') || !refs.size) return;
    const perm = (t: Step, tm: MethodInfo) =>
      refusalReason(tm, {
        mode: this.o.mode,
        confirmWrite: !!this.o.confirmWrite,
        confirmDestructive: !!this.o.confirmDestructive,
        triggerKind: this.o.trigger?.kind ?? 'cli',
        forceConfirm: !!t.confirm,
      });
    if (perm(a, am) || perm(b, bm)) return;
    return { step: b, method: bm, refs };
  }

  /**
   * Runs A and B together: per item the pair (A_i, B_i) in one batch, B_i reading A_i's result through
   * `$result[...]`; 25 pairs per request, `halt` so that B_i never runs after a failed A_i. Returns false (nothing
   * done) when the fan-out cannot be fused after all (earlier keys, batch syntax in data).
   */
  private async fusedFanOut(
    a: Step,
    am: MethodInfo,
    b: Step,
    bm: MethodInfo,
    refs: Map<string, (string | number)[]>,
  ): Promise<boolean> {
    const items = this.foreachItems(a);
    const keyOf = (s: Step, ctx: Record<string, unknown>, i: number) => {
      if (s.idempotency_key === undefined) return `${i}`;
      const k = this.ev.resolve(s.idempotency_key, ctx, this.maxList());
      return typeof k === 'string' ? k : JSON.stringify(k);
    };
    const pairs = items.map((item, index) => {
      const ctx = this.ctx({ item, index });
      const resolveB = (v: unknown, path: string): unknown => {
        const ref = refs.get(path);
        if (ref) return { __ref: ref };
        if (Array.isArray(v)) return v.map((x, i) => resolveB(x, `${path}/${i}`));
        if (v && typeof v === 'object' && !isTemplate(v) && !isExpression(v))
          return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, resolveB(x, `${path}/${k}`)]));
        return this.ev.resolve(v, ctx, this.maxList());
      };
      return {
        index,
        a: { params: this.resolveParams(a, am, ctx), key: keyOf(a, ctx, index) },
        b: { params: resolveB(b.params ?? {}, ''), key: keyOf(b, ctx, index) },
      };
    });
    if (pairs.some((x) => containsBatchSyntax(x.a.params) || containsBatchSyntax(x.b.params))) return false;
    const scopeA = `${this.o.client.portal?.id ?? 'portal'}|${this.p.pipeline.name}|${this.prefix}${a.id}`;
    const scopeB = `${this.o.client.portal?.id ?? 'portal'}|${this.p.pipeline.name}|${this.prefix}${b.id}`;
    const earlierA = a.idempotency_key !== undefined && this.idem ? await this.idem.load(scopeA) : undefined;
    const earlierB = b.idempotency_key !== undefined && this.idem ? await this.idem.load(scopeB) : undefined;
    if (pairs.some((x) => earlierA?.has(x.a.key) || earlierB?.has(x.b.key))) return false;
    const origin = (s: Step, key: string) =>
      `b24flow-${hashOf([this.p.pipeline.name, this.prefix + s.id, key]).slice(0, 24)}`;
    if (LEGACY_CRM_ADD.test(am.name))
      for (const x of pairs) {
        const p = x.a.params as { fields?: Record<string, unknown> };
        if (p?.fields && typeof p.fields === 'object' && fieldOf(p.fields, 'ORIGIN_ID') === undefined)
          x.a.params = { ...p, fields: { ...p.fields, ORIGIN_ID: origin(a, x.a.key) } };
      }
    const started = new Date().toISOString();
    this.record(a, { status: 'running', startedAt: started, items: items.length });
    this.record(b, { status: 'running', startedAt: started, items: items.length });
    this.count(a.id, items.length);
    this.count(b.id, items.length);
    const resA: unknown[] = items.map(() => null);
    const resB: unknown[] = items.map(() => null);
    const errs: Record<string, NonNullable<StepRecord['errors']>> = { [a.id]: [], [b.id]: [] };
    const done: Record<string, number> = { [a.id]: 0, [b.id]: 0 };
    const reqBefore = this.requests;
    const now = () => new Date().toISOString();
    const entry = (s: Step, key: string, state: WriteEntry['state'], extra: Partial<WriteEntry> = {}): WriteEntry => ({
      key: `${this.prefix}${s.id}#${key}`,
      step: this.prefix + s.id,
      state,
      at: now(),
      ...extra,
    });
    const PAIRS = BATCH_SIZE / 2;
    let queue = pairs;
    while (queue.length) {
      if (this.o.signal?.aborted) throw new RuntimeFailure('run aborted');
      const part = queue.slice(0, PAIRS);
      const cmds: Record<string, BatchCommand> = {};
      part.forEach((x, j) => {
        const withRef = (v: unknown): unknown => {
          if (v && typeof v === 'object' && '__ref' in (v as object))
            return new BatchRef(`a${j}`, (v as { __ref: (string | number)[] }).__ref);
          if (Array.isArray(v)) return v.map(withRef);
          if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, y]) => [k, withRef(y)]));
          return v;
        };
        cmds[`a${j}`] = { method: am.name, params: x.a.params as Record<string, unknown> };
        cmds[`b${j}`] = { method: bm.name, params: withRef(x.b.params) as Record<string, unknown> };
      });
      if (this.journal)
        await this.journal.recordWrites(
          this.run.runId,
          part.flatMap((x) => [
            entry(a, x.a.key, 'intent', LEGACY_CRM_ADD.test(am.name) ? { origin: origin(a, x.a.key) } : {}),
            entry(b, x.b.key, 'intent'),
          ]),
        );
      const r = (await this.o.client.batch(cmds, { halt: true, signal: this.signal })) as {
        results?: Record<string, unknown>;
        errors?: Record<string, unknown>;
        requests?: number;
      };
      this.requests += r.requests ?? 1;
      const entries: WriteEntry[] = [];
      const idemA: { key: string; result: unknown }[] = [];
      const idemB: { key: string; result: unknown }[] = [];
      let stopped = part.length;
      for (let j = 0; j < part.length; j++) {
        const x = part[j]!;
        const ra = r.results && `a${j}` in r.results ? r.results[`a${j}`] : undefined;
        const ea = r.errors?.[`a${j}`];
        const rb = r.results && `b${j}` in r.results ? r.results[`b${j}`] : undefined;
        const eb = r.errors?.[`b${j}`];
        if (ra === undefined && !ea) {
          stopped = j; // halted before this pair: send it again in the next request
          break;
        }
        if (ea) {
          errs[a.id]!.push({ item: x.index, key: x.a.key, ...errorInfo(ea) });
          errs[b.id]!.push({ item: x.index, key: x.b.key, message: `not run: "${a.id}" failed for this item` });
          entries.push(entry(a, x.a.key, 'failed', { error: errorInfo(ea).message }), entry(b, x.b.key, 'failed'));
          stopped = j + 1;
          break;
        }
        resA[x.index] = ra;
        done[a.id]!++;
        entries.push(entry(a, x.a.key, 'done', { result: compactResult(ra) }));
        idemA.push({ key: x.a.key, result: compactResult(ra) });
        if (eb || rb === undefined) {
          errs[b.id]!.push({ item: x.index, key: x.b.key, ...(eb ? errorInfo(eb) : { message: 'not run' }) });
          entries.push(entry(b, x.b.key, 'failed'));
          stopped = j + 1;
          break;
        }
        resB[x.index] = rb;
        done[b.id]!++;
        entries.push(entry(b, x.b.key, 'done', { result: compactResult(rb) }));
        idemB.push({ key: x.b.key, result: compactResult(rb) });
      }
      if (this.journal) await this.journal.recordWrites(this.run.runId, entries);
      if (earlierA) await this.idem!.record(scopeA, idemA);
      if (earlierB) await this.idem!.record(scopeB, idemB);
      queue = queue.slice(Math.max(1, stopped));
      this.progress(b.id, done[b.id]! + errs[b.id]!.length, items.length);
    }
    const fin = now();
    for (const [s, res] of [
      [a, resA],
      [b, resB],
    ] as const) {
      const failed = errs[s.id]!.length;
      this.record(s, {
        done: done[s.id]!,
        failed,
        ...(failed ? { errors: errs[s.id]!.slice(0, 50) } : {}),
        status: failed ? (done[s.id] ? 'partial' : 'failed') : 'done',
        requests: s === a ? this.requests - reqBefore : 0,
        finishedAt: fin,
      });
      this.results.set(s.id, res);
      this.setResult(s.id, res, s);
      await this.saveResult(s, res);
    }
    for (const [s, sm] of [
      [a, am],
      [b, bm],
    ] as const)
      for (let i = 0; i < items.length; i++)
        this.writes.push({
          step: this.prefix + s.id,
          item: i,
          key: (s === a ? pairs[i]!.a.key : pairs[i]!.b.key) as string,
          method: sm.name,
          entity: sm.entity ?? 'record',
          risk: sm.risk as 'write' | 'destructive',
          params: s === a ? pairs[i]!.a.params : pairs[i]!.b.params,
          riskFields: (sm.risk_fields ?? []).filter((f) =>
            touches(s === a ? pairs[i]!.a.params : pairs[i]!.b.params, f),
          ),
        });
    return true;
  }

  /** Pre-run assertions, evaluated once after the reads and before the first write. */
  private async runChecks() {
    this.checksDone = true;
    for (const c of this.p.pipeline.checks ?? []) {
      let ok = false;
      try {
        ok = this.ev.evaluate(expressionBody(c.condition).expr, this.base, this.maxList()) === true;
      } catch {
        ok = false;
      }
      const behavior = c.behavior ?? 'block';
      this.checks.push({ message: c.message, ok, behavior });
      if (!ok && behavior === 'block') this.blocked = true;
    }
  }

  private async singleReads(group: Step[]) {
    const cmds: [string, BatchCommand][] = group.map((t) => [
      t.id,
      {
        method: this.method(t)!.name,
        params: this.resolveParams(t, this.method(t)!, this.base) as Record<string, unknown>,
      },
    ]);
    const before = this.requests;
    const res = await this.send(cmds);
    for (const t of group) {
      const r = res.get(t.id)!;
      const m = this.method(t)!;
      if (t !== group[0]) this.record(t, { status: 'running', startedAt: new Date().toISOString() });
      if (r.error) {
        this.record(t, { status: 'failed', failed: 1, errors: [{ ...r.error }], finishedAt: new Date().toISOString() });
        this.setResult(t.id, null, t);
        if (t !== group[0]) await this.afterStep(t, new Map(this.p.pipeline.steps.map((x) => [x.id, x] as const)));
        continue;
      }
      const result = m.list ? rowsOf(r.result, m.list.wrapper) : r.result;
      if (m.list) this.count(t.id, (result as unknown[]).length);
      this.reads[t.id] = result;
      this.setResult(t.id, result, t);
      await this.saveResult(t, result);
      this.record(t, {
        status: 'done',
        items: 1,
        done: 1,
        requests: t === group[0] ? this.requests - before : 0,
        finishedAt: new Date().toISOString(),
      });
    }
  }

  private async saveResult(s: Step, result: unknown) {
    if (!this.journal) return;
    await this.journal.saveStepResult(this.run.runId, this.prefix + s.id, result);
    this.record(s, { hasResult: true });
  }

  /** Resolves params (object or positional list) and maps named params to positional order when needed. */
  private resolveParams(s: Step, m: MethodInfo, ctx: Record<string, unknown>): unknown {
    const v = s.params === undefined ? {} : this.ev.resolve(s.params, ctx, this.maxList());
    if (m.positional && v && typeof v === 'object' && !Array.isArray(v)) {
      const rec = v as Record<string, unknown>;
      return (m.params ?? []).map((p) => fieldOf(rec, p.name) ?? null);
    }
    return v;
  }

  private foreachItems(s: Step): unknown[] {
    const v = this.ev.evaluate(expressionBody(s.foreach!).expr, this.base, this.maxList());
    if (v === null || v === undefined) return [];
    if (!Array.isArray(v)) throw new RuntimeFailure(`step "${s.id}": foreach is not a list`);
    return v;
  }

  /** Signal of the running step: the run's signal, plus the step's `timeout` when it has one. */
  private stepSignal?: AbortSignal;
  private get signal(): AbortSignal | undefined {
    return this.stepSignal ?? this.o.signal;
  }

  private async methodStep(s: Step, m: MethodInfo): Promise<void> {
    const timeout = parseTimeout(s.timeout);
    if (timeout === undefined) return this.methodStepInner(s, m, timeout);
    const own = AbortSignal.timeout(timeout);
    this.stepSignal = this.o.signal ? AbortSignal.any([this.o.signal, own]) : own;
    try {
      return await this.methodStepInner(s, m, timeout);
    } catch (err) {
      if (own.aborted && !this.o.signal?.aborted)
        throw new RuntimeFailure(`step "${s.id}" timed out after ${s.timeout}`);
      throw err;
    } finally {
      this.stepSignal = undefined;
    }
  }

  private async methodStepInner(s: Step, m: MethodInfo, timeout: number | undefined): Promise<void> {
    const t0 = Date.now();
    if (m.risk === 'read') {
      if (s.all && m.list) return this.readAll(s, m);
      if (!s.foreach) return this.singleReads([s]);
    }
    const items: { item?: unknown; index: number }[] = s.foreach
      ? this.foreachItems(s).map((item, index) => ({ item, index }))
      : [{ index: 0 }];
    this.count(s.id, items.length);
    this.record(s, { items: items.length });
    const works: Work[] = [];
    const lang = this.lang();
    let pendingAny = false;
    for (const it of items) {
      const ctx = s.foreach ? this.ctx({ item: it.item, index: it.index }) : this.base;
      let params: unknown;
      let pending = false;
      try {
        params = this.resolveParams(s, m, ctx);
      } catch (err) {
        if (this.o.mode === 'full') throw err;
        // shadow/canary: params depend on results of writes that did not happen
        pending = true;
        pendingAny = true;
        params = { unresolved: (err as Error).message };
      }
      let key = s.foreach ? `${it.index}` : '0';
      if (s.idempotency_key !== undefined) {
        try {
          const k = this.ev.resolve(s.idempotency_key, ctx, this.maxList());
          key = typeof k === 'string' ? k : JSON.stringify(k);
        } catch {
          // keep the positional key
        }
      }
      works.push({ index: it.index, item: it.item, key, params, pending });
    }
    if (m.risk === 'read') {
      const res = await this.runCalls(s, m, works, timeout, t0);
      const results = works.map((w) => {
        const r = res.get(w.key);
        return r?.error ? null : m.list ? rowsOf(r?.result, m.list.wrapper) : (r?.result ?? null);
      });
      this.reads[s.id] = results;
      this.setResult(s.id, results, s);
      await this.saveResult(s, results);
      return;
    }
    // writes
    const reason = refusalReason(
      m,
      {
        mode: this.o.mode,
        confirmWrite: !!this.o.confirmWrite,
        confirmDestructive: !!this.o.confirmDestructive,
        triggerKind: this.o.trigger?.kind ?? 'cli',
        forceConfirm: !!s.confirm,
      },
      lang,
    );
    const riskFields = (m.risk_fields ?? []).filter((f) => works.some((w) => touches(w.params, f)));
    for (const w of works)
      this.writes.push({
        step: this.prefix + s.id,
        ...(s.foreach ? { item: w.index } : {}),
        key: w.key,
        method: m.name,
        entity: m.entity ?? m.name.split('.').slice(-2, -1)[0] ?? 'record',
        risk: m.risk as 'write' | 'destructive',
        params: w.params,
        riskFields: (m.risk_fields ?? []).filter((f) => touches(w.params, f)),
        ...(reason && this.o.mode !== 'shadow' ? { refused: reason } : {}),
        ...(w.pending ? { pending: true } : {}),
      });
    void riskFields;
    if (reason) {
      const placeholder = works.map((w) => `⟨${s.id}[${w.index}]⟩`);
      this.setResult(s.id, s.foreach ? placeholder : placeholder[0], s);
      if (this.o.mode === 'shadow') this.record(s, { status: 'planned', finishedAt: new Date().toISOString() });
      else {
        this.refusals.push({ step: this.prefix + s.id, reason });
        this.record(s, { status: 'refused', reason, finishedAt: new Date().toISOString() });
      }
      return;
    }
    if (pendingAny) throw new RuntimeFailure(`step "${s.id}": params could not be resolved`);
    const res = await this.runCalls(s, m, works, timeout, t0);
    const results = works.map((w) => {
      const r = res.get(w.key);
      return r && !r.error ? (r.result ?? null) : null;
    });
    this.results.set(s.id, results);
    this.setResult(s.id, s.foreach ? results : results[0], s);
    await this.saveResult(s, s.foreach ? results : results[0]);
  }

  /** Executes calls (reads or writes) for work items with journaling, batching, retries and timeout. */
  private async runCalls(s: Step, m: MethodInfo, works: Work[], timeout: number | undefined, t0: number) {
    const isWrite = m.risk !== 'read';
    const out = new Map<string, { result?: unknown; error?: { code?: string; message: string } }>();
    const stepKey = (w: Work) => `${this.prefix}${s.id}#${w.key}`;
    let todo: Work[] = [];
    let existing = 0;
    const origin = (w: Work) => `b24flow-${hashOf([this.p.pipeline.name, this.prefix + s.id, w.key]).slice(0, 24)}`;
    // 1. already done (this run's journal, or an earlier run with the same key) → skip;
    //    uncertain legacy CRM creates → look up by ORIGIN_ID
    const uncertain: Work[] = [];
    const keyed = isWrite && s.idempotency_key !== undefined && this.idem;
    const scope = `${this.o.client.portal?.id ?? 'portal'}|${this.p.pipeline.name}|${this.prefix}${s.id}`;
    const earlier = keyed ? await this.idem!.load(scope) : undefined;
    for (const w of works) {
      const e = isWrite ? this.writeLog.get(stepKey(w)) : undefined;
      if (e?.state === 'done') {
        out.set(w.key, { result: e.result });
        existing++;
      } else if (earlier?.has(w.key) && e?.state !== 'intent') {
        out.set(w.key, { result: earlier.get(w.key) });
        existing++;
      } else if (e?.state === 'intent') uncertain.push(w);
      else todo.push(w);
    }
    if (uncertain.length) {
      if (LEGACY_CRM_ADD.test(m.name)) {
        const listMethod = m.name.replace(/\.add$/i, '.list');
        const looks = await this.send(
          uncertain.map((w) => [
            w.key,
            { method: listMethod, params: { filter: { ORIGIN_ID: origin(w) }, select: ['ID'] } },
          ]),
        );
        const found: WriteEntry[] = [];
        for (const w of uncertain) {
          const rows = rowsOf(looks.get(w.key)?.result);
          const id = rows.length ? Number(fieldOf(rows[0], 'ID')) : undefined;
          if (id) {
            out.set(w.key, { result: id });
            existing++;
            found.push({
              key: stepKey(w),
              step: this.prefix + s.id,
              state: 'done',
              result: id,
              at: new Date().toISOString(),
            });
          } else todo.push(w);
        }
        if (this.journal) await this.journal.recordWrites(this.run.runId, found);
        if (keyed)
          await this.idem!.record(
            scope,
            found.map((e) => ({ key: e.key.slice(e.key.indexOf('#') + 1), result: e.result })),
          );
      } else {
        // cannot look it up: resend alone with the key as Idempotency-Key (REST 3.0 dedupes); counted as uncertain
        for (const w of uncertain) todo.push(w);
      }
    }
    if (LEGACY_CRM_ADD.test(m.name))
      for (const w of todo) {
        const p = w.params as { fields?: Record<string, unknown> };
        if (
          p &&
          typeof p === 'object' &&
          p.fields &&
          typeof p.fields === 'object' &&
          fieldOf(p.fields, 'ORIGIN_ID') === undefined
        )
          w.params = { ...p, fields: { ...p.fields, ORIGIN_ID: origin(w) } };
      }
    let done = existing;
    let failed = 0;
    const errors: NonNullable<StepRecord['errors']> = [];
    const retry = s.retry;
    const attempts = retry?.attempts ?? 1;
    const total = works.length;
    for (let attempt = 1; attempt <= attempts && todo.length; attempt++) {
      const failedNow: Work[] = [];
      const chunk = this.o.batching === false || m.batchable === false ? 1 : BATCH_SIZE;
      // `concurrency` chunks (batches, or single calls without batching) in flight at once; default 1
      const parallel = Math.max(1, s.concurrency ?? 1);
      const chunks: Work[][] = [];
      for (let i = 0; i < todo.length; i += chunk) chunks.push(todo.slice(i, i + chunk));
      let next = 0;
      const worker = async () => {
        while (next < chunks.length) {
          const part = chunks[next++]!;
          await runChunk(part);
        }
      };
      const runChunk = async (part: Work[]) => {
        if (timeout !== undefined && Date.now() - t0 > timeout)
          throw new RuntimeFailure(`step "${s.id}" timed out after ${s.timeout}`);
        if (this.o.signal?.aborted) throw new RuntimeFailure('run aborted');
        if (isWrite && this.journal)
          await this.journal.recordWrites(
            this.run.runId,
            part.map((w) => ({
              key: stepKey(w),
              step: this.prefix + s.id,
              state: 'intent' as const,
              ...(LEGACY_CRM_ADD.test(m.name) ? { origin: origin(w) } : {}),
              at: new Date().toISOString(),
            })),
          );
        const idKeys: Record<string, string> = {};
        const resend = uncertain.length > 0 && part.some((w) => uncertain.includes(w)) && !LEGACY_CRM_ADD.test(m.name);
        if (resend) for (const w of part) idKeys[w.key] = `b24flow-${hashOf(stepKey(w)).slice(0, 32)}`;
        // a method that cannot sit inside a batch (batch itself) goes as single calls
        const single = resend || m.batchable === false;
        const before = this.requests;
        const res = await this.send(
          part.map((w) => [w.key, { method: m.name, params: w.params as Record<string, unknown> }]),
          { single, idempotencyKeys: idKeys },
        );
        this.record(s, { requests: (this.steps.get(s.id)?.requests ?? 0) + (this.requests - before) });
        const entries: WriteEntry[] = [];
        for (const w of part) {
          const r = res.get(w.key)!;
          if (r.error) {
            const retryable =
              attempt < attempts &&
              (!retry?.on?.length || retry.on.includes(r.error.code ?? '') || retry.on.includes('retryable'));
            if (retryable) failedNow.push(w);
            else {
              failed++;
              errors.push({ item: w.index, key: w.key, ...r.error });
              out.set(w.key, r);
              entries.push({
                key: stepKey(w),
                step: this.prefix + s.id,
                state: 'failed',
                error: r.error.message,
                at: new Date().toISOString(),
              });
            }
          } else {
            done++;
            out.set(w.key, r);
            entries.push({
              key: stepKey(w),
              step: this.prefix + s.id,
              state: 'done',
              result: compactResult(r.result),
              at: new Date().toISOString(),
            });
          }
        }
        if (isWrite && this.journal) await this.journal.recordWrites(this.run.runId, entries);
        if (keyed)
          await this.idem!.record(
            scope,
            entries
              .filter((e) => e.state === 'done')
              .map((e) => ({ key: e.key.slice(e.key.indexOf('#') + 1), result: e.result })),
          );
        this.progress(s.id, done + failed, total);
      };
      await Promise.all(Array.from({ length: Math.min(parallel, chunks.length) }, worker));
      todo = failedNow;
      if (todo.length) await sleep((retry?.backoff_ms ?? 1000) * (retry?.factor ?? 2) ** (attempt - 1), this.o.signal);
    }
    this.record(s, {
      done: done - existing,
      existing,
      failed,
      ...(errors.length ? { errors: errors.slice(0, 50) } : {}),
      status: failed ? (done ? 'partial' : 'failed') : 'running',
      finishedAt: new Date().toISOString(),
    });
    return out;
  }

  private async readAll(s: Step, m: MethodInfo) {
    const params = (this.resolveParams(s, m, this.base) ?? {}) as Record<string, unknown>;
    const rows: unknown[] = [];
    const client = this.o.client;
    const before = this.requests;
    const stats0 = client.stats?.().requests;
    if (this.o.batching !== false && client.exportAll && m.list?.keyset !== false) {
      for await (const page of client.exportAll(m.name, params, { signal: this.signal, wrapper: m.list?.wrapper })) {
        rows.push(...page);
        // rows so far; the client counts the export's requests
        this.o.onProgress?.({
          step: this.prefix + s.id,
          done: rows.length,
          total: rows.length,
          requests: this.requests + (client.stats && stats0 !== undefined ? client.stats().requests - stats0 : 0),
        });
      }
    } else if (client.list) {
      for await (const row of client.list(m.name, params, { signal: this.signal, wrapper: m.list?.wrapper }))
        rows.push(row);
    } else {
      let start: number | undefined = 0;
      while (start !== undefined) {
        const r: { result: unknown; next?: number } = await client.call(
          m.name,
          { ...params, start },
          { signal: this.signal },
        );
        this.requests++;
        rows.push(...rowsOf(r.result, m.list?.wrapper));
        start = r.next;
      }
    }
    const stats1 = client.stats?.().requests;
    if (stats0 !== undefined && stats1 !== undefined) this.requests += stats1 - stats0 - (this.requests - before);
    this.count(s.id, rows.length);
    this.reads[s.id] = rows;
    this.setResult(s.id, rows, s);
    await this.saveResult(s, rows);
    this.record(s, { items: rows.length, done: rows.length, requests: this.requests - before });
  }

  private async subPipeline(s: Step) {
    let sub: LoadedPipeline;
    if (s.use) {
      const r = this.catalog.recipe?.(s.use);
      if (!r) throw new InvalidInputError(`${this.p.file}: unknown recipe "${s.use}" in step "${s.id}"`);
      sub = recipePipeline(r);
    } else sub = await loadPipelineFile(subPipelinePath(this.p, s));
    const withValues = (s.with ? this.ev.resolve(s.with, this.base, this.maxList()) : {}) as Record<string, unknown>;
    const inputs = resolveInputs(sub, withValues);
    const child = new Execution(
      sub,
      this.o,
      this.catalog,
      inputs,
      this.run,
      this.journal,
      `${this.prefix}${s.id}.`,
      this.idem,
    );
    await child.init();
    await child.execute();
    this.writes.push(...child.writes);
    this.refusals.push(...child.refusals);
    this.checks.push(...child.checks);
    this.requests += child.requests;
    Object.assign(this.reads, Object.fromEntries(Object.entries(child.reads).map(([k, v]) => [`${s.id}.${k}`, v])));
    let outputs: Record<string, unknown> = {};
    if (sub.pipeline.outputs) {
      try {
        outputs = child.ev.resolve(sub.pipeline.outputs, child.base, 0) as Record<string, unknown>;
      } catch (err) {
        // shadow/canary: outputs that depend on writes not executed stay unknown
        if (this.o.mode === 'full') throw err;
        outputs = Object.fromEntries(Object.keys(sub.pipeline.outputs).map((k) => [k, `⟨${s.id}.${k}⟩`]));
      }
    }
    if (child.failed) throw new RuntimeFailure(child.failed);
    this.setResult(s.id, outputs, s);
    this.record(s, { items: 1, done: 1 });
  }

  get baseContext(): Record<string, unknown> {
    return this.base;
  }
}

function touches(params: unknown, field: string): boolean {
  if (!params || typeof params !== 'object') return false;
  const f = (params as { fields?: unknown }).fields;
  const target = Array.isArray(params) ? params[1] : f && typeof f === 'object' ? f : params;
  return fieldOf(target, field) !== undefined;
}

function compactResult(r: unknown): unknown {
  if (r === null || typeof r !== 'object') return r;
  const o = r as Record<string, unknown>;
  for (const k of ['ID', 'id', 'item', 'task']) {
    const v = o[k];
    if (typeof v === 'number' || typeof v === 'string') return { [k]: v };
    if (v && typeof v === 'object') {
      const id = (v as Record<string, unknown>).id ?? (v as Record<string, unknown>).ID;
      if (id !== undefined) return { [k]: { id } };
    }
  }
  return true;
}

/** Fetches the current records targeted by update writes and fills `diff` (field before → after). */
async function addDiffs(
  writes: PlannedWrite[],
  client: ClientLike,
  catalog: CatalogView,
): Promise<Record<string, unknown>> {
  const targets: [string, BatchCommand, PlannedWrite][] = [];
  writes.forEach((w, i) => {
    if (!/\.update$/i.test(w.method) || w.pending) return;
    const p = w.params as Record<string, unknown>;
    if (!p || typeof p !== 'object' || Array.isArray(p)) return;
    const idKey = Object.keys(p).find((k) => /^(id|taskid)$/i.test(k));
    if (!idKey) return;
    const get = catalog.method(w.method.replace(/\.update$/i, '.get'));
    if (!get) return;
    const getIdKey = get.params?.find((x) => /^(id|taskid)$/i.test(x.name))?.name ?? idKey;
    targets.push([`w${i}`, { method: get.name, params: { [getIdKey]: p[idKey] } }, w]);
  });
  const before: Record<string, unknown> = {};
  for (let i = 0; i < targets.length; i += BATCH_SIZE) {
    const chunk = targets.slice(i, i + BATCH_SIZE);
    const rec: Record<string, BatchCommand> = {};
    for (const [k, c] of chunk) rec[k] = c;
    const r = (await client.batch(rec, { halt: false })) as { results?: Record<string, unknown> };
    for (const [k, , w] of chunk) {
      let cur = r.results?.[k];
      if (cur && typeof cur === 'object' && !Array.isArray(cur)) {
        const o = cur as Record<string, unknown>;
        cur = o.task ?? o.item ?? cur;
      }
      before[k] = cur ?? null;
      const fields = ((w.params as Record<string, unknown>).fields ?? {}) as Record<string, unknown>;
      w.diff = Object.entries(fields).map(([field, after]) => ({ field, before: fieldOf(cur, field) ?? null, after }));
    }
  }
  return before;
}

function highestRisk(writes: PlannedWrite[]): Plan['risk'] {
  if (writes.some((w) => w.risk === 'destructive')) return 'destructive';
  return writes.length ? 'write' : 'none';
}

/** Plan store interface: plans by id with TTL and single use (see plans.ts for the file store). */
export interface PlanStoreLike {
  save(plan: Plan, extra: { pipeline: unknown; file?: string; path?: string }): Promise<void>;
}

function costText(c: CostEstimate): string {
  return `${c.calls} calls in ${c.requests} requests (${c.requestsUnbatched} without batching), ~${c.seconds} s, operating-budget risk ${c.operatingRisk}`;
}

/** Builds the plan object from a shadow execution. */
async function buildPlan(ex: Execution, p: LoadedPipeline, o: RunOptions, catalog: CatalogView): Promise<Plan> {
  const before = await addDiffs(ex.writes, o.client, catalog);
  const stateHash = hashOf({ reads: ex.reads, before });
  const resolved = ex.writes.map((w) => ({ step: w.step, key: w.key, method: w.method, params: w.params }));
  const id = `p${hashOf({ pipeline: p.hash, writes: resolved, state: stateHash }).slice(0, 23)}`;
  const items: Record<string, number> = { ...ex.itemCounts };
  const cost = estimateCost(p, catalog, { items, plan: o.client.portal?.plan, batching: o.batching });
  const created = Date.now();
  return {
    id,
    pipeline: { name: p.pipeline.name, file: p.file, hash: p.hash },
    createdAt: new Date(created).toISOString(),
    expiresAt: new Date(created + planTtlMs()).toISOString(),
    writes: ex.writes,
    risk: highestRisk(ex.writes),
    riskFields: [...new Set(ex.writes.flatMap((w) => w.riskFields))],
    cost: { ...cost, batchRequests: cost.requests, wallSeconds: cost.seconds, text: costText(cost) },
    stateHash,
    checks: ex.checks,
    inputs: ex.inputs,
    now: ex.ev.now,
    ...(o.client.portal?.id ? { portal: o.client.portal.id } : {}),
  };
}

/** Plan lifetime: B24FLOW_PLAN_TTL_MS or 30 minutes. */
export function planTtlMs(): number {
  const v = Number(process.env.B24FLOW_PLAN_TTL_MS);
  return Number.isFinite(v) && v > 0 ? v : 30 * 60_000;
}

/**
 * Steps a full run would refuse before doing anything (static: risk, confirmations, trigger), including the steps
 * inside recipes (`use:`) and sub-pipelines (`pipeline:`), so that a run never writes partially and then refuses.
 */
function staticRefusals(p: LoadedPipeline, o: RunOptions, catalog: CatalogView): { step: string; reason: string }[] {
  const out: { step: string; reason: string }[] = [];
  for (const { id, step: s, method: m } of expandSteps(p, catalog)) {
    if (!m || m.risk === 'read') continue;
    const r = refusalReason(
      m,
      {
        mode: 'full',
        confirmWrite: !!o.confirmWrite,
        confirmDestructive: !!o.confirmDestructive,
        triggerKind: o.trigger?.kind ?? 'cli',
        forceConfirm: !!s.confirm,
      },
      o.lang ?? userLanguage(),
    );
    if (r) out.push({ step: id, reason: r });
  }
  return out;
}

async function execute(p: LoadedPipeline, o: RunOptions, mode: RunMode, journalOn: boolean) {
  const catalog = o.catalog ?? (await defaultCatalog());
  const inputs = o.resume ? o.resume.inputs : resolveInputs(p, o.inputs ?? {});
  const journal = journalOn ? (o.journal === undefined ? new FileJournal() : o.journal || undefined) : undefined;
  const run: RunRecord = o.resume ?? {
    runId: newRunId(),
    pipeline: { name: p.pipeline.name, file: p.file, path: p.path, hash: p.hash, object: p.pipeline },
    mode,
    confirmWrite: !!o.confirmWrite,
    confirmDestructive: !!o.confirmDestructive,
    inputs,
    ...(o.trigger ? { trigger: o.trigger as Record<string, unknown> } : {}),
    ...(o.client.portal?.id ? { portal: o.client.portal.id } : {}),
    now: o.now ?? Date.now(),
    status: 'running',
    startedAt: new Date().toISOString(),
    steps: {},
    ...(o.planId ? { planId: o.planId } : {}),
  };
  if (o.resume) {
    run.status = 'running';
    run.resumedFrom = [...(run.resumedFrom ?? []), new Date().toISOString()];
  }
  if (journal) await (o.resume ? journal.update(run) : journal.begin(run));
  const idem =
    o.idempotency === false || mode === 'shadow'
      ? undefined
      : (o.idempotency ?? (journal instanceof FileJournal ? FileIdempotencyStore.shared() : undefined));
  const ex = new Execution(p, { ...o, mode, client: o.client }, catalog, inputs, run, journal, '', idem);
  await ex.init();
  let error: string | undefined;
  try {
    await ex.execute();
  } catch (err) {
    if (err instanceof InvalidInputError) throw err;
    error = (err as Error).message;
  }
  return { ex, run, journal, catalog, error };
}

function finish(
  ex: Execution,
  run: RunRecord,
  catalog: CatalogView,
  o: RunOptions,
  mode: RunMode,
  error: string | undefined,
): RunResult {
  const steps = Object.values(run.steps).map((s) => {
    const results = ex.results.get(s.id.split('.').pop()!);
    return results && /\.add$/i.test(s.method ?? '') ? { ...s, results: results.slice(0, 1000) } : s;
  });
  const method = (n: string | undefined) => (n ? catalog.method(n) : undefined);
  const summary = {
    en: summarize(steps, method, 'en', o.verbose),
    ru: summarize(steps, method, 'ru', o.verbose),
  };
  let status: RunStatus;
  if (error || ex.failed) status = 'failed';
  else if (ex.blocked) status = 'blocked';
  else if (mode === 'shadow') status = 'planned';
  else if (steps.some((s) => s.status === 'partial' || s.status === 'refused')) status = 'partial';
  else status = 'completed';
  if (mode === 'canary' && status === 'partial' && !steps.some((s) => s.failed)) status = 'completed';
  let outputs: Record<string, unknown> | undefined;
  if (ex.p.pipeline.outputs && status !== 'failed') {
    try {
      outputs = ex.ev.resolve(ex.p.pipeline.outputs, ex.baseContext, 0) as Record<string, unknown>;
    } catch (err) {
      outputs = { error: (err as Error).message };
    }
  }
  run.status = status;
  run.finishedAt = new Date().toISOString();
  run.summary = summary;
  if (error || ex.failed) run.error = error ?? ex.failed;
  return {
    runId: run.runId,
    status,
    mode,
    pipeline: ex.p.pipeline.name,
    steps,
    summary,
    writes: ex.writes,
    refusals: ex.refusals,
    checks: ex.checks,
    requests: ex.requests,
    ...(outputs ? { outputs } : {}),
    ...(run.error ? { error: run.error } : {}),
  };
}

/**
 * Runs a pipeline.
 *
 * @param p a loaded pipeline (`loadPipelineFile` / `loadPipelineObject`)
 * @returns the run result; `status`: planned (shadow), completed, partial (canary refusals or item failures),
 *   refused (full run lacking a confirmation: nothing written, `plan` attached), blocked (a check failed),
 *   failed (a step failed; `error`)
 * @throws InvalidInputError for bad inputs or unknown methods; RuntimeFailure only for journal/disk errors
 */
export async function runPipeline(p: LoadedPipeline, o: RunOptions): Promise<RunResult> {
  const mode = o.mode ?? 'shadow';
  if (mode === 'full' && !o.resume) {
    const catalog = o.catalog ?? (await defaultCatalog());
    const refused = staticRefusals(p, o, catalog);
    if (refused.length) {
      // one shadow pass: nothing is written, the plan shows what a confirmed run would do
      const { ex, run, error } = await execute(p, { ...o, catalog, journal: false }, 'shadow', false);
      const r = finish(ex, run, catalog, o, 'shadow', error);
      const plan = await buildPlan(ex, p, o, catalog);
      return {
        ...r,
        status: 'refused',
        mode: 'full',
        refusals: refused,
        plan,
        error: refused.map((x) => `${x.step}: ${x.reason}`).join('; '),
      };
    }
  }
  const { ex, run, journal, catalog, error } = await execute(p, o, mode, mode !== 'shadow' && o.journal !== false);
  const r = finish(ex, run, catalog, o, mode, error);
  if (journal) await journal.update(run);
  if (mode === 'shadow') r.plan = await buildPlan(ex, p, o, catalog);
  return r;
}

/** Options of {@link planPipeline}. */
export interface PlanOptions extends Omit<RunOptions, 'mode'> {
  /** Where to store the plan for `apply` (default: the file store under the data dir); false = do not store. */
  store?: PlanStoreLike | false;
  /** Attach the read results (`plan.reads`) for a run that follows at once (`RunOptions.planReads`). */
  withReads?: boolean;
}

/**
 * Runs the reads and resolves every write into a plan (nothing is written). The plan is stored with a TTL
 * (30 min) for a single `applyPlan`.
 * @throws InvalidInputError for bad inputs
 */
export async function planPipeline(p: LoadedPipeline, o: PlanOptions): Promise<Plan> {
  const { ex, catalog } = await execute(p, { ...o, mode: 'shadow', journal: false }, 'shadow', false);
  const plan = await buildPlan(ex, p, o, catalog);
  if (ex.failed) throw new RuntimeFailure(`cannot plan: ${ex.failed}`);
  const store = o.store === undefined ? await (await import('./plans.js')).defaultPlanStore() : o.store;
  if (store) await store.save(plan, { pipeline: p.pipeline, file: p.file, path: p.path });
  if (o.withReads) Object.defineProperty(plan, 'reads', { value: ex.reads, enumerable: false });
  return plan;
}

/**
 * Continues a run that stopped (killed, crashed, failed): completed steps are not repeated, completed writes are
 * skipped by key, uncertain legacy CRM creates are looked up by ORIGIN_ID.
 * @throws InvalidInputError when the run does not exist or already completed
 */
export async function resumeRun(
  runId: string,
  o: Omit<RunOptions, 'resume' | 'mode' | 'inputs'> & { journal?: Journal },
): Promise<RunResult> {
  const journal = o.journal ?? new FileJournal();
  const rec = await journal.get(runId);
  if (!rec) throw new InvalidInputError(`unknown run "${runId}"`);
  if (rec.status === 'completed') throw new InvalidInputError(`run ${runId} already completed`);
  const p = loadPipelineObject(rec.pipeline.object, rec.pipeline.file ?? rec.pipeline.name);
  if (rec.pipeline.path) (p as { path?: string }).path = rec.pipeline.path;
  return runPipeline(p, {
    ...o,
    journal,
    mode: rec.mode,
    confirmWrite: rec.confirmWrite,
    confirmDestructive: rec.confirmDestructive,
    now: rec.now,
    resume: rec,
    ...(rec.trigger ? { trigger: rec.trigger as RunTrigger } : {}),
  });
}

export { isSafeCreate };
