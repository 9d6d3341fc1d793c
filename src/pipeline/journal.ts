/**
 * The run journal: what each run did, step by step, so that `b24flow runs` can list runs and `b24flow resume`
 * can continue a killed run without repeating a completed write.
 *
 * This module holds the interface ({@link Journal}), the record shapes and {@link MemoryJournal} (unit tests, runs
 * that should leave nothing behind). The durable implementation is the store's (src/store/journal.ts: tables runs,
 * run_steps, step_results, run_writes), which the composition root (src/cli) passes in; the library never chooses a
 * store itself.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

/**
 * Status of a run. `awaiting_approval`: the run planned writes and waits for its approval requests
 * (src/pipeline/approvals); it ends `completed`, `partial`, `failed`, `rejected` or `expired` when they settle.
 * `interrupted` is never written: it is how a `running` record reads once the process that owned it
 * is gone (killed, crashed, machine restarted) — resume it with `b24flow resume <run-id>`.
 */
export type RunStatus =
  | 'running'
  | 'completed'
  | 'planned'
  | 'refused'
  | 'blocked'
  | 'failed'
  | 'partial'
  | 'interrupted'
  | 'awaiting_approval'
  | 'rejected'
  | 'expired';

/**
 * Status of one step. `uncertain`: a create's answer was lost and the portal could not tell (yet) whether it ran
 * (see run/reconcile.ts); the run stops there and the step is never resent blindly.
 */
export type StepStatus =
  | 'pending'
  | 'running'
  | 'done'
  | 'planned'
  | 'skipped'
  | 'refused'
  | 'failed'
  | 'partial'
  | 'uncertain';

/** What the journal keeps about a step (small; the result itself goes to `saveStepResult`). */
export interface StepRecord {
  id: string;
  method?: string;
  status: StepStatus;
  risk?: 'read' | 'write' | 'destructive';
  entity?: string;
  items: number;
  /** Writes this run did (or reads performed), including those of an earlier attempt of the same run (`earlier`) */
  done: number;
  /** Of `done`: writes this run made before it was interrupted and resumed (from its journal, or found on the portal) */
  earlier?: number;
  /** Writes skipped because another run (another folder or machine) already did their idempotency key */
  existing: number;
  failed: number;
  /** Writes whose answer was lost and that the portal could not confirm (status `uncertain`). */
  uncertain?: number;
  reason?: string;
  errors?: { item?: number; key?: string; code?: string; message: string }[];
  /** Requests made for this step (HTTP; a batch counts once). */
  requests: number;
  startedAt?: string;
  finishedAt?: string;
  hasResult?: boolean;
  /** What was sent: method, param names (never values) and call count, e.g. `tasks.task.add fields{TITLE} ×12`. */
  request?: string;
  /** What came back: counts and the first result in compact form (an id), e.g. `12 ok; first {"task":{"id":5}}`. */
  response?: string;
}

/** The run record (what `b24flow runs show` prints, what `resume` continues). */
export interface RunRecord {
  runId: string;
  pipeline: { name: string; file?: string; path?: string; hash: string; object: unknown };
  mode: 'shadow' | 'canary' | 'full';
  confirmWrite: boolean;
  confirmDestructive: boolean;
  inputs: Record<string, unknown>;
  trigger?: Record<string, unknown>;
  portal?: string;
  /** The run's fixed "now" (ms since epoch). */
  now: number;
  status: RunStatus;
  startedAt: string;
  finishedAt?: string;
  steps: Record<string, StepRecord>;
  summary?: { en: string[]; ru: string[] };
  error?: string;
  resumedFrom?: string[];
  planId?: string;
  /** The process that runs it (stamped by the journal while the run is `running`). */
  owner?: RunOwner;
}

/** Who runs a run: host name, process id and the process's start time (Linux `/proc/<pid>/stat`, clock ticks). */
export interface RunOwner {
  host: string;
  pid: number;
  /** Guards against a reused pid; absent where /proc is not available. */
  start?: string;
}

/** Start time of a process in clock ticks since boot (field 22 of `/proc/<pid>/stat`), or undefined. */
function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) may hold spaces and parentheses: fields after the last ')' are plain
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

let me: RunOwner | undefined;

/**
 * This process as a run owner (a journal stamps `running` records with it): host name, pid and start time in clock
 * ticks since boot (field 22 of `/proc/<pid>/stat`; absent without /proc). Read once per process (a journal asks on
 * every update); a fresh copy each call.
 */
export function currentOwner(): RunOwner {
  if (!me) {
    const start = processStart(process.pid);
    me = { host: hostname(), pid: process.pid, ...(start ? { start } : {}) };
  }
  return { ...me };
}

/** How often a running run marks itself alive in its journal ({@link Journal.heartbeat}), ms. */
export const RUN_HEARTBEAT_MS = 30_000;

/** A running run of another host whose journal has not heard from it for this long is taken as gone, ms. */
export const RUN_STALE_MS = 4 * RUN_HEARTBEAT_MS;

/**
 * Whether the owner of a `running` record is gone: same host and its pid no longer runs (or runs a newer process);
 * another host (its process cannot be seen from here) when the record was last updated or heartbeaten more than
 * {@link RUN_STALE_MS} ago.
 * @param lastSeenMs when the record was last written (Unix ms); unknown: a record of another host is taken as running
 */
export function ownerGone(owner: RunOwner | undefined, lastSeenMs?: number): boolean {
  if (!owner) return false;
  if (owner.host !== hostname()) return lastSeenMs !== undefined && Date.now() - lastSeenMs > RUN_STALE_MS;
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
  return owner.start !== undefined && processStart(owner.pid) !== owner.start;
}

/**
 * How a stored record reads: a `running` run whose owner is gone is `interrupted`.
 * @param lastSeenMs when the record was last written or heartbeaten (see {@link ownerGone})
 */
export function asSeen(run: RunRecord, lastSeenMs?: number): RunRecord {
  return run.status === 'running' && ownerGone(run.owner, lastSeenMs) ? { ...run, status: 'interrupted' } : run;
}

/** One line of the write log. */
export interface WriteEntry {
  /** `<step>#<idempotency key>` */
  key: string;
  step: string;
  state: 'intent' | 'done' | 'failed';
  /** What the write returned (new id, true, ...), on done. */
  result?: unknown;
  error?: string;
  /** Lookup value injected for legacy CRM creates (ORIGIN_ID). */
  origin?: string;
  at: string;
}

/** Filters of {@link Journal.list}. */
export interface RunListOptions {
  /** At most this many runs (the newest). */
  limit?: number;
  /** Only runs of this pipeline (its name). */
  pipeline?: string;
  /** Only runs with this status (as read: `interrupted` is a `running` run whose owner is gone). */
  status?: RunStatus;
}

/**
 * Storage of run records, step results and write logs. Durability contract: `recordWrites` with `intent` entries
 * is durable when it resolves (together with everything recorded before it); `update` of a finished run (status
 * other than `running`) is durable when it resolves (together with the write log); every other call is atomic and
 * becomes durable no later than the next durable call.
 */
export interface Journal {
  begin(run: RunRecord): Promise<void>;
  update(run: RunRecord): Promise<void>;
  get(runId: string): Promise<RunRecord | undefined>;
  /** Runs, newest first (all of them without a `limit`). */
  list(o?: RunListOptions): Promise<RunRecord[]>;
  saveStepResult(runId: string, stepId: string, value: unknown): Promise<void>;
  loadStepResult(runId: string, stepId: string): Promise<unknown>;
  recordWrites(runId: string, entries: WriteEntry[]): Promise<void>;
  /** Latest entry per key. */
  loadWrites(runId: string): Promise<Map<string, WriteEntry>>;
  /**
   * Marks a running run alive now (every {@link RUN_HEARTBEAT_MS} while it runs), so that other hosts can tell a
   * run whose process died (see {@link ownerGone}) from one that is waiting. Optional: a journal of one process
   * needs none.
   */
  heartbeat?(runId: string): Promise<void>;
}

/**
 * The data directory from an environment the caller passes (the CLI and services pass `process.env`):
 * `$B24FLOW_DATA_DIR`, else `./data`. Without an environment: `./data`.
 */
export function dataDir(env: NodeJS.ProcessEnv = {}): string {
  return env.B24FLOW_DATA_DIR ?? './data';
}

/** In-memory journal (tests, embedded sandbox runs that should leave nothing behind). */
export class MemoryJournal implements Journal {
  private runs = new Map<string, RunRecord>();
  private results = new Map<string, unknown>();
  private writes = new Map<string, Map<string, WriteEntry>>();
  async begin(run: RunRecord) {
    this.runs.set(run.runId, structuredClone(run));
  }
  async update(run: RunRecord) {
    this.runs.set(run.runId, structuredClone(run));
  }
  async get(runId: string) {
    const r = this.runs.get(runId);
    return r ? structuredClone(r) : undefined;
  }
  async list(o: RunListOptions = {}) {
    const all = [...this.runs.values()]
      .map((r) => asSeen(structuredClone(r)))
      .filter((r) => (!o.pipeline || r.pipeline.name === o.pipeline) && (!o.status || r.status === o.status))
      .sort((a, b) => b.startedAt.localeCompare(a.startedAt));
    return o.limit !== undefined ? all.slice(0, o.limit) : all;
  }
  async saveStepResult(runId: string, stepId: string, value: unknown) {
    this.results.set(`${runId}/${stepId}`, structuredClone(value));
  }
  async loadStepResult(runId: string, stepId: string) {
    return structuredClone(this.results.get(`${runId}/${stepId}`));
  }
  async recordWrites(runId: string, entries: WriteEntry[]) {
    let m = this.writes.get(runId);
    if (!m) {
      m = new Map();
      this.writes.set(runId, m);
    }
    for (const e of entries) if (m.get(e.key)?.state !== 'done') m.set(e.key, e);
  }
  async loadWrites(runId: string) {
    return new Map(this.writes.get(runId) ?? []);
  }
}
