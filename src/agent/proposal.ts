/**
 * A planner proposal in chat: it becomes the conversation's draft (what `/save` keeps and what the next message may
 * edit), is shown in short words, and is planned against the portal — an event pipeline on a sample event (the
 * newest record of its entity), since it cannot be planned without the event it reacts to.
 */
import { redact } from '../lib/redact.js';
import type { AgentCore } from './core.js';
import { PlanRefusal } from './engine.js';
import { describePipeline } from './pipelineWords.js';
import { presentPlan } from './planFlow.js';
import type { PlannerResult } from './planner.js';
import { type AgentReply, t, triggerNote } from './replies.js';
import { eventsOf } from './sampleEvent.js';
import { type AgentState, currentDraft, nowIso } from './state.js';

/** Where a pipeline shown in chat came from (the plan flow keeps it to re-plan a drifted plan). */
export type PlanOrigin = Parameters<typeof presentPlan>[3];

/**
 * Shows a checked planner proposal: keeps it as the draft (a proposal with the draft's name stays that saved
 * pipeline, so the next `/save` makes its next version), the pipeline in words, then its plan.
 */
export async function presentProposal(
  core: AgentCore,
  state: AgentState,
  result: Extract<PlannerResult, { kind: 'pipeline' }>,
): Promise<AgentReply> {
  const prev = currentDraft(state, core.clock());
  const same = prev?.name !== undefined && result.json.name === prev.name;
  state.draft = {
    pipeline: result.json,
    at: nowIso(),
    ...(same ? { name: prev.name, ...(prev.version ? { version: prev.version } : {}) } : {}),
  };
  const lead = [result.reply, describePipeline(result.json, core.engine.catalog, state.lang)];
  const origin: PlanOrigin = { source: 'planner', json: result.json };
  const events = eventsOf(result.json);
  if (events.length) {
    const save = t(
      state,
      `Save it (/save ${state.draft.name ?? '<name>'}) and serve runs it on every ${events.join(', ')}.`,
      `Сохраните его (/save ${state.draft.name ?? '<имя>'}), и serve будет запускать его на каждое ${events.join(', ')}.`,
    );
    return trySampleEvent(core, state, result.pipeline, origin, events, lead, {}, [save]);
  }
  return presentPlan(core, state, result.pipeline, origin, [...lead, triggerNote(state, result.json)].join('\n\n'));
}

/**
 * Plans an event pipeline as if one of its events had just arrived for the newest record of the event's entity
 * (`engine.sampleEvent`), so the person sees what it would do on real data. Without a sample (no such record, an
 * event with no sampled entity) or when the sample cannot be planned, the reply says so — nothing is planned or
 * written, and the pipeline can still be saved.
 * @param inputs the other inputs of the run (a named pipeline's `key=value` words)
 * @param tail lines shown last (the planner's proposal: how to save it)
 */
export async function trySampleEvent(
  core: AgentCore,
  state: AgentState,
  pipeline: unknown,
  origin: PlanOrigin,
  events: string[],
  lead: string[],
  inputs: Record<string, unknown> = {},
  tail: string[] = [],
): Promise<AgentReply> {
  const sample = await sampleOf(core, events);
  if (!sample) return { kind: 'info', text: [...lead, noSample(state, events), ...tail].join('\n\n') };
  const { event, entity } = sample;
  const tried = triedOn(state, sample);
  try {
    return await presentPlan(
      core,
      state,
      pipeline,
      { ...origin, inputs: { ...inputs, event } },
      [...lead, tried, ...tail].join('\n\n'),
    );
  } catch (err) {
    if (err instanceof PlanRefusal) throw err;
    // the sample is data the pipeline may not expect (a lead without a phone): the person decides, nothing ran
    const why = redact(err instanceof Error ? err.message : String(err))
      .split('\n')[0]!
      .slice(0, 300);
    return {
      kind: 'info',
      text: [
        ...lead,
        t(
          state,
          `I could not plan it for ${entity} #${event.objectId}: ${why}. Nothing was changed.`,
          `Не удалось запланировать для ${entity} #${event.objectId}: ${why}. Ничего не изменено.`,
        ),
        ...tail,
      ].join('\n\n'),
    };
  }
}

/** The first sample the events give (src/agent/sampleEvent.ts), or undefined. */
export async function sampleOf(
  core: AgentCore,
  events: string[],
): Promise<Awaited<ReturnType<NonNullable<AgentCore['engine']['sampleEvent']>>>> {
  for (const name of events) {
    const sample = await core.engine.sampleEvent?.(name);
    if (sample) return sample;
  }
  return undefined;
}

/** The reply when no record can stand in for the events. */
export function noSample(state: AgentState, events: string[]): string {
  return t(
    state,
    `I could not try it: there is no record to try ${events.join(', ')} on. Nothing was planned or changed.`,
    `Попробовать не на чем: нет записи для ${events.join(', ')}. Ничего не запланировано и не изменено.`,
  );
}

/** The line above a plan made on a sample event. */
export function triedOn(state: AgentState, s: { event: { name: string; objectId: string }; entity: string }): string {
  return t(
    state,
    `Tried on the newest ${s.entity} #${s.event.objectId}, as if ${s.event.name} had just arrived. Confirming runs it once now for that ${s.entity}; nothing else changes.`,
    `Проверено на последней записи (${s.entity} #${s.event.objectId}), как будто пришло ${s.event.name}. Подтверждение выполнит его один раз для этой записи.`,
  );
}
