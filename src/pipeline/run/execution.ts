/**
 * One execution of one compiled pipeline (sub-pipelines get their own, sharing the run record): the run's state
 * (step records, results, writes, refusals, checks, request count) and the step loop. Each step kind runs in its
 * module under steps/, registered in steps/kinds.ts.
 *
 * - Reads run for real in every mode; the packed reads, fused pairs and fan-out chunks come from the compiled
 *   program (src/pipeline/compile), the loop only drops members whose dependencies did not finish.
 * - Writes follow the mode (see modes.ts): shadow resolves them into planned writes; canary executes safe creates;
 *   full executes everything that was confirmed.
 */
import type { BatchCommand } from '../../bitrix/batch.js';
import { InvalidInputError, RuntimeFailure } from '../../lib/failures.js';
import type { CatalogView } from '../catalog.js';
import type { CompiledStep, Program } from '../compile/program.js';
import { Evaluator, expressionBody, isExpression } from '../expr.js';
import type { StepGraph } from '../graph.js';
import type { IdempotencyStore } from '../idempotency.js';
import type { Journal, RunRecord, StepRecord, WriteEntry } from '../journal.js';
import type { Step } from '../load.js';
import { refusalReason, type StepMethod } from '../modes.js';
import { errorInfo, fieldOf, ioSummary, parseTimeout } from './results.js';
import { type CallAnswers, type SendOptions, sendCommands } from './send.js';
import { STEP_KINDS } from './steps/kinds.js';
import { methodStep } from './steps/method.js';
import { reusePlanRead } from './steps/read.js';
import type { PlannedWrite, RunOptions, RunResult } from './types.js';

export type { CallAnswers };

/** Options of an execution: the run's options with the mode and client settled. */
export type ExecutionOptions = Required<Pick<RunOptions, 'client' | 'mode'>> & RunOptions;

/** One execution of one pipeline (sub-pipelines get their own, sharing the run). */
export class Execution {
  readonly ev: Evaluator;
  readonly graph: StepGraph;
  readonly catalog: CatalogView;
  readonly steps = new Map<string, StepRecord>();
  readonly stepScope: Record<string, { result: unknown; outputs: Record<string, unknown> }> = {};
  readonly celSteps: Record<string, unknown> = {};
  readonly writes: PlannedWrite[] = [];
  readonly refusals: { step: string; reason: string }[] = [];
  readonly checks: RunResult['checks'] = [];
  readonly reads: Record<string, unknown> = {};
  readonly itemCounts: Record<string, number> = {};
  readonly results = new Map<string, unknown[]>();
  /**
   * Steps whose result does not exist in this mode (writes refused or only planned, and the reads deferred behind
   * them) → the write step they wait for. A read using one of them is deferred (see steps/read.ts `deferRead`).
   */
  readonly unperformed = new Map<string, string>();
  /** Reads shown as deferred in the plan: they use results of writes that did not run (`<after step mk>`). */
  readonly deferred: { step: string; method: string; after: string }[] = [];
  requests = 0;
  checksDone = false;
  blocked = false;
  failed?: string;
  /** Set when a step ended `uncertain` (a create's answer was lost): what to do; the run stops there. */
  uncertain?: string;
  /** Remaining execution order; steps that ran along with another (packed, fused) are taken out. */
  order: string[] = [];
  private base!: Record<string, unknown>;
  /** This run's journaled writes by key (resume). */
  writeLog = new Map<string, WriteEntry>();
  private maxListSize = 0;
  /** Signal of the running step: the run's signal, plus the step's `timeout` when it has one. */
  stepSignal?: AbortSignal;

  constructor(
    readonly program: Program,
    readonly o: ExecutionOptions,
    readonly inputs: Record<string, unknown>,
    readonly run: RunRecord,
    readonly journal: Journal | undefined,
    readonly prefix = '',
    readonly idem?: IdempotencyStore,
  ) {
    this.catalog = program.catalog;
    this.ev = new Evaluator({ timezone: this.p.pipeline.timezone ?? o.timezone, now: run.now });
    this.graph = program.graph;
  }

  /** The loaded pipeline. */
  get p() {
    return this.program.pipeline;
  }

  /** The effective catalog entry of a step of this pipeline (as compiled). */
  method(s: Step): StepMethod | undefined {
    return this.program.step(s.id)?.method;
  }

  /** Language of refusal reasons (the run's `lang`, default en). */
  lang(): 'en' | 'ru' {
    return this.o.lang ?? 'en';
  }

  /** Builds the expression context (inputs, steps, now, env, trigger) and, on resume, loads the journaled writes. */
  async init(): Promise<void> {
    const env: Record<string, string> = {};
    for (const n of this.p.pipeline.env ?? []) env[n] = this.o.env?.[n] ?? '';
    this.base = {
      inputs: this.ev.celValue(this.inputs),
      steps: this.celSteps,
      now: new Date(this.ev.now),
      env,
      trigger: this.ev.celValue(this.o.trigger ?? { kind: 'cli' }),
    };
    if (this.journal && this.o.resume) this.writeLog = await this.journal.loadWrites(this.run.runId);
  }

  /** The expression context: inputs, steps, now, env, trigger, plus `item`/`index` inside a foreach. */
  ctx(item?: { item: unknown; index: number }): Record<string, unknown> {
    if (!item) return this.base;
    return { ...this.base, item: this.ev.celValue(item.item), index: BigInt(item.index) };
  }

  /** The expression context outside a foreach. */
  get baseContext(): Record<string, unknown> {
    return this.base;
  }

  /** Largest list seen so far (for the expression cost cap), kept incrementally. */
  maxList(): number {
    return this.maxListSize;
  }

  /** Records a step's item count (list size, foreach length) for the plan's cost and the expression cost cap. */
  count(id: string, n: number) {
    this.itemCounts[id] = n;
    if (n > this.maxListSize) this.maxListSize = n;
  }

  /** Sets `steps.<id>.result` and evaluates the step's `outputs` (unknown ones read null in shadow/canary). */
  setResult(id: string, result: unknown, s: Step) {
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

  /** Updates a step's record in this execution and in the run record (ids prefixed inside sub-pipelines). */
  record(s: Step, patch: Partial<StepRecord>): StepRecord {
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
    if (rec?.method) this.record(s, ioSummary(s, rec, this.stepScope[s.id]?.result));
  }

  private async persist(): Promise<void> {
    if (this.journal) await this.journal.update(this.run);
  }

  /** Reports progress of a long step to `onProgress`. */
  progress(step: string, done: number, total: number) {
    this.o.onProgress?.({ step: this.prefix + step, done, total, requests: this.requests });
  }

  /**
   * Runs `fn` under the step's `timeout` (when it has one): the step's signal aborts after it, and the step fails
   * with "timed out" unless the whole run was aborted.
   */
  async withTimeout(s: Step, fn: (timeout: number | undefined) => Promise<void>): Promise<void> {
    const timeout = parseTimeout(s.timeout);
    if (timeout === undefined) return fn(timeout);
    const own = AbortSignal.timeout(timeout);
    this.stepSignal = this.o.signal ? AbortSignal.any([this.o.signal, own]) : own;
    try {
      return await fn(timeout);
    } catch (err) {
      if (own.aborted && !this.o.signal?.aborted)
        throw new RuntimeFailure(`step "${s.id}" timed out after ${s.timeout}`);
      throw err;
    } finally {
      this.stepSignal = undefined;
    }
  }

  /** The signal for requests of the running step. */
  get signal(): AbortSignal | undefined {
    return this.stepSignal ?? this.o.signal;
  }

  /** Batch (or single calls when batching is off); returns per-key result/error (see send.ts). */
  send(cmds: [string, BatchCommand][], opts: SendOptions = {}): Promise<CallAnswers> {
    return sendCommands(this, cmds, opts);
  }

  /** The step of an id of this pipeline. */
  stepById(id: string): Step {
    return this.program.step(id)!.step;
  }

  /** True when every dependency of `id` finished with status done. */
  depsDone(id: string): boolean {
    return [...(this.graph.deps.get(id) ?? [])].every((d) => this.steps.get(d)?.status === 'done');
  }

  /** Runs the pipeline's steps in the compiled order. */
  async execute(): Promise<void> {
    this.order = [...this.program.order];
    const order = this.order;
    for (let oi = 0; oi < order.length; oi++) {
      if (this.o.signal?.aborted) throw new RuntimeFailure('run aborted');
      const cs = this.program.step(order[oi]!)!;
      const s = cs.step;
      if (this.failed || this.blocked || this.uncertain) {
        this.record(s, {
          status: 'skipped',
          reason: this.failed
            ? 'an earlier step failed'
            : this.blocked
              ? 'a check blocked the run'
              : 'an earlier step is uncertain',
        });
        continue;
      }
      // resume: completed steps come back from the journal
      const prev = this.o.resume?.steps[this.prefix + s.id];
      // a step skipped because an earlier one was uncertain runs now that the resume reconciles that one
      const restorable =
        prev?.status === 'done' ||
        prev?.status === 'refused' ||
        (prev?.status === 'skipped' && prev.reason !== 'an earlier step is uncertain');
      if (prev && restorable) {
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
      const blockedBy = cs.deps.find((d) => {
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
      const m = cs.method;
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
        await this.runStep(cs);
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
      await this.afterStep(s);
      await this.persist();
    }
    if (!this.checksDone) await this.runChecks();
  }

  /** Runs one step through its kind; steps that ran along with it leave the remaining order. */
  private async runStep(cs: CompiledStep): Promise<void> {
    if (cs.method?.risk === 'read' && (await reusePlanRead(this, cs.step))) return; // taken from the plan just made
    const along = await STEP_KINDS[cs.kind](this, cs);
    for (const id of along ?? []) this.order.splice(this.order.indexOf(id), 1);
  }

  /** After a failed step: its `on_error` handler, `continue`, or the run fails. */
  async afterStep(s: Step) {
    const rec = this.steps.get(s.id)!;
    if (rec.status !== 'failed' && !(rec.status === 'partial' && rec.failed)) return;
    const onError = s.on_error ?? 'fail';
    if (onError === 'continue') return;
    const handler = onError !== 'fail' ? this.program.step(onError) : undefined;
    if (handler) {
      const h = handler.step;
      this.setResult(s.id, { errors: rec.errors ?? [] }, s);
      const hm = handler.method;
      this.record(h, { status: 'running', startedAt: new Date().toISOString() });
      if (hm) await methodStep(this, h, hm);
      const hr = this.steps.get(h.id)!;
      if (hr.status === 'running') this.record(h, { status: 'done', finishedAt: new Date().toISOString() });
      return;
    }
    this.failed = `step "${s.id}" failed: ${rec.errors?.[0]?.message ?? rec.reason ?? 'error'}`;
  }

  /** Why a write step may not run in this run (mode, confirmations, trigger), or undefined. */
  refusal(s: Step, m: StepMethod, lang?: 'en' | 'ru'): string | undefined {
    return refusalReason(
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

  /** Saves a step's result to the journal (resume restores it instead of running the step again). */
  async saveResult(s: Step, result: unknown) {
    if (!this.journal) return;
    await this.journal.saveStepResult(this.run.runId, this.prefix + s.id, result);
    this.record(s, { hasResult: true });
  }

  /** Resolves params (object or positional list) and maps named params to positional order when needed. */
  resolveParams(s: Step, m: StepMethod, ctx: Record<string, unknown>): unknown {
    const v = s.params === undefined ? {} : this.ev.resolve(s.params, ctx, this.maxList());
    if (m.positional && v && typeof v === 'object' && !Array.isArray(v)) {
      const rec = v as Record<string, unknown>;
      return (m.params ?? []).map((p) => fieldOf(rec, p.name) ?? null);
    }
    return v;
  }

  /** The list a `foreach` step fans out over. @throws RuntimeFailure when the expression is not a list */
  foreachItems(s: Step): unknown[] {
    const v = this.ev.evaluate(expressionBody(s.foreach!).expr, this.base, this.maxList());
    if (v === null || v === undefined) return [];
    if (!Array.isArray(v)) throw new RuntimeFailure(`step "${s.id}": foreach is not a list`);
    return v;
  }

  /** A child execution for a recipe or sub-pipeline step: shares the run, the journal and the idempotency store. */
  child(program: Program, inputs: Record<string, unknown>, prefix: string): Execution {
    const c = new Execution(program, this.o, inputs, this.run, this.journal, prefix, this.idem);
    c.ev.budget = this.ev.budget; // one expression budget per run, sub-pipelines and recipes included
    return c;
  }

  /** Idempotency scope of a step's keyed writes: portal | pipeline | step. */
  scopeOf(s: Step): string {
    return `${this.o.client.portal?.id ?? 'portal'}|${this.p.pipeline.name}|${this.prefix}${s.id}`;
  }
}
