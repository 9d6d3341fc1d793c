/**
 * Binding the events the pipelines declare on one portal (api-reference/events/event-bind.md, offline-events.md):
 * every declared event `event_type=offline` with our `auth_connector` (the loop breaker, see loopGuard.ts), and
 * `ONOFFLINEEVENT` online to the service's `/bitrix/events` when its public URL is known, so the offline queue is
 * pulled as soon as something lands in it. An existing binding counts as done. Application auth only: a webhook gets
 * `WRONG_AUTH_TYPE` (thrown).
 */
import type { TriggerPipeline } from './dispatcher.js';
import type { RestCaller } from './types.js';

/** One binding and what the portal said. */
export interface BindingResult {
  event: string;
  type: 'offline' | 'online';
  status: 'bound' | 'already bound';
}

/** The upper-case event names the pipelines' `event` triggers declare, sorted, once each. */
export function declaredEvents(pipelines: Pick<TriggerPipeline, 'def'>[]): string[] {
  const names = pipelines.flatMap((p) => (p.def.triggers ?? []).flatMap((t) => t.event?.events ?? []));
  return [...new Set(names.map((e) => e.toUpperCase()))].sort();
}

/**
 * Binds `events` on the portal of `client`.
 * @param o.authConnector our `auth_connector` (offline bindings)
 * @param o.handler the service's public `…/bitrix/events` URL: ONOFFLINEEVENT is bound there (omitted: not bound)
 * @param o.minTimeout ONOFFLINEEVENT throttle, seconds (default 1)
 * @throws what `event.bind` throws other than "handler already exists" (WRONG_AUTH_TYPE for a webhook)
 */
export async function bindPortalEvents(
  client: RestCaller,
  events: string[],
  o: { authConnector: string; handler?: string; minTimeout?: number },
): Promise<BindingResult[]> {
  const results: BindingResult[] = [];
  const bind = async (params: Record<string, unknown>, type: BindingResult['type']) => {
    try {
      await client.call('event.bind', params);
      results.push({ event: String(params.event), type, status: 'bound' });
    } catch (err) {
      const msg = `${(err as { code?: string }).code ?? ''} ${(err as Error).message}`;
      if (/ALREADY|Unable to set event handler|already exist/i.test(msg))
        results.push({ event: String(params.event), type, status: 'already bound' });
      else throw err;
    }
  };
  for (const event of events) await bind({ event, event_type: 'offline', auth_connector: o.authConnector }, 'offline');
  if (o.handler)
    await bind({ event: 'ONOFFLINEEVENT', handler: o.handler, options: { minTimeout: o.minTimeout ?? 1 } }, 'online');
  return results;
}
