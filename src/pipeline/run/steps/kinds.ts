/**
 * The step kinds, registered in one table: the compiled program (src/pipeline/compile) gives every step a kind,
 * the execution loop runs it through this table. Adding a kind = a module under steps/ and a line here.
 */
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

/** Runner per step kind. */
export const STEP_KINDS: Record<StepKind, StepRunner> = {
  /** `use:` recipes and `pipeline:` sub-pipelines. */
  subPipeline: subPipelineStep,
  /** `all: true` lists (fast export). */
  readAll: async (ex, cs) => {
    await methodStep(ex, cs.step, cs.method!);
    return undefined;
  },
  /** Single reads, packed with their compiled read group. */
  read: readStep,
  /** Fan-outs and writes (fused with the compiled partner when the run allows). */
  method: methodKind,
};
