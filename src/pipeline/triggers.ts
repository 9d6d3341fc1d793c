/**
 * What a pipeline's triggers allow: which are interactive (a person can confirm), which pre-approve writes.
 * Used by the checker, the runner and the trigger service (src/triggers).
 */
import type { Pipeline, Trigger } from '../generated/pipeline.js';

/** Kind of a trigger entry: `schedule`, `event` or `chat`. */
export type TriggerKind = 'schedule' | 'event' | 'chat';

/** The kind of a trigger entry (each entry has exactly one key). */
export function triggerKind(t: Trigger): TriggerKind {
  return t.schedule ? 'schedule' : t.event ? 'event' : 'chat';
}

/** Schedules and events run with nobody watching; chat (and the CLI) have a person who can confirm. */
export function isInteractive(kind: TriggerKind | 'cli' | 'api'): boolean {
  return kind === 'chat' || kind === 'cli' || kind === 'api';
}

/** True when the trigger entry pre-approves writes (`approve: [write]`); destructive steps are never pre-approved. */
export function triggerApprovesWrite(t: Trigger): boolean {
  const a = t.schedule?.approve ?? t.event?.approve ?? [];
  return a.includes('write');
}

/** Triggers of a pipeline by kind (convenience for src/triggers). */
export function pipelineTriggers(p: Pipeline): {
  schedules: NonNullable<Trigger['schedule']>[];
  events: NonNullable<Trigger['event']>[];
  chats: NonNullable<Trigger['chat']>[];
} {
  const t = p.triggers ?? [];
  return {
    schedules: t.flatMap((x) => (x.schedule ? [x.schedule] : [])),
    events: t.flatMap((x) => (x.event ? [x.event] : [])),
    chats: t.flatMap((x) => (x.chat ? [x.chat] : [])),
  };
}

/** Every Bitrix24 event name the pipeline reacts to (upper case, deduplicated). */
export function pipelineEvents(p: Pipeline): string[] {
  return [...new Set(pipelineTriggers(p).events.flatMap((e) => e.events.map((x) => x.toUpperCase())))];
}
