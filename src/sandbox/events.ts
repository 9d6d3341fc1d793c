/**
 * Event bindings, online delivery and the offline queue (api-reference/events/*.md, rest-protocol.md §6).
 * Online: one form-encoded POST per handler with `event, event_handler_id, data, ts, auth{…application_token}`,
 * no retries. Offline: one row per (event, object) while unreserved — a later change of the same object only
 * refreshes that row — read with `event.offline.get` (clear=0 reserves under a process_id), then `.clear`/`.error`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { buildQuery } from './params.js';
import { isoDate } from './portalTime.js';

/** A handler registered by `event.bind`. */
export interface Binding {
  ID: number;
  event: string;
  handler: string;
  authType: number;
  offline: boolean;
  connector: string;
  minTimeout: number;
  lastNotify: number;
  /** set for an outgoing webhook (portal UI): its own application_token, auth block without tokens */
  outgoingToken?: string;
}

/** A queued offline event. */
export interface OfflineRow {
  ID: number;
  TIMESTAMP_X: number;
  EVENT_NAME: string;
  EVENT_DATA: unknown;
  EVENT_ADDITIONAL: unknown;
  MESSAGE_ID: string;
  PROCESS_ID: string;
  ERROR: number;
  CONNECTOR_ID: string;
  /** when the row was reserved (ms); reservations older than 30 days are released */
  RESERVED_AT?: number;
}

/** What the hub needs from the portal to build `auth` blocks and read the clock. */
export interface EventHost {
  /** sandbox clock, ms */
  now(): number;
  /** auth block for a delivery on behalf of `userId`; `withRefresh` for ONAPPINSTALL / ONOFFLINEEVENT */
  eventAuth(userId: number, withRefresh: boolean): Record<string, unknown>;
  /** warning lines (failed deliveries) */
  log(line: string): void;
  /** marks the portal state changed (bindings, offline queue) */
  dirty(): void;
}

/** Delivery counters exposed in /sandbox/stats. */
export interface DeliveryStats {
  sent: number;
  failed: number;
  queued: number;
}

/** The portal's event hub. */
export class EventHub {
  bindings: Binding[] = [];
  offline: OfflineRow[] = [];
  nextBindingId = 1;
  nextOfflineId = 1;
  readonly stats: DeliveryStats = { sent: 0, failed: 0, queued: 0 };
  private inflight = new Set<Promise<void>>();

  constructor(private host: EventHost) {}

  /**
   * Fires an event caused by a write. `objectKey` identifies the object for offline de-duplication;
   * `connector` is the caller's `auth_connector` (its own offline bindings are skipped, loop breaker).
   */
  fire(event: string, data: unknown, objectKey: string, connector = ''): void {
    const name = event.toUpperCase();
    let queued = false;
    for (const b of this.bindings) {
      if (b.event !== name) continue;
      if (b.offline) {
        if (connector && b.connector === connector) continue;
        if (!queued) this.enqueue(name, data, objectKey, b.connector);
        queued = true;
      } else this.deliver(b, name, data, false);
    }
    if (queued) {
      const now = this.host.now();
      for (const b of this.bindings) {
        if (b.event !== 'ONOFFLINEEVENT' || b.offline) continue;
        if (b.minTimeout > 0 && now - b.lastNotify < b.minTimeout * 1000) continue;
        b.lastNotify = now;
        this.deliver(b, 'ONOFFLINEEVENT', [], true);
      }
    }
  }

  private enqueue(event: string, data: unknown, objectKey: string, connector: string): void {
    const messageId = createHash('md5')
      .update(event + '|' + objectKey)
      .digest('hex');
    const now = this.host.now();
    const existing = this.offline.find((r) => r.MESSAGE_ID === messageId && !r.PROCESS_ID && !r.ERROR);
    if (existing) {
      existing.TIMESTAMP_X = now;
      existing.EVENT_DATA = data;
    } else {
      this.offline.push({
        ID: this.nextOfflineId++,
        TIMESTAMP_X: now,
        EVENT_NAME: event,
        EVENT_DATA: data,
        EVENT_ADDITIONAL: { user_id: 1 },
        MESSAGE_ID: messageId,
        PROCESS_ID: '',
        ERROR: 0,
        CONNECTOR_ID: connector,
      });
    }
    this.stats.queued++;
    this.host.dirty();
  }

  /** Sends one online event (no retries; failures are counted and dropped). Also used for ONAPPINSTALL. */
  deliver(
    b: Pick<Binding, 'ID' | 'handler' | 'authType' | 'outgoingToken'>,
    event: string,
    data: unknown,
    withRefresh: boolean,
  ): void {
    let auth = this.host.eventAuth(b.authType || 1, withRefresh);
    if (b.outgoingToken) {
      // outgoing webhooks carry no tokens: domain, endpoints, member_id and their own application_token
      auth = {
        domain: auth.domain,
        client_endpoint: auth.client_endpoint,
        server_endpoint: auth.server_endpoint,
        member_id: auth.member_id,
        application_token: b.outgoingToken,
      };
    }
    const body = buildQuery({
      event,
      event_handler_id: String(b.ID),
      data,
      ts: String(Math.floor(this.host.now() / 1000)),
      auth,
    });
    const p = (async () => {
      try {
        const res = await fetch(b.handler, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'Bitrix24 Webhook Engine' },
          body,
          signal: AbortSignal.timeout(10_000),
        });
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) this.stats.sent++;
        else this.stats.failed++;
      } catch {
        this.stats.failed++;
        this.host.log(`event ${event}: delivery to handler #${b.ID} failed (dropped, no retry)`);
      }
    })();
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  }

  /** Waits for in-flight deliveries (close/tests). */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.inflight]);
  }

  /** Rows as `event.offline.*` print them. */
  static view(r: OfflineRow, withProcess: boolean): Record<string, unknown> {
    const o: Record<string, unknown> = {
      ID: String(r.ID),
      TIMESTAMP_X: isoDate(r.TIMESTAMP_X),
      EVENT_NAME: r.EVENT_NAME,
      EVENT_DATA: r.EVENT_DATA,
      EVENT_ADDITIONAL: r.EVENT_ADDITIONAL,
      MESSAGE_ID: r.MESSAGE_ID,
    };
    if (withProcess) {
      o.PROCESS_ID = r.PROCESS_ID;
      o.ERROR = String(r.ERROR);
      o.CONNECTOR_ID = r.CONNECTOR_ID;
    }
    return o;
  }

  /** New process id for a reservation. */
  static processId(): string {
    return randomBytes(16).toString('hex');
  }
}
