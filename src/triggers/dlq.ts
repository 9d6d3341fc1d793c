/**
 * The dead-letter queue: events that failed every attempt, kept so that nothing is lost and `b24flow dlq replay` can
 * run them again. This module holds the entry's shape and the pure logic (how a new failure merges into an existing
 * entry of the same event key, what a well-formed entry is); the storage is the {@link DeadLetterStore} interface,
 * implemented on the durable store by src/store/dlq.ts (one row per event key, an O(1) upsert).
 */
import { createHash, randomBytes } from 'node:crypto';
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
  /** The portal (`member_id`) the event came from, when known (online events; offline rows of a multi-portal serve). */
  memberId?: string;
  pipelines: string[];
  error: string;
  attempts: number;
  firstSeen: string;
  lastSeen: string;
}

/** What a failed event adds to the queue: the reason, the attempts it took, the pipelines that failed. */
export interface DeadLetterInfo {
  error: string;
  attempts: number;
  pipelines: string[];
  /** When the event was first accepted (default: now). */
  firstSeen?: Date;
}

/** sha256 hex of the JSON text of a payload. */
export function payloadHash(payload: unknown): string {
  return createHash('sha256')
    .update(JSON.stringify(payload ?? null))
    .digest('hex');
}

/**
 * A stored entry that is not a dead letter (unparsable JSON, or a JSON value without the fields of a
 * {@link DeadLetter}): `id` is its id, `file` where it is (`<store>#dead_letters/<id>`), `error` why it was refused,
 * `text` its raw stored text (for `dlq show`).
 */
export interface MalformedDeadLetter {
  id: string;
  file: string;
  error: string;
  text?: string;
}

/** A scan of the queue: every entry, oldest first, and every stored value that is not one. */
export interface DeadLetterScan {
  entries: DeadLetter[];
  malformed: MalformedDeadLetter[];
}

/**
 * Where dead letters are kept (src/store/dlq.ts on SQLite or PostgreSQL). Every method is committed before it
 * resolves; errors are the database's.
 */
export interface DeadLetterStore {
  /**
   * Adds an event that failed `info.attempts` times. An entry with the same event key is updated (attempts added,
   * lastSeen, error, pipelines merged; see {@link mergeDeadLetter}) instead of duplicated: one row per key, O(1).
   * @returns the stored entry
   */
  add(ev: B24Event, info: DeadLetterInfo): Promise<DeadLetter>;
  /** Every entry, oldest first, and every malformed one (so one bad row neither hides nor breaks the rest). */
  scan(): Promise<DeadLetterScan>;
  /** Every well-formed entry, oldest first. */
  list(): Promise<DeadLetter[]>;
  /** One entry by id (or a unique id prefix); undefined when absent or malformed. */
  get(id: string): Promise<DeadLetter | undefined>;
  /** A malformed entry by id (or a unique id prefix); undefined when absent. */
  getMalformed(id: string): Promise<MalformedDeadLetter | undefined>;
  /** Number of entries, malformed ones included (for `/metrics`). */
  size(): Promise<number>;
  /** Removes an entry by its exact id (malformed ones too); false when it did not exist. */
  drop(id: string): Promise<boolean>;
}

const STRING_FIELDS = ['id', 'event', 'key', 'error', 'firstSeen', 'lastSeen'] as const;

/** Why a parsed value is not a {@link DeadLetter}, or undefined when it is one. */
export function deadLetterShapeError(v: unknown): string | undefined {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return 'not a JSON object';
  const d = v as Record<string, unknown>;
  for (const f of STRING_FIELDS) if (typeof d[f] !== 'string') return `field ${f} is missing or not a string`;
  if (!Array.isArray(d.pipelines) || !d.pipelines.every((p) => typeof p === 'string'))
    return 'field pipelines is missing or not a list of names';
  if (typeof d.attempts !== 'number') return 'field attempts is missing or not a number';
  if (typeof d.ts !== 'number') return 'field ts is missing or not a number';
  return undefined;
}

/** A new dead-letter id: time-ordered base36 ms, then 8 random hex digits (`[a-z0-9-]`). */
export function newDeadLetterId(now = Date.now()): string {
  return `${now.toString(36)}-${randomBytes(4).toString('hex')}`;
}

/**
 * The entry after a failure of `ev`: `existing` (same event key) updated — attempts added, error and lastSeen
 * replaced, pipelines merged — or a new entry.
 * @param now ISO-8601 time of this failure
 */
export function mergeDeadLetter(
  existing: DeadLetter | undefined,
  ev: B24Event,
  info: DeadLetterInfo,
  now = new Date().toISOString(),
): DeadLetter {
  if (existing)
    return {
      ...existing,
      error: info.error,
      attempts: existing.attempts + info.attempts,
      lastSeen: now,
      pipelines: [...new Set([...existing.pipelines, ...info.pipelines])],
    };
  return {
    id: newDeadLetterId(),
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
    ...(ev.memberId ? { memberId: ev.memberId } : {}),
  };
}

/** Turns a dead letter back into an event for replay (`source: 'replay'`). */
export function replayEvent(d: DeadLetter): B24Event {
  return {
    name: d.event,
    data: d.payload,
    ts: d.ts,
    key: d.key,
    source: 'replay',
    ...(d.objectId !== undefined ? { objectId: d.objectId } : {}),
    ...(d.messageId !== undefined ? { messageId: d.messageId } : {}),
    ...(d.memberId ? { memberId: d.memberId } : {}),
  };
}
