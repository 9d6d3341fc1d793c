/**
 * The dead-letter queue: events that failed every attempt, persisted one file per entry under
 * `<dataDir>/dlq/<id>.json` (atomic writes), so that nothing is lost and `b24flow dlq replay` can run them again.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomicSync } from '../lib/atomic.js';
import type { B24Event } from './types.js';

/**
 * One dead letter.
 * - `payloadHash`: sha256 (hex) of the canonical JSON of the event data — two letters with the same hash carry the
 *   same payload; `firstSeen`/`lastSeen` are ISO-8601 times of the first and the last failed attempt;
 * - `pipelines`: the pipelines that failed on it (a replay runs only those).
 */
export interface DeadLetter {
  id: string;
  event: string;
  payload: unknown;
  payloadHash: string;
  key: string;
  source: B24Event['source'];
  objectId?: string;
  ts: number;
  messageId?: string;
  rowId?: string;
  pipelines: string[];
  error: string;
  attempts: number;
  firstSeen: string;
  lastSeen: string;
}

/** sha256 hex of the JSON text of a payload. */
export function payloadHash(payload: unknown): string {
  return createHash('sha256')
    .update(JSON.stringify(payload ?? null))
    .digest('hex');
}

/** Persisted dead-letter queue in `<dataDir>/dlq`. All methods are synchronous and crash-safe (atomic writes). */
export class DeadLetterQueue {
  readonly dir: string;
  constructor(dataDir: string) {
    this.dir = join(dataDir, 'dlq');
  }

  private file(id: string): string {
    if (!/^[A-Za-z0-9_-]+$/.test(id)) throw new Error(`invalid dead-letter id: ${id}`);
    return join(this.dir, `${id}.json`);
  }

  /**
   * Adds an event that failed `attempts` times. An entry with the same dedupe key is updated (attempts, lastSeen,
   * error) instead of duplicated.
   * @returns the stored entry
   */
  add(ev: B24Event, info: { error: string; attempts: number; pipelines: string[]; firstSeen?: Date }): DeadLetter {
    const now = new Date().toISOString();
    const existing = this.list().find((d) => d.key === ev.key);
    const entry: DeadLetter = existing
      ? {
          ...existing,
          error: info.error,
          attempts: existing.attempts + info.attempts,
          lastSeen: now,
          pipelines: [...new Set([...existing.pipelines, ...info.pipelines])],
        }
      : {
          id: `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`,
          event: ev.name,
          payload: ev.data,
          payloadHash: payloadHash(ev.data),
          key: ev.key,
          source: ev.source,
          ts: ev.ts,
          pipelines: info.pipelines,
          error: info.error,
          attempts: info.attempts,
          firstSeen: (info.firstSeen ?? new Date()).toISOString(),
          lastSeen: now,
          ...(ev.objectId !== undefined ? { objectId: ev.objectId } : {}),
          ...(ev.messageId !== undefined ? { messageId: ev.messageId } : {}),
          ...(ev.rowId !== undefined ? { rowId: ev.rowId } : {}),
        };
    mkdirSync(this.dir, { recursive: true });
    writeFileAtomicSync(this.file(entry.id), `${JSON.stringify(entry, null, 2)}\n`);
    return entry;
  }

  /** Every entry, oldest first. Unreadable files are skipped (a crashed writer leaves only `.tmp` files). */
  list(): DeadLetter[] {
    let names: string[];
    try {
      names = readdirSync(this.dir).filter((n) => n.endsWith('.json'));
    } catch {
      return [];
    }
    const out: DeadLetter[] = [];
    for (const n of names) {
      try {
        out.push(JSON.parse(readFileSync(join(this.dir, n), 'utf8')) as DeadLetter);
      } catch {}
    }
    return out.sort((a, b) => a.firstSeen.localeCompare(b.firstSeen) || a.id.localeCompare(b.id));
  }

  /** Number of entries (for `/metrics`). */
  size(): number {
    try {
      return readdirSync(this.dir).filter((n) => n.endsWith('.json')).length;
    } catch {
      return 0;
    }
  }

  /** One entry by id (or unique id prefix); undefined when absent. */
  get(id: string): DeadLetter | undefined {
    const all = this.list();
    const exact = all.find((d) => d.id === id);
    if (exact) return exact;
    const pref = all.filter((d) => d.id.startsWith(id));
    return pref.length === 1 ? pref[0] : undefined;
  }

  /** Removes an entry; returns false when it did not exist. */
  drop(id: string): boolean {
    try {
      unlinkSync(this.file(id));
      return true;
    } catch {
      return false;
    }
  }

  /** Turns a dead letter back into an event for replay. */
  static toEvent(d: DeadLetter): B24Event {
    return {
      name: d.event,
      data: d.payload,
      ts: d.ts,
      key: d.key,
      source: 'replay',
      ...(d.objectId !== undefined ? { objectId: d.objectId } : {}),
      ...(d.messageId !== undefined ? { messageId: d.messageId } : {}),
    };
  }
}
