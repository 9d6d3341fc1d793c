/**
 * The tables of the store, as Kysely types (one schema for SQLite and PostgreSQL; see ./migrations.ts for the DDL).
 *
 * Conventions, so one query works on both dialects: times are Unix milliseconds in `bigint`-safe integer columns
 * (`*_ms`), documents are JSON text (`*_json`; the store parses them), booleans are 0/1 integers. Every table that
 * grows carries a time column that retention (`b24flow gc`) deletes by.
 */
import type { Generated } from 'kysely';

/** A pipeline run: its record (RunRecord JSON without its steps) and the columns history queries filter and sort by. */
export interface RunsTable {
  run_id: string;
  pipeline: string;
  status: string;
  mode: string | null;
  /** Host and pid of the process that runs it (a `running` run whose owner is gone reads `interrupted`). */
  owner_json: string | null;
  started_ms: number;
  updated_ms: number;
  finished_ms: number | null;
  record_json: string;
}

/** One step of a run (the step part of the RunRecord, queryable). */
export interface RunStepsTable {
  run_id: string;
  step_id: string;
  /** Position in the run's step list. */
  ord: number;
  status: string;
  method: string | null;
  record_json: string;
}

/** A step's result, kept for resume (a sub-pipeline's or fan-out's value). */
export interface StepResultsTable {
  run_id: string;
  step_id: string;
  value_json: string;
}

/** The write log of a run: latest state per `<step>#<key>` (intent → done | failed). */
export interface RunWritesTable {
  run_id: string;
  write_key: string;
  step_id: string;
  state: string;
  result_json: string | null;
  error: string | null;
  origin: string | null;
  at_ms: number;
}

/** Keyed writes across runs: scope = portal + pipeline + step; claimed by a run, then done with its result. */
export interface IdempotencyTable {
  scope: string;
  idem_key: string;
  /** `claimed` (a run is writing it) or `done`. */
  state: Generated<string>;
  /** The run that claimed it (run id). */
  holder: string | null;
  result_json: string | null;
  at_ms: number;
}

/** Sealed plans waiting for `apply` (and approvals, later). */
export interface PlansTable {
  plan_id: string;
  body_json: string;
  created_ms: number;
  /** After this the plan is refused as expired (and `gc` deletes it). */
  expires_ms: number;
  used_ms: number | null;
}

/** Small named values shared by every process on the store (the plan seal key, the serve lease...). */
export interface SettingsTable {
  name: string;
  value: string;
  updated_ms: number;
}

/** Accepted events not yet processed (intake): stored before the portal gets its answer. */
export interface EventsTable {
  event_id: string;
  event_key: string;
  body_json: string;
  attempts: number;
  /** Not before this time (retry backoff), ms. */
  due_ms: number;
  /** Lease of the worker processing it (null: free); another worker may claim it once `lease_until_ms` passed. */
  leased_by: string | null;
  lease_until_ms: number | null;
  /** Reason of the last failed attempt. */
  last_error: string | null;
  first_seen_ms: number;
}

/** The offline worker's state (process ids holding its reservations, attempts of failed rows), by worker name. */
export interface OfflineSyncTable {
  name: string;
  state_json: string;
  updated_ms: number;
}

/** Keys of events whose pipelines ran: the same event delivered again is skipped. */
export interface ProcessedEventsTable {
  event_key: string;
  at_ms: number;
}

/**
 * The dead-letter queue: events that failed every attempt, one row per event key; `body_json` is the whole entry
 * (src/triggers/dlq.ts `DeadLetter`), the other columns are copies for queries. Never deleted by retention.
 */
export interface DeadLettersTable {
  letter_id: string;
  event_key: string;
  body_json: string;
  attempts: number;
  error: string;
  first_seen_ms: number;
  last_seen_ms: number;
}

/** OAuth tokens per portal (member_id), encrypted at rest (AES-256-GCM with the local key). */
export interface TokensTable {
  member_id: string;
  sealed: string;
  updated_ms: number;
}

/** The chat agent's state per user. */
export interface AgentStateTable {
  user_id: string;
  state_json: string;
  updated_ms: number;
}

/**
 * Cron slots claimed: the first process to insert (schedule, slot) runs it, every other one skips it. The newest
 * row of a schedule is its last-fired time (`missed: catch-up-once` after downtime).
 */
export interface ScheduleSlotsTable {
  /** `<pipeline>#<trigger index>`. */
  schedule_id: string;
  /** The slot (the cron time), Unix ms. */
  slot_ms: number;
  pipeline: string;
  /** `host:pid` of the claiming process (`missed` for a slot skipped after downtime). */
  claimed_by: string;
  run_id: string | null;
  at_ms: number;
}

/** The schedule log: one row per decision (started, finished, failed, skipped, missed, queued, cancelled). */
export interface ScheduleLogTable {
  log_id: string;
  at_ms: number;
  pipeline: string;
  scheduled_ms: number;
  what: string;
  /** The whole ScheduleLogLine (src/triggers/scheduleSlots.ts). */
  line_json: string;
}

/** The limiter of one portal, shared by every process and machine: token bucket and learned limits. */
export interface LimiterTable {
  portal: string;
  /** Tokens in the bucket at `updated_ms` (requests). */
  tokens: number;
  updated_ms: number;
  /** Learned state (drain rate, bucket size, per-method operating budget, 503 back-off) as JSON. */
  state_json: string;
}

/** Named leases (one `serve` scheduler per store, worker heartbeats). */
export interface LeasesTable {
  name: string;
  holder: string;
  until_ms: number;
}

/** A chat user linked to a Bitrix24 user (`/link`); one link per chat user (migration `0002_chat_links`). */
export interface ChatLinksTable {
  /** The chat-level user id, `tg:123456` or `api:…`. */
  chat_user_id: string;
  bitrix_user_id: string;
  /** The portal the Bitrix24 user belongs to: `member_id` (OAuth) or the webhook's host; `''` when unknown. */
  portal: Generated<string>;
  linked_ms: number | null;
}

/** A pending one-time link code: only its SHA-256, bound to the chat user who asked for it. */
export interface LinkCodesTable {
  code_hash: string;
  chat_user_id: string;
  bitrix_user_id: string;
  portal: string | null;
  expires_ms: number | null;
}

/** Every table of the store. */
/** Approval requests (src/store/approvals.ts): the sealed request, its state and outcome, delivery marks. */
export interface ApprovalsTable {
  approval_id: string;
  run_id: string;
  pipeline: string;
  state: string;
  request_json: string;
  /** HMAC-SHA256 (hex) of the canonical request under the store's plan key. */
  seal: string;
  applied_run: string | null;
  note: string | null;
  created_ms: number;
  expires_ms: number;
  updated_ms: number;
  notified_ms: number | null;
  reminded_ms: number | null;
  /** `<pipeline>|<portal>|<hash>`: unique among pending requests. */
  change_key: string;
}

/** One decision per approver and request (the primary key makes approvers distinct). */
export interface ApprovalDecisionsTable {
  approval_id: string;
  user_id: string;
  decision: string;
  via: string;
  confirmed_destructive: number;
  reason: string | null;
  at_ms: number;
}

/** A web console session (the cookie's SHA-256), its Bitrix24 user (none: read-only) and CSRF token. */
export interface ConsoleSessionsTable {
  session_hash: string;
  user_id: string | null;
  csrf: string;
  created_ms: number;
  expires_ms: number;
}

/** A one-time sign-in link of the web console (the token's SHA-256), issued by the bot for a linked user. */
export interface ConsoleLinksTable {
  token_hash: string;
  user_id: string;
  expires_ms: number;
}

/** One version of a saved pipeline (src/store/savedPipelines.ts). */
export interface SavedPipelinesTable {
  name: string;
  version: number;
  body: string;
  hash: string;
  author: string | null;
  saved_ms: number;
  disabled: number;
}

export interface StoreSchema {
  runs: RunsTable;
  run_steps: RunStepsTable;
  step_results: StepResultsTable;
  run_writes: RunWritesTable;
  idempotency: IdempotencyTable;
  plans: PlansTable;
  settings: SettingsTable;
  events: EventsTable;
  offline_sync: OfflineSyncTable;
  processed_events: ProcessedEventsTable;
  dead_letters: DeadLettersTable;
  tokens: TokensTable;
  agent_state: AgentStateTable;
  schedule_slots: ScheduleSlotsTable;
  schedule_log: ScheduleLogTable;
  limiter: LimiterTable;
  leases: LeasesTable;
  approvals: ApprovalsTable;
  approval_decisions: ApprovalDecisionsTable;
  console_sessions: ConsoleSessionsTable;
  console_links: ConsoleLinksTable;
  saved_pipelines: SavedPipelinesTable;
  chat_links: ChatLinksTable;
  link_codes: LinkCodesTable;
}

/** An auto-increment column, for tables that get one later. */
export type Serial = Generated<number>;
