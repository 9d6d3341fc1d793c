/**
 * b24flow pipelines: the public API used by the CLI, the trigger service (src/triggers) and the chat side
 * (src/agent, src/adapters). Shapes: see each module.
 */

export * from './approvals/index.js';
export { type CatalogView, catalogFrom, defaultCatalog, type MethodInfo } from './catalog.js';
export { type CheckedFile, type CheckFilesOptions, type CheckFilesResult, checkFiles } from './check/files.js';
export { type CheckContext, checkPipeline, hasErrors, type PortalFacts, type Rule, rules } from './check/index.js';
export type { PipelineBatchAnswer, PipelineClient } from './client.js';
export {
  type BatchGroup,
  type CompiledStep,
  type CompileOptions,
  type Confirmation,
  chunked,
  compile,
  type FusedPair,
  type Program,
  type ProgramJson,
  programJson,
  programMermaid,
  type StepKind,
} from './compile/index.js';
export { type CostEstimate, estimateCost } from './cost.js';
export { Evaluator, formatDateTime } from './expr.js';
export { duplicateGroups, duplicatePairs, normalizePhone } from './exprDuplicates.js';
export { type IdempotencyStore, type KeyClaim, MemoryIdempotencyStore } from './idempotency.js';
export { coerceInput, parseInputFlags, resolveInputs } from './inputs.js';
export {
  asSeen,
  currentOwner,
  dataDir,
  type Journal,
  MemoryJournal,
  ownerGone,
  RUN_HEARTBEAT_MS,
  RUN_STALE_MS,
  type RunListOptions,
  type RunOwner,
  type RunRecord,
  type RunStatus,
  type StepRecord,
  type WriteEntry,
} from './journal.js';
export {
  canonicalJson,
  hashOf,
  type LoadedPipeline,
  loadPipelineFile,
  loadPipelineObject,
  loadPipelineText,
  type Pipeline,
  type Step,
} from './load.js';
export { isSafeCreate, type RunMode, refusalReason } from './modes.js';
export { type NameRefs, PlanNames, type PlanNamesOptions, type RecordRef } from './planNames.js';
export { describeWrites, KIND_OF_TYPE } from './planWords.js';
export {
  type ApplyOptions,
  applyPlan,
  MemoryPlanStore,
  newPlanKey,
  PLAN_ID,
  PLAN_KEY_BYTES,
  type Plan,
  type PlannedWrite,
  type PlanOptions,
  PlanRefused,
  type PlanStore,
  type PlanStoreLike,
  type ProgressEvent,
  planNonce,
  planPipeline,
  planTtlMs,
  type RunOptions,
  type RunResult,
  type RunTrigger,
  resumeRun,
  runPipeline,
  type SealedContent,
  type StoredPlan,
  sealedPlanId,
  verifySeal,
  writeId,
} from './run/index.js';
export * from './saved.js';
export { donePhrase, summarize, userLanguage } from './summary.js';
export {
  approvesWrite,
  isInteractive,
  pipelineEvents,
  pipelineTriggers,
  triggerApprovesWrite,
  triggerKind,
} from './triggers.js';
