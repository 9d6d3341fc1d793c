/** The compile step (see program.ts). */
export {
  BATCH_SIZE,
  BATCH_SYNTAX,
  canLeadReads,
  chunked,
  containsBatchSyntax,
  isPackableRead,
  LEGACY_CRM_ADD,
} from './batches.js';
export { type ProgramJson, programJson, programMermaid, type StepJson } from './describe.js';
export { type FusedPair, fusedPartner } from './fusion.js';
export {
  type BatchGroup,
  type CompiledStep,
  type CompileOptions,
  type Confirmation,
  compile,
  type Program,
  type StepKind,
} from './program.js';
