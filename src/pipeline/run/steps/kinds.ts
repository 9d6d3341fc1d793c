/**
 * The step kinds, registered in one table: the compiled program (src/pipeline/compile) gives every step a kind,
 * the execution loop runs it through this table. Adding a kind = a module under steps/ and a line here.
 */
import { assertStructuredBatch } from '../../batchStep.js';
import type { CompiledStep, StepKind } from '../../compile/program.js';
import type { Execution } from '../execution.js';
import { methodKind, methodStep } from './method.js';
import { readStep } from './read.js';
import { subPipelineStep } from './subPipeline.js';

/**
 * Runs one step of a kind; returns the ids of later steps it ran along (packed reads) that the loop must drop from
 * the remaining order, or nothing.
 */
export type StepRunner = (ex: Execution, cs: CompiledStep) => Promise<string[] | undefined>;

/**
 * A method runner that first refuses a `batch` step (any `risk_from_commands` method) whose commands are not
 * structured, before anything is resolved or sent: the run-time half of the `batch-command` check.
 */
const guarded =
  (run: StepRunner): StepRunner =>
  (ex, cs) => {
    if (cs.method?.risk_from_commands) assertStructuredBatch(ex.prefix + cs.step.id, cs.step.params);
    return run(ex, cs);
  };

/** Runner per step kind. */
export const STEP_KINDS: Record<StepKind, StepRunner> = {
  /** `use:` recipes and `pipeline:` sub-pipelines. */
  subPipeline: subPipelineStep,
  /** `all: true` lists (fast export). */
  readAll: guarded(async (ex, cs) => {
    await methodStep(ex, cs.step, cs.method!);
    return undefined;
  }),
  /** Single reads, packed with their compiled read group. */
  read: guarded(readStep),
  /** Fan-outs and writes (fused with the compiled partner when the run allows). */
  method: guarded(methodKind),
};
