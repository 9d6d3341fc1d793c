import type { Recipe } from '../catalog/index.js';
import type { Finding } from '../lib/failures.js';
import type { SavedPipelineStore } from '../pipeline/index.js';
import type { BitrixUserView } from './links.js';
import type { SampleEvent } from './sampleEvent.js';

/**
 * What the chat side needs from the rest of b24flow (catalog, pipeline checker/planner/runner, journal, DLQ),
 * as one small port. The default implementation ({@link ./runtime.ts}) wires the real modules; tests and the
 * concurrency bench may pass a stub. Keeping the port narrow lets the planner, the bot and the HTTP API stay
 * independent of the internals of those modules.
 */
export interface ChatEngine {
  catalog: CatalogView;
  /**
   * The shipped pipeline documents (parsed `pipelines/*.yaml`) the planner draws its prompt examples from;
   * optional (stubs have none).
   */
  examples?(): Promise<Record<string, unknown>[]>;
  /** Named pipelines available to chat users (from the pipelines directory). */
  pipelines(): Promise<NamedPipeline[]>;
  /**
   * Validates a pipeline object (planner JSON or a named pipeline) and runs every checker rule.
   * @returns the loaded pipeline handle (opaque) and the findings (errors block planning)
   */
  check(obj: unknown, source: string): Promise<{ pipeline?: unknown; findings: Finding[] }>;
  /** Loads a named pipeline's file, checks it and returns the handle. */
  loadNamed(p: NamedPipeline): Promise<{ pipeline?: unknown; findings: Finding[] }>;
  /**
   * Runs the reads and resolves every write: a stored plan with id, TTL and single use, made for `principal`
   * (`chat:<user>`, `api:<key digest>`; only that principal may apply it).
   */
  plan(pipeline: unknown, inputs: Record<string, unknown>, principal?: string): Promise<PlanView>;
  /**
   * Applies a stored plan as `opts.principal`. Throws {@link PlanRefusal} with `reason` for expired, used, drifted,
   * unconfirmed, changed (content edited after it was made) or principal (made by another principal) plans; other
   * errors are runtime failures.
   */
  apply(
    planId: string,
    opts: { confirmWrite: boolean; confirmDestructive: boolean; principal?: string },
  ): Promise<RunView>;
  /** A run from the journal, or undefined. */
  run(runId: string): Promise<RunView | undefined>;
  /** Dead-letter queue size and the newest entries (short, no payloads). */
  dlq(): Promise<{ size: number; items: { id: string; event: string; error: string; attempts: number }[] }>;
  /**
   * Removes one dead letter (`/dlq drop <id>`; the exact id or a unique prefix, as `b24flow dlq drop`).
   * @returns the id removed, or undefined when there is no such letter
   */
  dlqDrop(id: string): Promise<string | undefined>;
  /**
   * Runs one dead letter again (`/dlq replay <id>`) the way `b24flow dlq replay` does: the pipelines that failed on
   * it; removed from the queue when they succeed, else kept with the new attempt.
   * @returns the outcome, or undefined when there is no such letter
   */
  dlqReplay(id: string): Promise<DlqReplayView | undefined>;
  /** The portal this engine works on: `member_id` (OAuth) or the webhook's host (links are kept per portal). */
  readonly portal: string;
  /** A user of the portal by id (`user.get` with `ID`), or undefined when it has none. */
  bitrixUser(id: string): Promise<BitrixUserView | undefined>;
  /** Sends `text` to a user's Bitrix24 notifications (`im.notify.system.add`, `USER_ID` + `MESSAGE`). */
  notifyUser(bitrixUserId: string, text: string): Promise<void>;
  /**
   * Whether a (linked) Bitrix24 user may operate b24flow from chat (`/dlq replay|drop`): listed in some pipeline's
   * `approvers.users`, or among the operators the composition root passed (`B24FLOW_OPERATORS`).
   */
  mayOperate(bitrixUserId: string): Promise<boolean>;
  /**
   * Asks a pipeline's approvers instead of the person in chat (src/pipeline/approvals): when the pipeline (a handle
   * from {@link ChatEngine.loadNamed}) declares `approvers:`, plans it and stores its approval requests, the person
   * who started it excluded; undefined when it declares none (the person confirms the plan as usual) or the engine
   * has no approvals.
   * @throws InvalidInputError when nobody can approve a group of writes
   */
  ask?(pipeline: unknown, inputs: Record<string, unknown>, startedBy?: string): Promise<AskView | undefined>;
  /**
   * A sample of an event for trying an event pipeline in chat: the newest record of the event's entity as if the
   * event had just arrived (src/agent/sampleEvent.ts); undefined when the event has no sampled entity or no record.
   * Absent in stubs.
   */
  sampleEvent?(name: string): Promise<{ event: SampleEvent; entity: string } | undefined>;
  /** The saved pipelines (the store's), read from chat by `/edit`, `/versions` and `/diff`; absent without a store. */
  savedPipelines?: SavedPipelineStore;
  /** A one-time sign-in link to the web console for a (linked) Bitrix24 user; undefined when no console is reachable. */
  consoleLink?(bitrixUserId: string): Promise<string | undefined>;
  /**
   * Saves a pipeline (a planner proposal's document) under `name` as its next version, checked first: the findings
   * when it does not check clean (nothing saved), else the version (`created: false` when the text is unchanged).
   */
  save?(
    pipeline: unknown,
    name: string,
    author?: string,
  ): Promise<{ findings: Finding[] } | { name: string; version: number; created: boolean }>;
}

/** What asking approvers produced: the requests (none when the plan writes nothing). */
export interface AskView {
  runId?: string;
  requests: { id: string; owner?: string; approvers: string[]; writes: number; expiresAt: string }[];
}

/** What replaying one dead letter did. */
export interface DlqReplayView {
  id: string;
  event: string;
  /** True when the pipelines succeeded and the letter left the queue. */
  ok: boolean;
  /** Why it failed again (it stays in the queue). */
  error?: string;
}

/** The parts of the catalog the chat side reads. Field names follow `catalog/packs/*.yaml` (snake_case). */
export interface CatalogView {
  packs: PackView[];
  method(name: string): (MethodCard & { pack?: string }) | undefined;
  /** Vocabulary routing; default `['core']`. */
  routePacks(text: string): string[];
  /** The catalog's recipes (`use:` steps); absent in stubs. */
  recipes?: Recipe[];
}

/** A pack as the chat side sees it. */
export interface PackView {
  name: string;
  title?: { en?: string; ru?: string };
  vocabulary?: { en?: string[]; ru?: string[] };
  methods: MethodCard[];
}

/** A method entry, reduced to what a method card needs. */
export interface MethodCard {
  name: string;
  risk: 'read' | 'write' | 'destructive' | string;
  entity?: string;
  auth?: string;
  deprecated?: boolean;
  summary?: { en?: string; ru?: string };
  params?: ParamSpec[];
  risk_fields?: string[];
  positional?: boolean;
}

/** A method parameter (nested `fields` for objects). */
export interface ParamSpec {
  name: string;
  type?: string;
  /** `'unknown'` when the docs do not say. */
  required?: boolean | string;
  fields?: ParamSpec[];
  values?: (string | number | boolean)[];
}

/** A pipeline available by name, with its chat trigger. */
export interface NamedPipeline {
  name: string;
  description?: string;
  file: string;
  chat?: { command?: string; phrases?: string[] };
  inputs?: Record<string, { type?: string; required?: boolean; default?: unknown; description?: string }>;
  /** The events of its event triggers (`ONCRMLEADADD`, …): run from chat, it is tried on a sample event. */
  events?: string[];
}

/** A plan as shown to a person before confirming. */
export interface PlanView {
  id: string;
  createdAt: string;
  expiresAt: string;
  risk: 'read' | 'write' | 'destructive' | string;
  riskFields: string[];
  writes: PlannedWriteView[];
  cost: { calls?: number; batches?: number; seconds?: number; text?: string };
  /** Results of the plan's reads by step id (shown for read-only requests); never stored. */
  reads?: Record<string, unknown>;
}

/** One resolved write of a plan. */
export interface PlannedWriteView {
  step: string;
  method: string;
  risk: string;
  entity?: string;
  /** Human one-liner (`create deal "ООО Ромашка", OPPORTUNITY 50000`). */
  text: string;
  params?: unknown;
}

/** A run's outcome. */
export interface RunView {
  runId: string;
  status: string;
  /** Friendly summary lines in both languages. */
  summary: { en: string[]; ru: string[] };
  /** CRM object ids created or touched, when known (`deal:42`). */
  objectIds: string[];
  steps?: unknown;
  /** The pipeline's evaluated `outputs` (a report's text), when it has them. */
  outputs?: Record<string, unknown>;
}

/** Why a plan could not be applied. */
export type PlanRefusalReason = 'expired' | 'used' | 'drifted' | 'unknown' | 'unconfirmed' | 'changed' | 'principal';

/** A plan that may not be applied (expired, used, drifted, unknown, confirmation missing). */
export class PlanRefusal extends Error {
  constructor(
    readonly reason: PlanRefusalReason,
    message: string,
  ) {
    super(message);
    this.name = 'PlanRefusal';
  }
}
