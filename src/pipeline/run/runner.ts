/**
 * The interpreter's entry points: `runPipeline` (shadow, canary, full), `planPipeline` (a stored plan for `apply`)
 * and `resumeRun`. Each compiles the pipeline once (src/pipeline/compile) unless the caller passes the program,
 * then runs one {@link Execution} over it.
 */
import { InvalidInputError, RuntimeFailure } from '../../lib/failures.js';
import { type CatalogView, defaultCatalog } from '../catalog.js';
import { compile, type Program } from '../compile/program.js';
import { resolveInputs } from '../inputs.js';
import { type Journal, RUN_HEARTBEAT_MS, type RunRecord, type RunStatus } from '../journal.js';
import { type LoadedPipeline, loadPipelineObject } from '../load.js';
import type { RunMode } from '../modes.js';
import { summarize } from '../summary.js';
import { Execution } from './execution.js';
import { buildPlan, staticRefusals } from './plan.js';
import { newRunId } from './results.js';
import type { Plan, PlanOptions, RunOptions, RunResult, RunTrigger } from './types.js';

/** The compiled program of `p` for these options: the caller's, else compiled now (the catalog loaded once). */
async function programOf(p: LoadedPipeline, o: RunOptions): Promise<Program> {
  if (o.program && o.program.pipeline === p && o.program.batching === (o.batching !== false)) return o.program;
  return compile(p, o.catalog ?? o.program?.catalog ?? (await defaultCatalog()), { batching: o.batching });
}

async function execute(program: Program, o: RunOptions, mode: RunMode, journalOn: boolean) {
  const p = program.pipeline;
  const catalog = program.catalog;
  const inputs = o.resume ? o.resume.inputs : resolveInputs(p, o.inputs ?? {});
  // the caller chooses the store (src/cli passes the store's journal); none given: no journal
  const journal = journalOn ? o.journal || undefined : undefined;
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
  const idem = o.idempotency === false || mode === 'shadow' ? undefined : o.idempotency;
  const ex = new Execution(program, { ...o, mode, client: o.client }, inputs, run, journal, '', idem);
  await ex.init();
  let error: string | undefined;
  // other hosts take a running run whose heartbeat stopped as gone (its idempotency claims are then taken over)
  const beat = journal?.heartbeat
    ? setInterval(() => journal.heartbeat!(run.runId).catch(() => {}), RUN_HEARTBEAT_MS)
    : undefined;
  beat?.unref();
  try {
    await ex.execute();
  } catch (err) {
    if (err instanceof InvalidInputError) throw err;
    error = (err as Error).message;
  } finally {
    clearInterval(beat);
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
  else if (
    ex.uncertain ||
    steps.some((s) => s.status === 'partial' || s.status === 'refused' || s.status === 'uncertain')
  )
    status = 'partial';
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
  else if (ex.uncertain) run.error = ex.uncertain;
  else delete run.error; // a resumed run that got through keeps no reason of an earlier stop
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
  const program = await programOf(p, o);
  if (mode === 'full' && !o.resume) {
    const refused = staticRefusals(program, o);
    if (refused.length) {
      // one shadow pass: nothing is written, the plan shows what a confirmed run would do
      const { ex, run, error } = await execute(program, { ...o, journal: false }, 'shadow', false);
      const r = finish(ex, run, program.catalog, o, 'shadow', error);
      const plan = await buildPlan(ex, o);
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
  const { ex, run, journal, catalog, error } = await execute(
    program,
    o,
    mode,
    mode !== 'shadow' && o.journal !== false,
  );
  const r = finish(ex, run, catalog, o, mode, error);
  if (journal) await journal.update(run);
  if (mode === 'shadow') r.plan = await buildPlan(ex, o);
  return r;
}

/**
 * Runs the reads and resolves every write into a plan (nothing is written). With a plan `store` the plan is sealed
 * and stored with a TTL (30 min) for a single `applyPlan`; without one its id is a plain hash and it cannot be applied.
 * @throws InvalidInputError for bad inputs
 */
export async function planPipeline(p: LoadedPipeline, o: PlanOptions): Promise<Plan> {
  const program = await programOf(p, o);
  const { ex } = await execute(program, { ...o, mode: 'shadow', journal: false }, 'shadow', false);
  const plan = await buildPlan(ex, o);
  if (ex.failed) throw new RuntimeFailure(`cannot plan: ${ex.failed}`);
  const store = o.store || undefined;
  // saving seals the plan: its id becomes the keyed hash of its content
  if (store) plan.id = await store.save(plan, { pipeline: p.pipeline, file: p.file, path: p.path });
  if (o.withReads) Object.defineProperty(plan, 'reads', { value: ex.reads, enumerable: false });
  return plan;
}

/**
 * Continues a run that stopped (killed, crashed, failed): completed steps are not repeated, completed writes are
 * skipped by key, uncertain legacy CRM creates are looked up by ORIGIN_ID. `journal` is the one the run was
 * recorded in (the store's).
 * @throws InvalidInputError when the run does not exist or already completed
 */
export async function resumeRun(
  runId: string,
  o: Omit<RunOptions, 'resume' | 'mode' | 'inputs' | 'journal'> & { journal: Journal },
): Promise<RunResult> {
  const journal = o.journal;
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
