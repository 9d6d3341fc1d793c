/**
 * A sample event for trying an event pipeline in chat: an event pipeline cannot be planned without the event it
 * reacts to, so the chat plans it as if the event had just arrived for the newest record of its entity — the person
 * sees what it would do on real data, and nothing runs until they confirm (or save it for serve).
 */
import type { PipelineClient } from '../pipeline/index.js';

/**
 * CRM events whose record can be sampled: `ONCRM<ENTITY><ADD|UPDATE>` → the entity's list method.
 * Source: api-reference/crm/leads/events/on-crm-lead-add.md (and the deal, contact and company pages): the event's
 * `data.FIELDS.ID` is the record's id.
 */
const SAMPLED: Record<string, string> = {
  LEAD: 'crm.lead.list',
  DEAL: 'crm.deal.list',
  CONTACT: 'crm.contact.list',
  COMPANY: 'crm.company.list',
};

/** The event a pipeline receives as `inputs.event` (the shape the dispatcher passes, src/triggers/dispatcher.ts). */
export interface SampleEvent {
  name: string;
  data: { FIELDS: { ID: string } };
  /** Unix seconds. */
  ts: number;
  objectId: string;
  /** Always `sample`: a pipeline can tell a try-out from a delivered event. */
  source: 'sample';
}

/**
 * The sample for an event name: the newest record of its entity (`order: {ID: DESC}`, one id read).
 * @returns the event and its entity in words (`lead`, `deal`, …); undefined for an event with no sampled entity (`ONCRMDYNAMICITEMADD`, `ONTASKADD`, …) or an empty entity
 * @throws what the client throws for the list call (portal errors)
 */
export async function sampleEvent(
  client: PipelineClient,
  name: string,
): Promise<{ event: SampleEvent; entity: string } | undefined> {
  const m = /^ONCRM(LEAD|DEAL|CONTACT|COMPANY)(ADD|UPDATE)$/.exec(name.toUpperCase());
  const method = m ? SAMPLED[m[1]!] : undefined;
  if (!m || !method) return undefined;
  const r = await client.call<{ ID: string | number }[]>(method, { order: { ID: 'DESC' }, select: ['ID'], start: 0 });
  const id = Array.isArray(r.result) ? r.result[0]?.ID : undefined;
  if (id === undefined) return undefined;
  const event: SampleEvent = {
    name: name.toUpperCase(),
    data: { FIELDS: { ID: String(id) } },
    ts: Math.floor(Date.now() / 1000),
    objectId: String(id),
    source: 'sample',
  };
  return { event, entity: m[1]!.toLowerCase() };
}

/** The event names of a pipeline document's event triggers, in order, without repeats. */
export function eventsOf(doc: Record<string, unknown>): string[] {
  const triggers = Array.isArray(doc.triggers) ? (doc.triggers as Record<string, unknown>[]) : [];
  const names = triggers.flatMap((t) => {
    const ev = t && typeof t === 'object' ? (t.event as { events?: unknown } | undefined) : undefined;
    return Array.isArray(ev?.events) ? ev.events.map(String) : [];
  });
  return [...new Set(names)];
}
