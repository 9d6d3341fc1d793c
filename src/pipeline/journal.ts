/**
 * The run journal: what each run did, step by step, so that `b24flow runs` can list runs and `b24flow resume`
 * can continue a killed run without repeating a completed write.
 *
 * Embedded default {@link FileJournal}: files under `$B24FLOW_DATA_DIR/runs/<run-id>/` (default `./data`):
 * - `run.json`: the run record (pipeline, inputs, mode, step statuses), rewritten atomically;
 * - `steps/<step>.json`: a completed step's result, written atomically once;
 * - `writes.jsonl`: append-only log of write intents and outcomes (`intent` before a request is sent, `done` or
 *   `failed` after), fsynced per batch; a torn last line after a crash is ignored.
 * A shared store (database) can implement {@link Journal} later.
 */
import { appendFile, mkdir, open, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../lib/atomic.js';

/** Status of a whole run. */
export type RunStatus = 'running' | 'completed' | 'planned' | 'refused' | 'blocked' | 'failed' | 'partial';

/** Status of one step. */
export type StepStatus = 'pending' | 'running' | 'done' | 'planned' | 'skipped' | 'refused' | 'failed' | 'partial';

/** What the journal keeps about a step (small; the result itself goes to `saveStepResult`). */
export interface StepRecord {
  id: string;
  method?: string;
  status: StepStatus;
  risk?: 'read' | 'write' | 'destructive';
  entity?: string;
  items: number;
  /** Writes done (or reads performed) */
  done: number;
  /** Writes skipped because their idempotency key was already done */
  existing: number;
  failed: number;
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

/** Storage of run records, step results and write logs. Implementations must make each call durable. */
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

/** The data directory: `$B24FLOW_DATA_DIR` or `./data`. */
export function dataDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.B24FLOW_DATA_DIR ?? './data';
}

const SAFE_ID = /^[A-Za-z0-9_.-]{1,128}$/;

function check(id: string, what: string): string {
  if (!SAFE_ID.test(id) || id.startsWith('.')) throw new Error(`invalid ${what} "${id.slice(0, 40)}"`);
  return id;
}

/** File-backed journal (see module doc). */
export class FileJournal implements Journal {
  readonly dir: string;
  constructor(dir = join(dataDir(), 'runs')) {
    this.dir = dir;
  }

  private runDir(runId: string): string {
    return join(this.dir, check(runId, 'run id'));
  }

  async begin(run: RunRecord): Promise<void> {
    await mkdir(join(this.runDir(run.runId), 'steps'), { recursive: true });
    await this.update(run);
  }

  async update(run: RunRecord): Promise<void> {
    await writeFileAtomic(join(this.runDir(run.runId), 'run.json'), `${JSON.stringify(run, null, 1)}\n`);
  }

  async get(runId: string): Promise<RunRecord | undefined> {
    try {
      return JSON.parse(await readFile(join(this.runDir(runId), 'run.json'), 'utf8')) as RunRecord;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
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

  async saveStepResult(runId: string, stepId: string, value: unknown): Promise<void> {
    await writeFileAtomic(
      join(this.runDir(runId), 'steps', `${check(stepId, 'step id')}.json`),
      JSON.stringify(value ?? null),
    );
  }

  async loadStepResult(runId: string, stepId: string): Promise<unknown> {
    return JSON.parse(await readFile(join(this.runDir(runId), 'steps', `${check(stepId, 'step id')}.json`), 'utf8'));
  }

  async recordWrites(runId: string, entries: WriteEntry[]): Promise<void> {
    if (!entries.length) return;
    const file = join(this.runDir(runId), 'writes.jsonl');
    await appendFile(file, entries.map((e) => `${JSON.stringify(e)}\n`).join(''));
    const fh = await open(file, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  }

  async loadWrites(runId: string): Promise<Map<string, WriteEntry>> {
    const out = new Map<string, WriteEntry>();
    let text: string;
    try {
      text = await readFile(join(this.runDir(runId), 'writes.jsonl'), 'utf8');
    } catch {
      return out;
    }
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      try {
        const e = JSON.parse(line) as WriteEntry;
        const prev = out.get(e.key);
        // a done entry is final: a later intent (resume re-check) never downgrades it
        if (prev?.state === 'done' && e.state !== 'done') continue;
        out.set(e.key, e);
      } catch {
        // torn last line after a crash
      }
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
