/**
 * The plan flow of a chat: show a plan with Confirm/Cancel (or run a read-only one at once), cancel it, confirm it
 * (a second confirmation for destructive plans, linked users only, before expiry), and plan again when the data
 * drifted since the plan. Confirmation is bound to the plan id the user received.
 */
import type { AgentCore } from './core.js';
import { PlanRefusal, type RunView } from './engine.js';
import { formatPlan, formatRun } from './format.js';
import { formatReadResults } from './readResults.js';
import { type AgentReply, t } from './replies.js';
import { type AgentState, addDone, countRisk, nowIso } from './state.js';

/** The principal of a chat user's plans: only this user may apply them (not another user, not an API caller). */
export function chatPrincipal(state: AgentState): string {
  return `chat:${state.userId}`;
}

/**
 * Plans a checked pipeline and shows the plan with Confirm/Cancel, or runs it at once when it writes nothing.
 * @param lead text shown above the plan (the planner's reply, or the drift notice)
 */
export async function presentPlan(
  core: AgentCore,
  state: AgentState,
  pipeline: unknown,
  origin: { source: 'planner' | 'named'; pipelineName?: string; inputs?: Record<string, unknown>; json: unknown },
  lead: string,
): Promise<AgentReply> {
  const plan = await core.engine.plan(pipeline, origin.inputs ?? {}, chatPrincipal(state));
  state.metrics.plans++;
  countRisk(state, plan.riskFields);
  const expiresAt = new Date(
    Math.min(Date.parse(plan.expiresAt) || Number.POSITIVE_INFINITY, core.clock() + core.planTtlMs),
  ).toISOString();
  const summary = plan.writes.length
    ? `${plan.writes.length} write(s): ${plan.writes
        .slice(0, 3)
        .map((w) => w.text)
        .join('; ')}`.slice(0, 300)
    : 'reads only';
  state.lastPlan = {
    at: nowIso(),
    planId: plan.id,
    summary,
    pipeline: origin.json,
    ...(origin.inputs ? { inputs: origin.inputs } : {}),
    source: origin.source,
    ...(origin.pipelineName ? { pipelineName: origin.pipelineName } : {}),
    risk: plan.risk,
    expiresAt,
    status: 'proposed',
  };
  void core.log.append(state.userId, {
    kind: 'plan',
    planId: plan.id,
    risk: plan.risk,
    writes: plan.writes.map((w) => w.text),
  });
  if (plan.writes.length === 0) {
    // Nothing to approve: reads only, run it now (applying the plan keeps its single-use and drift checks).
    const run = await core.engine.apply(plan.id, {
      confirmWrite: false,
      confirmDestructive: false,
      principal: chatPrincipal(state),
    });
    state.lastPlan.status = 'applied';
    recordRun(state, run);
    const read = formatReadResults(plan.reads, run.outputs, state.lang);
    return { kind: 'done', text: [lead, formatRun(run, state.lang), read].filter(Boolean).join('\n\n'), run };
  }
  const planShown = { ...plan, expiresAt };
  return {
    kind: 'plan',
    text: [lead, formatPlan(planShown, state.lang)].filter(Boolean).join('\n\n'),
    planId: plan.id,
    plan: planShown,
    buttons: [
      { text: t(state, 'Confirm', 'Подтвердить'), data: `c:${plan.id}` },
      { text: t(state, 'Cancel', 'Отменить'), data: `x:${plan.id}` },
    ],
  };
}

/** Cancels the user's current plan (`x:<id>` or `/cancel`). */
export function cancelPlan(core: AgentCore, state: AgentState, planId: string): Promise<AgentReply> {
  const lp = state.lastPlan;
  if (lp && lp.planId === planId && lp.status === 'proposed') {
    lp.status = 'cancelled';
    void core.log.append(state.userId, { kind: 'cancel', planId });
    return saved(core, state, {
      kind: 'info',
      text: t(state, 'Cancelled. Nothing was changed.', 'Отменено. Ничего не изменено.'),
    });
  }
  return Promise.resolve({
    kind: 'info',
    text: t(state, 'This plan is no longer active.', 'Этот план уже неактивен.'),
  });
}

/**
 * Confirms a plan (`c:<id>`, then `d:<id>` for destructive ones) and applies it; refusals change nothing.
 * @throws what the engine throws besides {@link PlanRefusal}
 */
export async function confirmPlan(
  core: AgentCore,
  state: AgentState,
  planId: string,
  stage: 'write' | 'destructive',
): Promise<AgentReply> {
  const lp = state.lastPlan;
  const refuse = async (text: string): Promise<AgentReply> => {
    state.metrics.refusals++;
    void core.log.append(state.userId, { kind: 'refusal', planId, text });
    return saved(core, state, { kind: 'refused', text });
  };
  if (!lp || lp.planId !== planId) {
    return refuse(
      t(
        state,
        'This plan is not the current one; nothing was changed. Send the request again.',
        'Этот план не текущий; ничего не изменено. Отправьте запрос ещё раз.',
      ),
    );
  }
  if (lp.status !== 'proposed') {
    return refuse(
      t(
        state,
        `This plan was already ${lp.status}; nothing was changed.`,
        'Этот план уже обработан; ничего не изменено.',
      ),
    );
  }
  if (lp.expiresAt && Date.parse(lp.expiresAt) <= core.clock()) {
    lp.status = 'refused';
    return refuse(
      t(
        state,
        'This plan has expired; nothing was changed. Send the request again for a fresh plan.',
        'Срок действия плана истёк; ничего не изменено. Отправьте запрос ещё раз.',
      ),
    );
  }
  if (core.requireLink && !state.bitrixUserId) {
    return refuse(
      t(
        state,
        'Only linked users can confirm changes. Send /link <your Bitrix24 user id> first; nothing was changed.',
        'Подтверждать изменения могут только связанные пользователи. Сначала отправьте /link <ваш id пользователя Битрикс24>; ничего не изменено.',
      ),
    );
  }
  if (lp.risk === 'destructive' && stage === 'write') {
    lp.destructiveArmed = true;
    void core.log.append(state.userId, { kind: 'confirm', planId, stage: 'first' });
    return saved(core, state, {
      kind: 'plan',
      planId,
      text: t(
        state,
        'This plan deletes data and cannot be undone. Confirm the deletion once more.',
        'План удаляет данные без возможности восстановления. Подтвердите удаление ещё раз.',
      ),
      buttons: [
        { text: t(state, 'Yes, delete', 'Да, удалить'), data: `d:${planId}` },
        { text: t(state, 'Cancel', 'Отменить'), data: `x:${planId}` },
      ],
    });
  }
  if (stage === 'destructive' && !lp.destructiveArmed) {
    return refuse(
      t(state, 'Confirm the plan first; nothing was changed.', 'Сначала подтвердите план; ничего не изменено.'),
    );
  }
  void core.log.append(state.userId, { kind: 'confirm', planId, stage });
  let run: RunView;
  try {
    run = await core.engine.apply(planId, {
      confirmWrite: true,
      confirmDestructive: lp.risk === 'destructive' && stage === 'destructive',
      principal: chatPrincipal(state),
    });
  } catch (err) {
    if (!(err instanceof PlanRefusal)) throw err;
    if (err.reason === 'drifted') {
      lp.status = 'refused';
      return saved(core, state, await replan(core, state));
    }
    lp.status = 'refused';
    const why =
      err.reason === 'expired'
        ? t(state, 'This plan has expired', 'Срок действия плана истёк')
        : err.reason === 'used'
          ? t(state, 'This plan was already used', 'Этот план уже использован')
          : t(state, 'This plan cannot be applied', 'Этот план нельзя применить');
    return refuse(`${why}; ${t(state, 'nothing was changed.', 'ничего не изменено.')}`);
  }
  lp.status = 'applied';
  recordRun(state, run);
  void core.log.append(state.userId, { kind: 'run', runId: run.runId, status: run.status, objectIds: run.objectIds });
  return saved(core, state, { kind: 'done', text: formatRun(run, state.lang), run });
}

/** The data changed since the plan: plan the same pipeline again and show the new plan. */
async function replan(core: AgentCore, state: AgentState): Promise<AgentReply> {
  const lp = state.lastPlan!;
  let pipeline: unknown;
  if (lp.source === 'named' && lp.pipelineName) {
    const p = (await core.engine.pipelines()).find((x) => x.name === lp.pipelineName);
    pipeline = p ? (await core.engine.loadNamed(p)).pipeline : undefined;
  } else {
    pipeline = (await core.engine.check(lp.pipeline, `chat:${state.userId}`)).pipeline;
  }
  if (pipeline === undefined) {
    return {
      kind: 'refused',
      text: t(
        state,
        'The data changed and the plan can no longer be rebuilt; nothing was changed.',
        'Данные изменились, и план нельзя пересобрать; ничего не изменено.',
      ),
    };
  }
  const reply = await presentPlan(
    core,
    state,
    pipeline,
    {
      source: lp.source,
      ...(lp.pipelineName ? { pipelineName: lp.pipelineName } : {}),
      ...(lp.inputs ? { inputs: lp.inputs } : {}),
      json: lp.pipeline,
    },
    t(
      state,
      'The data changed since the plan, nothing was changed. Here is the updated plan:',
      'Данные изменились с момента плана, ничего не изменено. Обновлённый план:',
    ),
  );
  return reply;
}

/** Records a finished run in the user's state (done list, last object ids). */
function recordRun(state: AgentState, run: RunView): void {
  const desc = (state.lang === 'ru' ? run.summary.ru : run.summary.en).join('; ') || run.status;
  addDone(state, desc.slice(0, 300), run.objectIds, run.runId);
  for (const id of run.objectIds) {
    const m = /^([a-z_]+):(\d+)$/.exec(id);
    if (m) state.objects[`current_${m[1]}_id`] = m[2] as string;
  }
}

/** Saves the state, then answers. */
async function saved(core: AgentCore, state: AgentState, reply: AgentReply): Promise<AgentReply> {
  await core.store.save(state);
  return reply;
}
