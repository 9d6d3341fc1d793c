/**
 * `use:` (a catalog recipe) and `pipeline:` (another pipeline file) steps: a child execution of the compiled
 * sub-program with the step's `with:` values as inputs; its writes, refusals, checks, reads and requests join the
 * run, its `outputs` become the step's result.
 */
import { InvalidInputError, RuntimeFailure } from '../../../lib/failures.js';
import { type CompiledStep, compile, type Program } from '../../compile/program.js';
import { recipePipeline, subPipelinePath } from '../../expand.js';
import { resolveInputs } from '../../inputs.js';
import { loadPipelineFile } from '../../load.js';
import type { Execution } from '../execution.js';

/** The sub-program: compiled with the parent, else (it could not be loaded statically) loaded now, failing. */
async function subProgram(ex: Execution, cs: CompiledStep): Promise<Program> {
  if (cs.sub) return cs.sub;
  const s = cs.step;
  if (s.use) {
    const r = ex.catalog.recipe?.(s.use);
    if (!r) throw new InvalidInputError(`${ex.p.file}: unknown recipe "${s.use}" in step "${s.id}"`);
    return compile(recipePipeline(r), ex.catalog, { batching: ex.program.batching });
  }
  return compile(await loadPipelineFile(subPipelinePath(ex.p, s)), ex.catalog, { batching: ex.program.batching });
}

/** Runs a recipe or sub-pipeline step. @throws InvalidInputError for an unknown recipe or unreadable file */
export async function subPipelineStep(ex: Execution, cs: CompiledStep): Promise<string[]> {
  const s = cs.step;
  const program = await subProgram(ex, cs);
  const sub = program.pipeline;
  const withValues = (s.with ? ex.ev.resolve(s.with, ex.baseContext, ex.maxList()) : {}) as Record<string, unknown>;
  const inputs = resolveInputs(sub, withValues);
  const child = ex.child(program, inputs, `${ex.prefix}${s.id}.`);
  await child.init();
  await child.execute();
  ex.writes.push(...child.writes);
  ex.refusals.push(...child.refusals);
  ex.checks.push(...child.checks);
  ex.requests += child.requests;
  Object.assign(ex.reads, Object.fromEntries(Object.entries(child.reads).map(([k, v]) => [`${s.id}.${k}`, v])));
  let outputs: Record<string, unknown> = {};
  if (sub.pipeline.outputs) {
    try {
      outputs = child.ev.resolve(sub.pipeline.outputs, child.baseContext, 0) as Record<string, unknown>;
    } catch (err) {
      // shadow/canary: outputs that depend on writes not executed stay unknown
      if (ex.o.mode === 'full') throw err;
      outputs = Object.fromEntries(Object.keys(sub.pipeline.outputs).map((k) => [k, `⟨${s.id}.${k}⟩`]));
    }
  }
  if (child.failed) throw new RuntimeFailure(child.failed);
  ex.setResult(s.id, outputs, s);
  ex.record(s, { items: 1, done: 1 });
  return [];
}
