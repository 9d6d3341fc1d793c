/**
 * The shapes of runs and plans: options, planned writes, plans, results.
 */

import type { CatalogView } from '../catalog.js';
import type { PipelineClient } from '../client.js';
import type { Program } from '../compile/program.js';
import type { CostEstimate } from '../cost.js';
import type { IdempotencyStore } from '../idempotency.js';
import type { Journal, RunRecord, RunStatus, StepRecord } from '../journal.js';
import type { RunMode } from '../modes.js';
import type { PlanStoreLike } from './planStore.js';

/** What started a run. `kind` decides whether a person can confirm (cli, chat, api) or not (schedule, event). */
export interface RunTrigger {
  kind: 'cli' | 'schedule' | 'event' | 'chat' | 'api' | 'approval';
  [k: string]: unknown;
}

/** Progress of a long step: `done` of `total` items (calls), after each request. */
export interface ProgressEvent {
  step: string;
  done: number;
  total: number;
  requests: number;
}

/** Options of {@link runPipeline}. */
export interface RunOptions {
  client: PipelineClient;
  inputs?: Record<string, unknown>;
  /** Default shadow (plan only). */
  mode?: RunMode;
  confirmWrite?: boolean;
  confirmDestructive?: boolean;
  /**
   * Where the run is recorded (src/cli passes the store's journal, src/store/journal.ts); absent or false: not
   * recorded (no `runs` entry, no resume).
   */
  journal?: Journal | false;
  trigger?: RunTrigger;
  onProgress?: (e: ProgressEvent) => void;
  signal?: AbortSignal;
  catalog?: CatalogView;
  /** Pack reads and fan-outs into batch requests (default true). */
  batching?: boolean;
  /** Fixed "now" (ms since epoch); apply and resume reuse the plan's/run's instant. */
  now?: number;
  /** Summary and refusal language (default en; the CLI passes `userLanguage(process.env)`). */
  lang?: 'en' | 'ru';
  /**
   * Values of the variables the pipeline's `env:` allow-list names (missing ones read as ""); the caller passes them
   * (the CLI passes `process.env`). Default: none.
   */
  env?: Readonly<Record<string, string | undefined>>;
  /** Time zone of a pipeline that sets no `timezone` (default UTC; the CLI passes `B24FLOW_TZ`). */
  timezone?: string;
  /** Lifetime of a plan in ms (default 30 minutes; the CLI passes `B24FLOW_PLAN_TTL_MS`). */
  planTtlMs?: number;
  /** The compiled program of `p` when the caller compiled it already (compiled again when absent). */
  program?: Program;
  verbose?: boolean;
  /**
   * Cross-run memory and claims of keyed writes (steps with `idempotency_key`): src/cli passes the store's
   * (src/store/idempotency.ts). Absent or false: none (keys are then only reconciled with the portal).
   */
  idempotency?: IdempotencyStore | false;
  /** Internal: continue this run record (resume). */
  resume?: RunRecord;
  /**
   * Who plans or applies (`chat:<user>`, `api:<key digest>`; none for the command line and the library): a plan is
   * stored with its principal and only the same principal may apply it.
   */
  principal?: string;
  /** Internal: id of the plan being applied. */
  planId?: string;
  /**
   * The writes people approved, as `<step>#<key>` ({@link writeId}): when set, a write not in it is not sent (it is
   * listed with `refused: 'not approved'`), whatever the confirmations say. An approved request's run passes its
   * writes (src/pipeline/approvals); absent: every confirmed write runs.
   */
  approvedWrites?: ReadonlySet<string>;
  /**
   * Results of the reads of a plan made just before with the same inputs and `now` ({@link Plan.reads}, from
   * `planPipeline(..., { withReads: true })`). A top-level read step that depends on no write (nor recipe or
   * sub-pipeline) is taken from here instead of being sent again; reads downstream of a write are always sent.
   */
  planReads?: Record<string, unknown>;
}

/** The identity of a planned write across plan and run: `<step>#<key>` (the key: `idempotency_key`, else the item index). */
export function writeId(w: { step: string; key: string }): string {
  return `${w.step}#${w.key}`;
}

/** One resolved write: exact method and params, the step and item it comes from, and the diff for updates. */
export interface PlannedWrite {
  step: string;
  item?: number;
  key: string;
  method: string;
  entity: string;
  risk: 'write' | 'destructive';
  params: unknown;
  /** Risk fields of the method that this write sets. */
  riskFields: string[];
  /** Field-level before → after for updates (after a plan read the record). */
  diff?: { field: string; before: unknown; after: unknown }[];
  /** Why the write will not be executed in this mode, when refused. */
  refused?: string;
  /** Set when params depend on results of earlier writes and are shown with placeholders. */
  pending?: boolean;
  /**
   * Bitrix24 user id of the touched record's owner (ASSIGNED_BY_ID, a task's RESPONSIBLE_ID) as the plan read it, or
   * the one a create's fields name; absent when unknown. Approvals by `record_owner` group writes by it.
   */
  owner?: string;
  /** The CRM record an update or delete touches (its trail comment goes there after an approved run). */
  record?: { entityTypeId: number; id: string };
}

/**
 * A plan: every write resolved, its risk, the cost. `id`: for a stored plan, the keyed hash of its content (see
 * run/planSeal.ts); for one that is not stored, a plain hash of the pipeline, the writes and the state read.
 */
export interface Plan {
  id: string;
  pipeline: { name: string; file?: string; hash: string };
  createdAt: string;
  expiresAt: string;
  writes: PlannedWrite[];
  /**
   * Reads not sent while planning because they use results of writes that only a run makes (read after write):
   * `after` is the write step; `run` sends them after it. Absent when none.
   */
  deferred?: { step: string; method: string; after: string }[];
  /** Highest risk among the writes: none | write | destructive. */
  risk: 'none' | 'write' | 'destructive';
  riskFields: string[];
  cost: CostEstimate & { batchRequests: number; wallSeconds: number; text: string };
  stateHash: string;
  checks: { message: string; ok: boolean; behavior: 'block' | 'warn' }[];
  inputs: Record<string, unknown>;
  now: number;
  portal?: string;
  /** Who made the plan ({@link RunOptions.principal}); only they may apply it. */
  principal?: string;
  /** Results of the plan's reads by step id; only with `planPipeline(..., { withReads: true })`, never stored. */
  reads?: Record<string, unknown>;
}

/** Result of a run. `steps` in execution order; `summary` per language. */
export interface RunResult {
  runId: string;
  status: RunStatus;
  mode: RunMode;
  pipeline: string;
  steps: (StepRecord & { results?: unknown[] })[];
  summary: { en: string[]; ru: string[] };
  writes: PlannedWrite[];
  refusals: { step: string; reason: string }[];
  checks: { message: string; ok: boolean; behavior: 'block' | 'warn' }[];
  /** Present when the run only planned (shadow, or refused full run). */
  plan?: Plan;
  requests: number;
  /** The pipeline's `outputs`, evaluated at the end (reports of read-only pipelines). */
  outputs?: Record<string, unknown>;
  error?: string;
}

/** Options of {@link planPipeline}. */
export interface PlanOptions extends Omit<RunOptions, 'mode'> {
  /**
   * Where to store the plan for `apply` (src/cli passes the store's, src/store/plans.ts); absent or false: not
   * stored (its id is then a plain hash that `apply` does not know).
   */
  store?: PlanStoreLike | false;
  /** Attach the read results (`plan.reads`) for a run that follows at once (`RunOptions.planReads`). */
  withReads?: boolean;
}
