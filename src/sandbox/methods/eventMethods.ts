/**
 * The REST side of events: `event.bind/unbind/get/test` (application context only; event.test fires ONAPPTEST), the offline queue
 * `event.offline.get/clear/error/list` (process_id reservations, clear=0, auth_connector loop breaker) and
 * `events` (the names a portal knows). Delivery itself lives in ../events.ts. Sources:
 * apidocs.bitrix24.com/api-reference/events/event-bind.html, …/event-unbind.html, …/event-offline-get.html,
 * …/event-offline-clear.html, …/event-offline-error.html, …/event-offline-list.html (b24-spec spec/index.json maps each
 * method to its page), doc api-reference/events/offline-events.md; rest-protocol.md §6.
 */
import { ApiError, argError } from '../apiError.js';
import { EventHub } from '../events.js';
import { asList, pick, truthy } from '../params.js';
import { listOut, PAGE, type Registry, readStart } from '../registry.js';
import { compileFilter, compileOrder, runQuery, Table } from '../store.js';

/** Event names `event.bind` accepts (the ones the sandbox fires, plus app lifecycle events). */
const EVENT_NAMES = [
  'ONAPPINSTALL',
  'ONAPPUNINSTALL',
  'ONAPPUPDATE',
  'ONAPPTEST',
  'ONOFFLINEEVENT',
  'ONCRMDEALADD',
  'ONCRMDEALUPDATE',
  'ONCRMDEALDELETE',
  'ONCRMLEADADD',
  'ONCRMLEADUPDATE',
  'ONCRMLEADDELETE',
  'ONCRMCONTACTADD',
  'ONCRMCONTACTUPDATE',
  'ONCRMCONTACTDELETE',
  'ONCRMCOMPANYADD',
  'ONCRMCOMPANYUPDATE',
  'ONCRMCOMPANYDELETE',
  'ONCRMACTIVITYADD',
  'ONCRMACTIVITYUPDATE',
  'ONCRMACTIVITYDELETE',
  'ONCRMTIMELINECOMMENTADD',
  'ONCRMTIMELINECOMMENTUPDATE',
  'ONCRMTIMELINECOMMENTDELETE',
  'ONIMBOTMESSAGEADD',
  'ONIMCOMMANDADD',
  'ONIMJOINCHAT',
  'ONIMBOTDELETE',
  'ONTASKADD',
  'ONTASKUPDATE',
  'ONTASKDELETE',
  'ONTASKCOMMENTADD',
  'ONTASKCOMMENTUPDATE',
  'ONTASKCOMMENTDELETE',
];

/** Registers `event.*`, `event.offline.*` and `events`. */
export function eventMethods(r: Registry): void {
  const app = { appOnly: true };
  r.many(
    'basic',
    {
      'event.bind': (ctx, p) => {
        const event = String(pick(p, 'event', 'EVENT') ?? '').toUpperCase();
        const type = String(pick(p, 'event_type', 'EVENT_TYPE') ?? 'online').toLowerCase();
        const offline = type === 'offline';
        const handler = String(pick(p, 'handler', 'HANDLER') ?? '');
        if (!EVENT_NAMES.includes(event)) throw new ApiError(400, 'ERROR_EVENT_NOT_FOUND', 'Event not found');
        if (!offline && !/^https?:\/\//.test(handler))
          throw new ApiError(400, 'ERROR_HANDLER_URL_MISMATCH', 'Wrong handler URL');
        const authType = Number(pick(p, 'auth_type', 'AUTH_TYPE') ?? 0) || 0;
        const connector = String(pick(p, 'auth_connector', 'AUTH_CONNECTOR') ?? '');
        const hub = ctx.portal.events;
        if (
          hub.bindings.some(
            (b) =>
              b.event === event &&
              b.offline === offline &&
              (offline ? b.connector === connector : b.handler === handler) &&
              b.authType === authType,
          )
        ) {
          throw new ApiError(400, 'ERROR_HANDLER_ALREADY_EXIST', 'Handler already exists!');
        }
        const options = pick(p, 'options') ?? {};
        hub.bindings.push({
          ID: hub.nextBindingId++,
          event,
          handler: offline ? '' : handler,
          authType,
          offline,
          connector,
          minTimeout: Number((options as any).minTimeout ?? 1),
          lastNotify: 0,
        });
        ctx.portal.dirty();
        return { result: true, write: true };
      },
      'event.unbind': (ctx, p) => {
        const event = String(pick(p, 'event', 'EVENT') ?? '').toUpperCase();
        const handler = String(pick(p, 'handler', 'HANDLER') ?? '');
        const type = String(pick(p, 'event_type', 'EVENT_TYPE') ?? 'online').toLowerCase();
        const authType = Number(pick(p, 'auth_type', 'AUTH_TYPE') ?? 0) || 0;
        const hub = ctx.portal.events;
        const before = hub.bindings.length;
        hub.bindings = hub.bindings.filter(
          (b) =>
            !(
              b.event === event &&
              b.offline === (type === 'offline') &&
              (b.offline || b.handler === handler) &&
              b.authType === authType
            ),
        );
        const count = before - hub.bindings.length;
        if (!EVENT_NAMES.includes(event)) throw new ApiError(400, 'ERROR_EVENT_NOT_FOUND', 'Event not found');
        ctx.portal.dirty();
        return { result: { count }, write: true };
      },
      'event.get': (ctx) => ({
        result: ctx.portal.events.bindings.map((b) => ({
          event: b.event,
          handler: b.handler,
          auth_type: String(b.authType),
          offline: b.offline ? 1 : 0,
          ...(b.connector ? { connector_id: b.connector } : {}),
        })),
      }),
      'event.test': (ctx, p) => {
        ctx.portal.events.fire('ONAPPTEST', { QUERY: p }, 'test:' + Date.now());
        return { result: 1 };
      },
      'event.offline.get': (ctx, p) => {
        const hub = ctx.portal.events;
        const clear = pick(p, 'clear') === undefined ? true : truthy(pick(p, 'clear'));
        const processId = pick(p, 'process_id');
        const error = truthy(pick(p, 'error'));
        const limit = Math.max(1, Math.min(1000, Number(pick(p, 'limit') ?? 50)));
        const connector = String(pick(p, 'auth_connector') ?? '');
        const resolve = offlineResolver;
        const f = compileFilter(pick(p, 'filter'), resolve);
        const order = compileOrder(pick(p, 'order') ?? { TIMESTAMP_X: 'ASC' }, resolve, () =>
          argError('Invalid order'),
        );
        let rows: any[];
        const now = ctx.portal.clock.now();
        for (const r of hub.offline) {
          if (r.PROCESS_ID && (r.RESERVED_AT ?? now) < now - 30 * 86_400_000) {
            r.PROCESS_ID = '';
            r.RESERVED_AT = undefined;
          }
        }
        if (processId) rows = hub.offline.filter((r) => r.PROCESS_ID === processId);
        else
          rows = hub.offline.filter(
            (r) => !r.PROCESS_ID && (error ? true : !r.ERROR) && (!connector || r.CONNECTOR_ID === connector),
          );
        const t = new Table('offline');
        t.load([...rows]);
        rows = runQuery(t, f, order, 0, limit, false).rows;
        let pid: string | null = null;
        if (clear) {
          const ids = new Set(rows.map((r) => r.ID));
          hub.offline = hub.offline.filter((r) => !ids.has(r.ID));
        } else {
          pid = processId ? String(processId) : EventHub.processId();
          for (const r of rows) {
            r.PROCESS_ID = pid;
            r.RESERVED_AT ??= now;
          }
        }
        if (rows.length) ctx.portal.dirty();
        return { result: { process_id: pid, events: rows.map((r) => EventHub.view(r, false)) }, rows: rows.length };
      },
      'event.offline.clear': (ctx, p) => {
        const pid = pick(p, 'process_id');
        if (!pid) throw argError('process_id is required');
        const ids = asList(pick(p, 'id'))?.map(Number);
        const msgs = asList(pick(p, 'message_id'))?.map(String);
        const hub = ctx.portal.events;
        hub.offline = hub.offline.filter((r) => {
          if (r.PROCESS_ID !== pid) return true;
          if (ids) return !ids.includes(r.ID);
          if (msgs) return !msgs.includes(r.MESSAGE_ID);
          return false;
        });
        ctx.portal.dirty();
        return { result: true, write: true };
      },
      'event.offline.error': (ctx, p) => {
        const pid = pick(p, 'process_id');
        if (!pid) throw argError('process_id is required');
        const msgs = asList(pick(p, 'message_id'))?.map(String);
        for (const r of ctx.portal.events.offline) {
          if (r.PROCESS_ID === pid && (!msgs || msgs.includes(r.MESSAGE_ID))) {
            r.ERROR = 1;
            r.PROCESS_ID = '';
          }
        }
        ctx.portal.dirty();
        return { result: true, write: true };
      },
      'event.offline.list': (ctx, p) => {
        const t = new Table('offline');
        t.load([...ctx.portal.events.offline]);
        const f = compileFilter(pick(p, 'filter'), offlineResolver);
        const order = compileOrder(pick(p, 'order') ?? { ID: 'ASC' }, offlineResolver, () => argError('Invalid order'));
        const start = readStart(pick(p, 'start'));
        const q = runQuery(t, f, order, Math.max(0, start), PAGE, start >= 0);
        return listOut(
          q.rows.map((r) => EventHub.view(r as any, true)),
          q.rows.length,
          q.total,
          start,
        );
      },
    },
    app,
  );
  r.add({
    name: 'events',
    scope: 'basic',
    handler: (_ctx, p) => {
      const scope = pick(p, 'SCOPE', 'scope');
      let list = EVENT_NAMES;
      if (scope === 'crm') list = list.filter((e) => e.startsWith('ONCRM'));
      else if (scope === 'task') list = list.filter((e) => e.startsWith('ONTASK'));
      else if (scope) list = list.filter((e) => e.startsWith('ONAPP') || e === 'ONOFFLINEEVENT');
      return { result: list };
    },
  });
}

/** Filter/order fields of `event.offline.list`. */
const offlineResolver = (name: string) => {
  const key = name.toUpperCase();
  const kinds: Record<string, 'num' | 'date' | 'str'> = {
    ID: 'num',
    TIMESTAMP_X: 'date',
    EVENT_NAME: 'str',
    MESSAGE_ID: 'str',
    PROCESS_ID: 'str',
    ERROR: 'num',
  };
  return kinds[key] ? { key, kind: kinds[key]! } : null;
};
