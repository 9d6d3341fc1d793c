/** Approval requests (see service.ts for the state machine). */
export { PortalDirectory, type PortalUser } from './directory.js';
export { type ApproversSpec, DEFAULT_EXPIRES_MS, expiresInMs, groupHash, groupWrites } from './groups.js';
export { ApprovalService, type ApprovalServiceOptions, type AskResult, type DecisionResult } from './service.js';
export { addTrail, trailText } from './trail.js';
export {
  APPROVAL_ID,
  type ApprovalDecision,
  type ApprovalRefusalReason,
  ApprovalRefused,
  type ApprovalRequest,
  type ApprovalState,
  type ApprovalStore,
  type DecisionChannel,
  FINAL_STATES,
  type StoredApproval,
} from './types.js';
export { approvalLines } from './words.js';
