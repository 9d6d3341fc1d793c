/**
 * Loop guard: writes made by b24flow's own pipelines must not come back as new events and start the pipelines again.
 *
 * Two layers (api-reference/events/event-bind.md, offline-events.md, safe-event-handlers.md):
 * 1. `auth_connector`: every modifying call made by a triggered pipeline carries our connector key; Bitrix24 then
 *    does not queue offline events for handlers bound with the same key (`event.bind ... auth_connector`).
 * 2. Recognition of own changes: the guarded client remembers which objects it wrote (entity + id, time); an event
 *    about such an object that happened within `windowMs` of our write is recognised as ours and not dispatched.
 *    This covers online events, where `auth_connector` does not apply.
 */
import type { LogFn } from './types.js';

/** Default connector key; `B24FLOW_AUTH_CONNECTOR` overrides. */
export const DEFAULT_AUTH_CONNECTOR = 'b24flow';

const WRITE_RE = /\.(add|update|delete|set|move|complete|start|pause|defer|renew|approve|disapprove|bind|unbind)$/i;

/** True for methods that change portal data (by their verb). */
export function isWriteMethod(method: string): boolean {
  return WRITE_RE.test(method) && !/^event\./i.test(method) && !/^batch$/i.test(method);
}

/** Entity of a REST method (`crm.deal.update` → `deal`, `tasks.task.add` → `task`, `crm.item.update` → `item:<entityTypeId>`). */
export function entityOfMethod(method: string, params?: Record<string, unknown>): string | undefined {
  const m = method.toLowerCase();
  let r = /^crm\.(deal|lead|contact|company|quote|invoice)\.(add|update|delete)$/.exec(m);
  if (r) return r[1];
  if (/^tasks\.task\.(add|update|delete|complete|start)$/.test(m)) return 'task';
  r = /^crm\.item\.(add|update|delete)$/.exec(m);
  if (r) {
    const t = params?.entityTypeId ?? params?.ENTITY_TYPE_ID;
    const map: Record<string, string> = { '1': 'lead', '2': 'deal', '3': 'contact', '4': 'company' };
    return t === undefined ? undefined : (map[String(t)] ?? `item:${t}`);
  }
  return undefined;
}

/** Entity of an event name (`ONCRMDEALUPDATE` → `deal`, `ONTASKUPDATE` → `task`). */
export function entityOfEvent(name: string): string | undefined {
  const n = name.toUpperCase();
  const r = /^ONCRM(DEAL|LEAD|CONTACT|COMPANY|QUOTE|INVOICE)(ADD|UPDATE|DELETE)$/.exec(n);
  if (r) return r[1]!.toLowerCase();
  if (/^ONTASK(ADD|UPDATE|DELETE)$/.test(n)) return 'task';
  return undefined;
}

/** Objects written by our own pipelines recently: `entity:id` → time of the write (ms). */
export class OwnWrites {
  private readonly writes = new Map<string, number>();
  constructor(readonly windowMs = 15_000) {}

  /** Records a write of `entity` `id` whose request started at `startedAt` (ms, default now). */
  record(entity: string, id: string | number, startedAt = Date.now()): void {
    this.writes.set(`${entity}:${id}`, startedAt);
    if (this.writes.size > 50_000) this.prune();
  }

  private prune(): void {
    const cutoff = Date.now() - this.windowMs;
    for (const [k, t] of this.writes) if (t < cutoff) this.writes.delete(k);
  }

  /**
   * True when the event is about an object we wrote recently (within `windowMs`) and the event happened at or
   * after the start of our write (`eventTsSec` Unix s, whole seconds: one second of slack). A change made by
   * someone else before our write is therefore not taken for ours.
   */
  isOwn(eventName: string, objectId: string | undefined, eventTsSec: number): boolean {
    const entity = entityOfEvent(eventName);
    if (!entity || objectId === undefined) return false;
    const t = this.writes.get(`${entity}:${objectId}`);
    if (t === undefined) return false;
    if (Date.now() - t > this.windowMs) return false;
    return eventTsSec * 1000 >= t - 1000 && eventTsSec * 1000 <= t + this.windowMs;
  }
}

function idFromResult(result: unknown): string | undefined {
  if (typeof result === 'number' || (typeof result === 'string' && /^\d+$/.test(result))) return String(result);
  if (result && typeof result === 'object') {
    const r = result as Record<string, any>;
    const id = r.item?.id ?? r.task?.id ?? r.id ?? r.ID;
    if (id !== undefined && id !== null) return String(id);
  }
  return undefined;
}

function idFromParams(params: Record<string, unknown> | undefined): string | undefined {
  const id = params?.id ?? params?.ID ?? params?.taskId ?? params?.TASKID;
  return id === undefined || id === null ? undefined : String(id);
}

/**
 * Wraps a client (anything with `call` and optionally `batch`) for pipelines started by triggers: adds
 * `auth_connector` to every modifying call (also inside `batch` commands) and records the objects written into
 * `own`. Every other member is passed through unchanged.
 */
export function guardClient<C extends object>(
  client: C,
  opts: { authConnector?: string; own: OwnWrites; log?: LogFn },
): C {
  const connector = opts.authConnector;
  const note = (method: string, params: Record<string, unknown> | undefined, result: unknown, startedAt: number) => {
    const entity = entityOfMethod(method, params);
    if (!entity) return;
    const id = /\.add$/i.test(method) ? idFromResult(result) : idFromParams(params);
    if (id) opts.own.record(entity, id, startedAt);
  };
  const withConnector = (method: string, params: unknown): unknown => {
    if (!connector || !isWriteMethod(method)) return params;
    if (params && typeof params === 'object' && !Array.isArray(params)) return { ...params, auth_connector: connector };
    if (params === undefined) return { auth_connector: connector };
    return params;
  };
  return new Proxy(client, {
    get(target, prop, receiver) {
      const orig = Reflect.get(target, prop, receiver);
      if (prop === 'call' && typeof orig === 'function') {
        return async (method: string, params?: any, o?: any) => {
          const started = Date.now();
          const res = await orig.call(target, method, withConnector(method, params), o);
          note(method, params && !Array.isArray(params) ? params : undefined, (res as any)?.result, started);
          return res;
        };
      }
      if (prop === 'batch' && typeof orig === 'function') {
        return async (commands: any, o?: any) => {
          const entries: [string, any][] = Array.isArray(commands)
            ? commands.map((c: any, i: number) => [String(i), c])
            : Object.entries(commands ?? {});
          const patched = entries.map(([k, c]) => [
            k,
            c && typeof c === 'object' && typeof c.method === 'string'
              ? { ...c, params: withConnector(c.method, c.params) }
              : c,
          ]);
          const arg = Array.isArray(commands) ? patched.map(([, c]) => c) : Object.fromEntries(patched);
          const started = Date.now();
          const res = await orig.call(target, arg, o);
          try {
            const results = (res as any)?.results ?? (res as any)?.result ?? {};
            for (const [k, c] of entries) {
              if (c && typeof c.method === 'string' && k in results) note(c.method, c.params, results[k], started);
            }
          } catch {}
          return res;
        };
      }
      return typeof orig === 'function' ? orig.bind(target) : orig;
    },
  });
}
