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

/**
 * A file in the queue's directory that is not a dead letter (unparsable JSON, or a JSON value without the fields
 * of a {@link DeadLetter}): `id` is its file name without `.json`, `file` its path, `error` why it was refused.
 */
export interface MalformedDeadLetter {
  id: string;
  file: string;
  error: string;
}

const STRING_FIELDS = ['id', 'event', 'key', 'error', 'firstSeen', 'lastSeen'] as const;

/** Why a parsed value is not a {@link DeadLetter}, or undefined when it is one. */
function shapeError(v: unknown): string | undefined {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return 'not a JSON object';
  const d = v as Record<string, unknown>;
  for (const f of STRING_FIELDS) if (typeof d[f] !== 'string') return `field ${f} is missing or not a string`;
  if (!Array.isArray(d.pipelines) || !d.pipelines.every((p) => typeof p === 'string'))
    return 'field pipelines is missing or not a list of names';
  if (typeof d.attempts !== 'number') return 'field attempts is missing or not a number';
  if (typeof d.ts !== 'number') return 'field ts is missing or not a number';
  return undefined;
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

  /**
   * Every entry, oldest first, and every `.json` file that is not one (named, with the parse or shape error), so
   * one bad file neither hides nor breaks the rest. A crashed writer leaves only `.tmp` files, which are ignored.
   */
  scan(): { entries: DeadLetter[]; malformed: MalformedDeadLetter[] } {
    let names: string[];
    try {
      names = readdirSync(this.dir).filter((n) => n.endsWith('.json'));
    } catch {
      return { entries: [], malformed: [] };
    }
    const entries: DeadLetter[] = [];
    const malformed: MalformedDeadLetter[] = [];
    for (const n of names.sort()) {
      const file = join(this.dir, n);
      const id = n.slice(0, -'.json'.length);
      let v: unknown;
      try {
        v = JSON.parse(readFileSync(file, 'utf8'));
      } catch (err) {
        malformed.push({ id, file, error: err instanceof Error ? err.message : String(err) });
        continue;
      }
      const bad = shapeError(v);
      if (bad) malformed.push({ id, file, error: bad });
      else if ((v as DeadLetter).id !== id)
        malformed.push({ id, file, error: `its id ${(v as DeadLetter).id} is not its file name` });
      else entries.push(v as DeadLetter);
    }
    entries.sort((a, b) => a.firstSeen.localeCompare(b.firstSeen) || a.id.localeCompare(b.id));
    return { entries, malformed };
  }

  /** Every well-formed entry, oldest first (see {@link scan} for the malformed files). */
  list(): DeadLetter[] {
    return this.scan().entries;
  }

  /** A malformed file by id (its file name without `.json`, or a unique prefix of it); undefined when absent. */
  getMalformed(id: string): MalformedDeadLetter | undefined {
    const all = this.scan().malformed;
    const exact = all.find((d) => d.id === id);
    if (exact) return exact;
    const pref = all.filter((d) => d.id.startsWith(id));
    return pref.length === 1 ? pref[0] : undefined;
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

  /** Removes an entry (or a malformed file, by its file name without `.json`); returns false when it did not exist. */
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
