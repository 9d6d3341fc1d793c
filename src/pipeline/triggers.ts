/**
 * What a pipeline's triggers allow: which are interactive (a person can confirm), which pre-approve writes.
 * Used by the checker, the runner and the trigger service (src/triggers).
 */
import type { Approve, Pipeline, Trigger } from '../generated/pipeline.js';

/** Kind of a trigger entry: `schedule`, `event` or `chat`. */
export type TriggerKind = 'schedule' | 'event' | 'chat';

/** The kind of a trigger entry (each entry has exactly one key). */
export function triggerKind(t: Trigger): TriggerKind {
  return t.schedule ? 'schedule' : t.event ? 'event' : 'chat';
}

/**
 * Schedules and events run with nobody watching; chat, the CLI, the HTTP API and an approved request (a person
 * decided) have a person who confirmed.
 */
export function isInteractive(kind: TriggerKind | 'cli' | 'api' | 'approval'): boolean {
  return kind === 'chat' || kind === 'cli' || kind === 'api' || kind === 'approval';
}

/** The `approve` value of a schedule or event entry as a list (`ask`, `write`, `[write]` → one-element lists). */
function approveList(a: Approve | undefined): string[] {
  return a === undefined ? [] : typeof a === 'string' ? [a] : [...a];
}

/**
 * True when the trigger entry pre-approves writes (`approve: write` or `[write]`); destructive steps are never
 * pre-approved.
 */
export function triggerApprovesWrite(t: Trigger): boolean {
  return approveList(t.schedule?.approve ?? t.event?.approve).includes('write');
}

/** True when a schedule/event `approve` value pre-approves writes (the entry's `approve` itself). */
export function approvesWrite(a: Approve | undefined): boolean {
  return approveList(a).includes('write');
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
