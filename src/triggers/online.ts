/**
 * The online event endpoint `POST /bitrix/events` (api-reference/events/index.md, safe-event-handlers.md).
 *
 * Bitrix24 posts `application/x-www-form-urlencoded` bodies with PHP-style brackets
 * (`event=ONCRMDEALADD&data[FIELDS][ID]=7405&ts=1766047124&auth[application_token]=…&auth[member_id]=…`).
 * The handler parses the body, checks `auth.application_token` against the token known for `auth.member_id`
 * (constant-time comparison), stores the event durably in the {@link EventIntake} (committed), answers 200, and lets
 * the intake process it in the background — a failure there goes to the dead-letter queue with its reason.
 * `ONOFFLINEEVENT` only wakes the offline sync worker. Anything else — no token, wrong token, unknown portal,
 * malformed body — gets 401 and a log line (reason and client address, never the token); a body over the limit 413.
 * Online delivery has no retries on the portal side, so the intake store is the only copy of an accepted event: it
 * is acknowledged only once stored (a store that fails answers 503 and logs), and an event left unsettled by a
 * crash is replayed at the next start. The dedupe key makes a change seen online and offline run once.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BodyTooLargeError, type Route, readBody, sendJson } from '../lib/http.js';
import { payloadHash } from './dlq.js';
import type { InstallVerifier } from './install.js';
import type { EventIntake } from './intake.js';
import type { Metrics } from './metrics.js';
import { type B24Event, eventKey, type LogFn, objectIdOf, toUnixSeconds } from './types.js';

/**
 * Parses a PHP-style bracketed form body into nested objects (`a[b][c]=1` → `{a:{b:{c:"1"}}}`, `a[]=1&a[]=2` →
 * `{a:["1","2"]}`; numeric keys stay object keys, as PHP does).
 * @throws Error on a malformed key (unbalanced brackets) or a key path that clashes with a scalar
 */
export function parseBracketForm(body: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const params = new URLSearchParams(body);
  for (const [rawKey, value] of params) {
    const m = /^([^[\]]+)((?:\[[^[\]]*\])*)$/.exec(rawKey);
    if (!m) throw new Error(`malformed form key`);
    const path = [m[1]!, ...[...m[2]!.matchAll(/\[([^[\]]*)\]/g)].map((x) => x[1]!)];
    if (path.length > 16) throw new Error('form key nested too deep');
    let node: any = out;
    for (let i = 0; i < path.length; i++) {
      const seg = path[i]!;
      const last = i === path.length - 1;
      if (seg === '__proto__' || seg === 'constructor' || seg === 'prototype') throw new Error('forbidden form key');
      if (Array.isArray(node) && seg === '') {
        if (last) node.push(value);
        else {
          const child = {};
          node.push(child);
          node = child;
        }
        continue;
      }
      if (typeof node !== 'object' || node === null) throw new Error('form key clashes with a value');
      if (last) {
        node[seg] = value;
      } else {
        const nextIsPush = path[i + 1] === '';
        if (node[seg] === undefined) node[seg] = nextIsPush ? [] : {};
        node = node[seg];
        if (typeof node !== 'object' || node === null) throw new Error('form key clashes with a value');
      }
    }
  }
  return out;
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** Constant-time string comparison (hashes both sides to equal length first). */
export function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b)) && a.length === b.length;
}

/** Known application tokens per portal: `member_id` → `application_token` (from ONAPPINSTALL or app settings). */
export type PortalTokens = Map<string, string>;

/** Options of {@link onlineEventRoutes}. */
export interface OnlineEventsOptions {
  /** Where accepted events go: stored before the answer, processed after it. */
  intake: EventIntake;
  tokens: PortalTokens;
  metrics: Metrics;
  log: LogFn;
  /** Called for ONOFFLINEEVENT with the portal it came from (wake that portal's offline worker). */
  onOfflineEvent?: (memberId: string) => void;
  /**
   * Verifies an `ONAPPINSTALL` whose portal or application token is not known yet (src/triggers/install.ts); on
   * success the portal's `application_token` joins {@link tokens}. Without it such an install is rejected.
   */
  verifyInstall?: InstallVerifier;
  /** Called with the `member_id` of a portal whose ONAPPINSTALL was verified (serve then starts serving it). */
  onInstall?: (memberId: string) => void;
  /** Largest accepted body, bytes (default 256 KiB). */
  maxBodyBytes?: number;
}

/** The route and the intake's queue of accepted events; `drain()` waits until they are settled. */
export interface OnlineEvents {
  routes: Route[];
  drain(): Promise<void>;
  pending(): number;
}

/** Builds the `POST /bitrix/events` route and its background queue. */
export function onlineEventRoutes(o: OnlineEventsOptions): OnlineEvents {
  const reject = (req: IncomingMessage, res: ServerResponse, status: number, reason: string) => {
    o.metrics.eventsRejected.inc({ reason });
    o.log(`online event rejected (${status} ${reason}) from ${req.socket.remoteAddress ?? '?'}`);
    if (!res.headersSent) {
      res.writeHead(status, { 'content-type': 'application/json', ...(status === 413 ? { connection: 'close' } : {}) });
      res.end(JSON.stringify({ error: status === 413 ? 'PAYLOAD_TOO_LARGE' : 'UNAUTHORIZED' }));
    }
  };

  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    let body: Buffer;
    try {
      body = await readBody(req, o.maxBodyBytes ?? 256 * 1024);
    } catch (err) {
      if (err instanceof BodyTooLargeError) {
        reject(req, res, 413, 'too-large');
        req.resume();
        return;
      }
      throw err;
    }
    let payload: Record<string, any>;
    try {
      const ct = String(req.headers['content-type'] ?? '');
      payload = ct.includes('application/json')
        ? (JSON.parse(body.toString('utf8')) as Record<string, any>)
        : parseBracketForm(body.toString('utf8'));
      if (!payload || typeof payload !== 'object' || Array.isArray(payload)) throw new Error('not an object');
    } catch {
      return reject(req, res, 401, 'malformed');
    }
    const event = typeof payload.event === 'string' ? payload.event.toUpperCase() : '';
    const auth = payload.auth && typeof payload.auth === 'object' ? (payload.auth as Record<string, unknown>) : {};
    const token = typeof auth.application_token === 'string' ? auth.application_token : '';
    const memberId = typeof auth.member_id === 'string' ? auth.member_id : '';
    if (!event || !/^[A-Z0-9_]{3,64}$/.test(event)) return reject(req, res, 401, 'malformed');
    if (!token) return reject(req, res, 401, 'no-token');
    if (event === 'ONAPPINSTALL' && o.verifyInstall && o.tokens.get(memberId) !== token) {
      // a fresh install (or a reinstall with a new token): verified through the OAuth server, not by token
      let verdict: Awaited<ReturnType<InstallVerifier>>;
      try {
        verdict = await o.verifyInstall(auth);
      } catch (err) {
        o.log(`online event ONAPPINSTALL: verification failed (${err instanceof Error ? err.message : String(err)})`);
        verdict = { ok: false, reason: 'install-unverified' };
      }
      if (!verdict.ok) return reject(req, res, 401, verdict.reason);
      o.tokens.set(verdict.memberId, verdict.applicationToken ?? token);
      o.metrics.appInstalls.inc();
      o.log(`online event ONAPPINSTALL: portal ${verdict.memberId} installed, its events are verified from now on`);
      o.onInstall?.(verdict.memberId);
    }
    const expected = o.tokens.get(memberId);
    // compare even when the portal is unknown, so timing does not tell known portals apart
    const ok = safeEqual(token, expected ?? `unknown:${token.length}:x`) && expected !== undefined;
    if (!ok) return reject(req, res, 401, expected === undefined ? 'unknown-portal' : 'wrong-token');

    if (event === 'ONOFFLINEEVENT') {
      sendJson(res, 200, { result: true });
      o.metrics.eventsProcessed.inc({ source: 'online', result: 'offline-wakeup' });
      o.onOfflineEvent?.(memberId);
      return;
    }
    const data = payload.data ?? null;
    const ts = toUnixSeconds(payload.ts);
    const objectId = objectIdOf(data);
    const ev: B24Event = {
      name: event,
      data,
      ts,
      key: eventKey(event, data, ts, payloadHash),
      source: 'online',
      memberId,
      portal: { memberId, ...(typeof auth.domain === 'string' ? { domain: auth.domain } : {}) },
      ...(objectId !== undefined ? { objectId } : {}),
    };
    let stored: Awaited<ReturnType<EventIntake['store']>>;
    try {
      stored = await o.intake.store(ev);
    } catch (err) {
      // not stored, so not accepted: say so rather than acknowledge an event we would lose
      o.metrics.eventsRejected.inc({ reason: 'store-failed' });
      o.log(`online event ${event}: not stored (${err instanceof Error ? err.message : String(err)}), answered 503`);
      sendJson(res, 503, { error: 'STORE_FAILED' });
      return;
    }
    sendJson(res, 200, { result: true });
    o.intake.submit(stored);
  };

  return {
    routes: [{ method: 'POST', path: '/bitrix/events', handler }],
    pending: () => o.intake.pending(),
    drain: () => o.intake.drain(),
  };
}
