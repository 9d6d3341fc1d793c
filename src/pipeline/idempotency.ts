/**
 * Cross-run idempotency: a write whose step declares `idempotency_key` happens once per key, per portal and
 * pipeline step, even across runs (a re-run the same day, an event delivered twice). Within one run the journal
 * already guarantees it; this store extends it across runs.
 *
 * File store: `$B24FLOW_DATA_DIR/idempotency/<scope-hash>.jsonl`, append-only, fsynced per batch; a torn last line
 * after a crash is ignored. Scope = portal id + pipeline name + step id.
 */
import { createHash } from 'node:crypto';
import { appendFile, mkdir, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { dataDir } from './journal.js';

/** Remembers completed keyed writes: key → compact result (new id, true). */
export interface IdempotencyStore {
  /** Results of completed writes of a scope. */
  load(scope: string): Promise<Map<string, unknown>>;
  record(scope: string, entries: { key: string; result: unknown }[]): Promise<void>;
}

const scopeFile = (scope: string) => `${createHash('sha256').update(scope).digest('hex').slice(0, 32)}.jsonl`;

const sharedStores = new Map<string, FileIdempotencyStore>();

/** File-backed store (see module doc). */
export class FileIdempotencyStore implements IdempotencyStore {
  /** One store per directory per process, so long-lived services read each scope file once. */
  static shared(dir = join(dataDir(), 'idempotency')): FileIdempotencyStore {
    let s = sharedStores.get(dir);
    if (!s) {
      s = new FileIdempotencyStore(dir);
      sharedStores.set(dir, s);
    }
    return s;
  }

  private cache = new Map<string, Map<string, unknown>>();
  constructor(readonly dir = join(dataDir(), 'idempotency')) {}

  async load(scope: string): Promise<Map<string, unknown>> {
    const hit = this.cache.get(scope);
    if (hit) return hit;
    const m = new Map<string, unknown>();
    try {
      for (const line of (await readFile(join(this.dir, scopeFile(scope)), 'utf8')).split('\n')) {
        if (!line.trim()) continue;
        try {
          const e = JSON.parse(line) as { key: string; result: unknown };
          m.set(e.key, e.result);
        } catch {
          // torn last line
        }
      }
    } catch {
      // no file yet
    }
    this.cache.set(scope, m);
    return m;
  }

  async record(scope: string, entries: { key: string; result: unknown }[]): Promise<void> {
    if (!entries.length) return;
    await mkdir(this.dir, { recursive: true });
    const file = join(this.dir, scopeFile(scope));
    const at = new Date().toISOString();
    await appendFile(file, entries.map((e) => `${JSON.stringify({ ...e, scope, at })}\n`).join(''));
    const fh = await open(file, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    const m = await this.load(scope);
    for (const e of entries) m.set(e.key, e.result);
  }
}

/** In-memory store (tests; runs against the embedded in-memory sandbox). */
export class MemoryIdempotencyStore implements IdempotencyStore {
  private m = new Map<string, Map<string, unknown>>();
  async load(scope: string) {
    let s = this.m.get(scope);
    if (!s) {
      s = new Map();
      this.m.set(scope, s);
    }
    return s;
  }
  async record(scope: string, entries: { key: string; result: unknown }[]) {
    const s = await this.load(scope);
    for (const e of entries) s.set(e.key, e.result);
  }
}
