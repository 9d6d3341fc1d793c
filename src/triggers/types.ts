/**
 * Shared shapes of the trigger runtime: a Bitrix24 event as b24flow sees it, whatever the channel it came through.
 *
 * Source: api-reference/events/index.md (online payload), event-offline-get.md (offline rows).
 */

/** Where an event came from. */
export type EventSource = 'online' | 'offline' | 'replay';

/**
 * One Bitrix24 event, normalised.
 * - `name`: upper-case event name (`ONCRMDEALADD`);
 * - `data`: the event's `data` (online) or `EVENT_DATA` (offline), e.g. `{ FIELDS: { ID: "7405" } }`;
 * - `ts`: event time, Unix seconds (online `ts`, offline `TIMESTAMP_X`);
 * - `objectId`: the changed object's id when the payload carries one (`FIELDS.ID`, `FIELDS_AFTER.ID`);
 * - `key`: dedupe key — the same change seen online and offline has the same key (see {@link eventKey});
 * - `messageId`/`rowId`: offline `MESSAGE_ID` / `ID`, when the event came from the offline queue;
 * - `memberId`: portal member_id (online events), when known.
 */
export interface B24Event {
  name: string;
  data: unknown;
  ts: number;
  objectId?: string;
  key: string;
  source: EventSource;
  messageId?: string;
  rowId?: string;
  memberId?: string;
  /** Online `auth` block without any token (domain, member_id, status), for pipelines that need it. */
  portal?: { domain?: string; memberId?: string };
}

/** Finds the changed object's id in an event's data (`FIELDS.ID`, `FIELDS_AFTER.ID`, `ID`). */
export function objectIdOf(data: unknown): string | undefined {
  if (!data || typeof data !== 'object') return undefined;
  const d = data as Record<string, any>;
  const id = d.FIELDS?.ID ?? d.FIELDS_AFTER?.ID ?? d.fields?.ID ?? d.ID ?? d.id;
  return id === undefined || id === null ? undefined : String(id);
}

/**
 * Dedupe key of a change: `EVENT:objectId:ts`. The offline queue keeps the latest state per object, so a row and
 * the online delivery of the same change share the event name, the object and the second. An object is created
 * and deleted once, so `…ADD`/`…DELETE` events of an object are keyed without the time (robust when the two
 * deliveries straddle a second). Without an object id the whole data is hashed in.
 */
export function eventKey(name: string, data: unknown, ts: number, hash: (s: string) => string): string {
  const n = name.toUpperCase();
  const id = objectIdOf(data);
  if (id !== undefined && /(ADD|DELETE)$/.test(n)) return `${n}:${id}`;
  return `${n}:${id ?? `h${hash(JSON.stringify(data ?? null)).slice(0, 16)}`}:${ts}`;
}

/** Parses a Bitrix24 time (`2024-07-18T12:32:31+02:00`, Unix seconds as number or string) into Unix seconds. */
export function toUnixSeconds(v: unknown, fallback = Math.floor(Date.now() / 1000)): number {
  if (typeof v === 'number' && Number.isFinite(v)) return Math.floor(v > 1e12 ? v / 1000 : v);
  if (typeof v === 'string' && v) {
    if (/^\d+$/.test(v)) return toUnixSeconds(Number(v), fallback);
    const t = Date.parse(v);
    if (Number.isFinite(t)) return Math.floor(t / 1000);
  }
  return fallback;
}

/** Minimal REST surface the trigger runtime needs; `B24Client` from src/bitrix satisfies it. */
export interface RestCaller {
  call<T = unknown>(method: string, params?: Record<string, unknown> | unknown[]): Promise<{ result: T }>;
}

/** A log sink: one line per call, no trailing newline, never a secret. */
export type LogFn = (line: string) => void;
