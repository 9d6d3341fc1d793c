/**
 * Approval requests: a run whose writes need a person stores its plan and one request per group of writes (per
 * record owner with `approvers.record_owner`), and waits. Each request is bound to the content of its writes (`hash`)
 * and sealed (HMAC with the store's plan key) so that a changed row is refused; it is decided by distinct approvers
 * and then applied once (see ./service.ts for the state machine).
 */
import { InvalidInputError } from '../../lib/failures.js';

/**
 * State of a request. pending → applying → applied | failed; pending → rejected | expired; applying → superseded
 * (the data drifted: a new request asks again). Only `pending` takes decisions.
 */
export type ApprovalState = 'pending' | 'applying' | 'applied' | 'failed' | 'rejected' | 'expired' | 'superseded';

/** States a request never leaves. */
export const FINAL_STATES: readonly ApprovalState[] = ['applied', 'failed', 'rejected', 'expired', 'superseded'];

/** Where a decision was made. */
export type DecisionChannel = 'telegram' | 'http' | 'cli' | 'console';

/** One approver's decision on a request. */
export interface ApprovalDecision {
  /** Bitrix24 user id of the approver. */
  by: string;
  decision: 'approve' | 'reject';
  via: DecisionChannel;
  /** For approvals of destructive requests: the second, explicit confirmation was given. */
  destructiveConfirmed?: boolean;
  reason?: string;
  /** ISO time. */
  at: string;
}

/** The sealed content of a request (what approvers decide on). */
export interface ApprovalRequest {
  /** `a` + 24 hex digits. */
  id: string;
  /** The run that asked (its journal record has status `awaiting_approval` until its requests settle). */
  runId: string;
  pipeline: { name: string; file?: string };
  /** The portal (member_id or host) the plan was made on. */
  portal?: string;
  /** The sealed plan in the plan store (its lifetime is the request's). */
  planId: string;
  /** The writes this request covers, as `<step>#<key>` (`writeId`). */
  writes: string[];
  /** Hash of those writes as planned (method, params, before → after, owner): what the approvers saw. */
  hash: string;
  /** The group: the record owner whose records these writes touch, when grouped by owner. */
  owner?: string;
  /** Bitrix24 user ids who may approve (the starter of the run excluded). */
  approvers: string[];
  /** Distinct approvals needed. */
  min: number;
  /** Bitrix24 user who started the run (chat, HTTP): never an approver of it. */
  startedBy?: string;
  /** True when a write deletes data: each approval needs the second, explicit confirmation. */
  destructive: boolean;
  createdAt: string;
  expiresAt: string;
  /** The request this one asks again after the data drifted. */
  supersedes?: string;
}

/** A request as stored, with its state, decisions and outcome. */
export interface StoredApproval {
  request: ApprovalRequest;
  /** False when the row no longer matches its seal (changed outside b24flow): never decided nor applied. */
  verified: boolean;
  state: ApprovalState;
  decisions: ApprovalDecision[];
  /** The run that applied the request (`applied`, `failed`). */
  appliedRun?: string;
  /** Why it failed, was rejected, or which request superseded it. */
  note?: string;
  /** When the approvers were told (ms), undefined until a courier delivered it. */
  notifiedMs?: number;
  /** When the approvers were reminded of the coming expiry (ms). */
  remindedMs?: number;
  updatedMs: number;
}

/** Durable storage of approval requests (src/store/approvals.ts; a memory one in tests). */
export interface ApprovalStore {
  /**
   * Seals and inserts a new pending request; false (nothing inserted) when the same change — pipeline, portal and
   * hash — is pending already (two runs asking at once store one request).
   */
  create(req: ApprovalRequest): Promise<boolean>;
  /** The pending request of the same change as `req` (pipeline, portal, hash), if any. */
  pendingFor(req: ApprovalRequest): Promise<StoredApproval | undefined>;
  get(id: string): Promise<StoredApproval | undefined>;
  /** Requests, newest first; `state` filters, `runId` those of one run. */
  list(o?: { state?: ApprovalState[]; runId?: string; limit?: number }): Promise<StoredApproval[]>;
  /**
   * Records a decision while the request is `pending`: `recorded`, `duplicate` (this approver decided already),
   * `closed` (the request is no longer pending).
   */
  decide(id: string, d: ApprovalDecision): Promise<'recorded' | 'duplicate' | 'closed'>;
  /** Moves the request from one of `from` to `to` (race-free: false when another process moved it first). */
  transition(
    id: string,
    from: readonly ApprovalState[],
    to: ApprovalState,
    patch?: { appliedRun?: string; note?: string },
  ): Promise<boolean>;
  /** Marks a delivery (`asked`: the request was sent to its approvers; `reminded`: its expiry was announced). */
  markNotified(id: string, what: 'asked' | 'reminded'): Promise<boolean>;
}

/** Why a decision was refused; nothing was recorded nor written. */
export type ApprovalRefusalReason =
  | 'unknown'
  | 'tampered'
  | 'changed'
  | 'closed'
  | 'expired'
  | 'self'
  | 'not-approver'
  | 'no-edit-right'
  | 'unconfirmed'
  | 'duplicate'
  | 'portal';

/** A refused decision (exit 2 on the CLI, 403/409 on the HTTP API); nothing was recorded nor written. */
export class ApprovalRefused extends InvalidInputError {
  constructor(
    readonly reason: ApprovalRefusalReason,
    message: string,
  ) {
    super(message);
    this.name = 'ApprovalRefused';
  }
}

/** The shape of a request id. */
export const APPROVAL_ID = /^a[0-9a-f]{24}$/;
