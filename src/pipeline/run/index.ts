/** The interpreter (see runner.ts, execution.ts and steps/). */
export { type ApplyOptions, applyPlan } from './apply.js';
export { Execution, type ExecutionOptions } from './execution.js';
export { ownerOf, planTtlMs, touchedRecord } from './plan.js';
export { newPlanKey, PLAN_KEY_BYTES, planNonce, type SealedContent, sealedPlanId, verifySeal } from './planSeal.js';
export {
  MemoryPlanStore,
  PLAN_ID,
  PlanRefused,
  type PlanStore,
  type PlanStoreLike,
  type StoredPlan,
} from './planStore.js';
export { compactResult, rowsOf } from './results.js';
export { planPipeline, resumeRun, runPipeline } from './runner.js';
export type {
  Plan,
  PlannedWrite,
  PlanOptions,
  ProgressEvent,
  RunOptions,
  RunResult,
  RunTrigger,
} from './types.js';
export { writeId } from './types.js';
