/**
 * The run journal: what each run did, step by step, so that `b24flow runs` can list runs and `b24flow resume`
 * can continue a killed run without repeating a completed write.
 *
 * Embedded default {@link FileJournal}: files under `$B24FLOW_DATA_DIR/runs/<run-id>/` (default `./data`):
 * - `run.json`: the run record (pipeline, inputs, mode, step statuses), always replaced atomically (temporary file +
 *   rename), fsynced when the run ends;
 * - `writes.jsonl`: append-only log of write intents and outcomes (`intent` before a request is sent, `done` or
 *   `failed` after), plus copies of the run record and of completed steps' results as the run goes; unparsable
 *   lines (a torn tail after a crash) are ignored. (Older journals kept step results in `steps/<step>.json`.)
 *
 * Durability (what resume depends on): a batch of `intent` entries is fsynced before `recordWrites` returns, i.e.
 * before the request goes out, and that fsync also makes every earlier line of the log durable — so a completed
 * write is durable before the next write is sent. The run record's progress and completed steps' results are kept in
 * memory and logged with the next intent (same fsync), so the record resume starts from and the results it reloads
 * always agree; outcomes (`done`/`failed`) are appended without an fsync of their own. A crash can only lose facts
 * that resume re-derives safely: a lost `done` leaves an `intent`, which resume resolves by the `ORIGIN_ID` lookup or
 * a keyed resend; steps finished after the last logged intent run again (reads) or skip their done keys (writes).
 * The final run record is fsynced when the run ends (after the write log, when the run did not complete).
 * A shared store (database) can implement {@link Journal} later.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { appendFile, mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';

/** Status of a whole run. */
/**
 * Status of a run. `interrupted` is never written: it is how a `running` record reads once the process that owned it
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
  | 'interrupted';

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

/** The run record in `run.json`. */
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
  /** The process that runs it (written by the file journal while the run is `running`). */
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

/** This process as a run owner. */
function currentOwner(): RunOwner {
  const start = processStart(process.pid);
  return { host: hostname(), pid: process.pid, ...(start ? { start } : {}) };
}

/**
 * Whether the owner of a `running` record is gone: same host and its pid no longer runs (or runs a newer process).
 * A record from another host is taken as running (its owner cannot be seen from here).
 */
export function ownerGone(owner: RunOwner | undefined): boolean {
  if (!owner || owner.host !== hostname()) return false;
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
  return owner.start !== undefined && processStart(owner.pid) !== owner.start;
}

/** How a stored record reads: a `running` run whose owner is gone is `interrupted`. */
function asSeen(run: RunRecord): RunRecord {
  return run.status === 'running' && ownerGone(run.owner) ? { ...run, status: 'interrupted' } : run;
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
  /** All runs, newest first. */
  list(): Promise<RunRecord[]>;
  saveStepResult(runId: string, stepId: string, value: unknown): Promise<void>;
  loadStepResult(runId: string, stepId: string): Promise<unknown>;
  recordWrites(runId: string, entries: WriteEntry[]): Promise<void>;
  /** Latest entry per key. */
  loadWrites(runId: string): Promise<Map<string, WriteEntry>>;
}

/**
 * The data directory from an environment the caller passes (the CLI and services pass `process.env`):
 * `$B24FLOW_DATA_DIR`, else `./data`. Without an environment: `./data`.
 */
export function dataDir(env: NodeJS.ProcessEnv = {}): string {
  return env.B24FLOW_DATA_DIR ?? './data';
}

const SAFE_ID = /^[A-Za-z0-9_.-]{1,128}$/;

function check(id: string, what: string): string {
  if (!SAFE_ID.test(id) || id.startsWith('.')) throw new Error(`invalid ${what} "${id.slice(0, 40)}"`);
  return id;
}

/**
 * Replaces `path` atomically (temporary sibling + rename): readers never see half a file. With `durable` the data is
 * fsynced before the rename (and survives a power loss once this resolves).
 */
async function replaceFile(path: string, data: string, durable: boolean): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fh = await open(tmp, 'w', 0o644);
  try {
    await fh.writeFile(data);
    if (durable) await fh.sync();
    await fh.close();
    await rename(tmp, path);
  } catch (err) {
    await fh.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      // the run directory was removed under us (or never created): create it and retry once
      await mkdir(dirname(path), { recursive: true });
      return replaceFile(path, data, durable);
    }
    throw err;
  }
}

/** File-backed journal (see module doc for the files and what is fsynced when). */
export class FileJournal implements Journal {
  readonly dir: string;
  /**
   * What a running run has not put on disk yet: its latest record and the results of steps finished since its last
   * write intent (compact JSON). Logged, fsynced, with the run's next write intent, so that the record resume starts
   * from and the results it reloads always agree.
   */
  private pending = new Map<string, { record?: string; results: Map<string, string> }>();
  /** Runs whose run.json on disk says `running` (written by this journal). */
  private running = new Set<string>();
  constructor(dir = join(dataDir(), 'runs')) {
    this.dir = dir;
  }

  private runDir(runId: string): string {
    return join(this.dir, check(runId, 'run id'));
  }

  private log(runId: string): string {
    return join(this.runDir(runId), 'writes.jsonl');
  }

  private pendingOf(runId: string) {
    let p = this.pending.get(runId);
    if (!p) {
      p = { results: new Map() };
      this.pending.set(runId, p);
    }
    return p;
  }

  /** Pending record and results as log lines (and forgets them). */
  private takePending(runId: string): string {
    const p = this.pending.get(runId);
    if (!p) return '';
    this.pending.delete(runId);
    let out = '';
    for (const [step, value] of p.results) out += `{"result":${JSON.stringify(step)},"value":${value}}\n`;
    if (p.record) out += `{"run":${p.record}}\n`;
    return out;
  }

  async begin(run: RunRecord): Promise<void> {
    run.owner = currentOwner();
    await mkdir(this.runDir(run.runId), { recursive: true });
    await replaceFile(join(this.runDir(run.runId), 'run.json'), `${JSON.stringify(run, null, 1)}\n`, false);
    this.pendingOf(run.runId).record = JSON.stringify(run);
    this.running.add(run.runId);
  }

  async update(run: RunRecord): Promise<void> {
    if (run.status === 'running') {
      run.owner = currentOwner(); // a resumed run is owned by the process that resumes it
      // progress of a running run: kept in memory, logged with the next write intent — resume needs the state as
      // of the last write; steps finished after it run again (reads) or skip their done keys (writes)
      this.pendingOf(run.runId).record = JSON.stringify(run);
      if (!this.running.has(run.runId)) {
        // a resumed run: run.json stops saying it finished
        await replaceFile(join(this.runDir(run.runId), 'run.json'), `${JSON.stringify(run, null, 1)}\n`, false);
        this.running.add(run.runId);
      }
      return;
    }
    this.running.delete(run.runId);
    if (run.status === 'completed') this.pending.delete(run.runId);
    else {
      // a run that may be resumed: its step results and outcomes are durable before the record that says so
      const lines = this.takePending(run.runId);
      const fh = await open(this.log(run.runId), 'a');
      try {
        if (lines) await fh.writeFile(lines);
        await fh.sync();
      } finally {
        await fh.close();
      }
    }
    await replaceFile(join(this.runDir(run.runId), 'run.json'), `${JSON.stringify(run, null, 1)}\n`, true);
  }

  /**
   * The run record: `run.json` once the run has finished; for a running (or killed) run the newest of `run.json`
   * (written at the start) and the last record copy in the write log (logged with each write intent).
   */
  async get(runId: string): Promise<RunRecord | undefined> {
    let file: RunRecord | undefined;
    try {
      file = JSON.parse(await readFile(join(this.runDir(runId), 'run.json'), 'utf8')) as RunRecord;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && !(err instanceof SyntaxError)) throw err;
    }
    if (file && file.status !== 'running') return file;
    let last: RunRecord | undefined;
    for (const e of await this.logLines(runId)) if ('run' in e) last = e.run as RunRecord;
    const seen = last ?? file;
    return seen && asSeen({ ...seen, owner: seen.owner ?? file?.owner });
  }

  private async logLines(runId: string): Promise<Record<string, unknown>[]> {
    let text: string;
    try {
      text = await readFile(this.log(runId), 'utf8');
    } catch {
      return [];
    }
    const out: Record<string, unknown>[] = [];
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      try {
        out.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // torn line after a crash
      }
    }
    return out;
  }

  async list(): Promise<RunRecord[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return [];
    }
    const out: RunRecord[] = [];
    for (const n of names) {
      if (!SAFE_ID.test(n)) continue;
      const r = await this.get(n).catch(() => undefined);
      if (r) out.push(r);
    }
    return out.sort((a, b) => b.startedAt.localeCompare(a.startedAt));
  }

  /** Kept in memory until the run's next write intent (or its end when it did not complete), then logged. */
  async saveStepResult(runId: string, stepId: string, value: unknown): Promise<void> {
    this.pendingOf(runId).results.set(check(stepId, 'step id'), JSON.stringify(value ?? null));
  }

  /**
   * A step's saved result: the last copy in the write log (or `steps/<step>.json` of journals written before the
   * log held results).
   * @throws Error when the result is not on disk (resume then runs the step again)
   */
  async loadStepResult(runId: string, stepId: string): Promise<unknown> {
    check(stepId, 'step id');
    const pending = this.pending.get(runId)?.results.get(stepId);
    if (pending !== undefined) return JSON.parse(pending);
    let found = false;
    let value: unknown;
    for (const e of await this.logLines(runId))
      if (e.result === stepId) {
        found = true;
        value = e.value;
      }
    if (found) return value;
    return JSON.parse(await readFile(join(this.runDir(runId), 'steps', `${stepId}.json`), 'utf8'));
  }

  /**
   * Appends entries to the write log. Entries with an `intent` are fsynced (with everything logged before, and with
   * the run's pending record and step results) before this resolves; outcomes alone are only appended.
   */
  async recordWrites(runId: string, entries: WriteEntry[]): Promise<void> {
    if (!entries.length) return;
    const file = this.log(runId);
    const lines = entries.map((e) => `${JSON.stringify(e)}\n`).join('');
    if (!entries.some((e) => e.state === 'intent')) {
      // outcomes: durable with the next intent (before the next write is sent) or when the run ends
      await appendFile(file, lines);
      return;
    }
    const fh = await open(file, 'a');
    try {
      await fh.writeFile(this.takePending(runId) + lines);
      await fh.sync();
    } finally {
      await fh.close();
    }
  }

  async loadWrites(runId: string): Promise<Map<string, WriteEntry>> {
    const out = new Map<string, WriteEntry>();
    for (const line of await this.logLines(runId)) {
      if (typeof line.key !== 'string') continue; // run records and step results
      const e = line as unknown as WriteEntry;
      const prev = out.get(e.key);
      // a done entry is final: a later intent (resume re-check) never downgrades it
      if (prev?.state === 'done' && e.state !== 'done') continue;
      out.set(e.key, e);
    }
    return out;
  }
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
  async list() {
    return [...this.runs.values()].sort((a, b) => b.startedAt.localeCompare(a.startedAt));
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

/**
 * Reads one run from the journal in the data dir (for `b24flow runs`, the bot's /status and the HTTP API).
 * @returns undefined when there is no such run
 */
export async function readRun(runId: string, opts: { dataDir?: string } = {}): Promise<RunRecord | undefined> {
  if (!SAFE_ID.test(runId)) return undefined;
  return new FileJournal(join(opts.dataDir ?? dataDir(), 'runs')).get(runId);
}
