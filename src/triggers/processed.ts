/**
 * The set of changes already processed (dedupe keys, see `eventKey`), so that an event seen online and again in
 * the offline queue — or re-read after a crash before it was cleared — runs its pipelines once.
 *
 * Stored as an append-only JSONL file `<dataDir>/triggers/processed.jsonl` (`{"k": key, "t": unixMs}` per line);
 * a line is appended after a successful dispatch and before the offline row is cleared. Appends survive SIGKILL
 * (they are in the kernel once `appendFileSync` returns); a torn last line is ignored on load. Entries older than
 * `ttlMs` (default 7 days) are dropped when the file is compacted (atomically) on open.
 */
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomicSync } from '../lib/atomic.js';

/** Persisted set of processed dedupe keys. */
export class ProcessedStore {
  readonly file: string;
  private readonly seen = new Map<string, number>();

  constructor(
    dataDir: string,
    private readonly ttlMs = 7 * 24 * 3600_000,
  ) {
    const dir = join(dataDir, 'triggers');
    mkdirSync(dir, { recursive: true });
    this.file = join(dir, 'processed.jsonl');
    this.load();
  }

  private load(): void {
    let text = '';
    try {
      text = readFileSync(this.file, 'utf8');
    } catch {
      return;
    }
    const cutoff = Date.now() - this.ttlMs;
    let lines = 0;
    for (const line of text.split('\n')) {
      if (!line) continue;
      lines++;
      try {
        const o = JSON.parse(line) as { k: string; t: number };
        if (typeof o.k === 'string' && o.t >= cutoff) this.seen.set(o.k, o.t);
      } catch {}
    }
    if (lines > this.seen.size * 2 + 1000) {
      const body = [...this.seen].map(([k, t]) => JSON.stringify({ k, t })).join('\n');
      writeFileAtomicSync(this.file, body ? `${body}\n` : '');
    }
  }

  /** True when the change was processed already. */
  has(key: string): boolean {
    return this.seen.has(key);
  }

  /**
   * Records a processed change (appended to the file before returning).
   * @throws the fs error when the append fails — then the key is not held in memory either, so a retry runs again
   */
  add(key: string): void {
    if (this.seen.has(key)) return;
    const t = Date.now();
    appendFileSync(this.file, `${JSON.stringify({ k: key, t })}\n`);
    this.seen.set(key, t);
  }

  /** Number of keys held. */
  size(): number {
    return this.seen.size;
  }
}
