/**
 * The chat agent: one entry for text messages and button presses, with per-user ordering, error handling and the
 * dispatch to commands (./commands.ts), named pipelines, the planner and the plan flow (./planFlow.ts).
 */
import { redact } from '../lib/redact.js';
import { runCommand } from './commands.js';
import { detectLang } from './context.js';
import type { AgentCore } from './core.js';
import type { AskView, ChatEngine, NamedPipeline, RunView } from './engine.js';
import { InteractionLog } from './interactionLog.js';
import { type ChatLinks, MemoryLinks } from './links.js';
import { cancelPlan, confirmPlan, presentPlan } from './planFlow.js';
import { Planner, type PlannerResult } from './planner.js';
import { noSample, presentProposal, sampleOf, triedOn } from './proposal.js';
import { KeyedQueue } from './queue.js';
import { type AgentReply, degraded, missingFields, normalize, type PlannerLike, t } from './replies.js';
import { saveCommand } from './savedFlow.js';
import { type AgentState, addGoal, countMissing, nowIso, type StateStore, selfCheck } from './state.js';

export type { AgentReply, PlannerLike, ReplyButton } from './replies.js';

/** Options of {@link ChatAgent}. */
export interface ChatAgentOptions {
  engine: ChatEngine;
  /** Default: a planner without a model key (degraded mode: free-text planning off); the CLI passes the configured one. */
  planner?: PlannerLike;
  /** b24flow data dir (interaction logs). */
  dataDir: string;
  /** Where users' states live (the CLI passes the store's, src/store/agentState.ts; tests a MemoryStateStore). */
  state: StateStore;
  /**
   * Chat user ↔ Bitrix24 user links (the CLI passes the store's, src/store/links.ts; default: in memory, for tests).
   * A user's `bitrixUserId` is read from here on every message and button press.
   */
  links?: ChatLinks;
  /** Upper bound on a chat plan's validity in ms (the engine's TTL also applies; default 30 min). */
  planTtlMs?: number;
  /** Clock in ms since epoch for plan expiry (default `Date.now`; tests move it forward). */
  clock?: () => number;
  /** Unlinked users may not confirm writes (default true). */
  requireLink?: boolean;
  log?: InteractionLog;
  /** Receives unexpected errors with their (redacted) details, e.g. for TELEGRAM_ERROR_CHAT_ID. */
  onError?: (userId: string, details: string) => void;
}

/**
 * The chat agent shared by the Telegram bot, the HTTP API and `b24flow chat`: commands, named pipelines by
 * command or phrase, free text through the planner, plans with confirmation bound to the plan id, and the
 * per-user state. One message at a time per user (a {@link KeyedQueue}), users in parallel.
 */
export class ChatAgent {
  readonly engine: ChatEngine;
  readonly store: StateStore;
  readonly log: InteractionLog;
  readonly links: ChatLinks;
  readonly queue = new KeyedQueue();
  private readonly planner?: PlannerLike;
  private readonly onError: (userId: string, details: string) => void;
  /** What the plan flow and the commands work with. */
  private readonly core: AgentCore;

  constructor(opts: ChatAgentOptions) {
    this.engine = opts.engine;
    // No planner given: one without a model key, i.e. degraded mode (the composition root passes the configured one).
    this.planner = opts.planner ?? new Planner({ engine: opts.engine });
    this.store = opts.state;
    this.log = opts.log ?? new InteractionLog(opts.dataDir);
    this.links = opts.links ?? new MemoryLinks();
    this.onError = opts.onError ?? (() => {});
    this.core = {
      engine: this.engine,
      store: this.store,
      log: this.log,
      links: this.links,
      planTtlMs: opts.planTtlMs ?? 30 * 60_000,
      requireLink: opts.requireLink ?? true,
      clock: opts.clock ?? Date.now,
    };
  }

  /** True when free-text planning is configured (a model key is set). */
  get planningOn(): boolean {
    return this.planner?.available ?? false;
  }

  /**
   * Handles one text message from a user: a command (`/start`, `/pipelines`, `/run`, `/plan`, `/status`, `/dlq`,
   * `/link`, `/unlink`, `/cancel`), a named pipeline's command or phrase, or free text for the planner.
   * Never throws: failures become an `error` reply in plain words and details go to `onError`.
   */
  handleText(userId: string, text: string): Promise<AgentReply> {
    return this.queue.run(userId, () => this.guard(userId, () => this.dispatch(userId, text)));
  }

  /**
   * A button press: `c:<id>` confirm, `d:<id>` second confirmation of a destructive plan, `x:<id>` cancel.
   * Only the user who received the plan can act on it.
   */
  handleButton(userId: string, data: string): Promise<AgentReply> {
    return this.queue.run(userId, () =>
      this.guard(userId, async () => {
        const m = /^([cdx]):(.{1,120})$/.exec(data);
        const state = await this.loadState(userId);
        if (!m) return { kind: 'refused', text: t(state, 'Unknown button.', 'Неизвестная кнопка.') };
        const [, op, planId] = m as unknown as [string, string, string];
        if (op === 'x') return cancelPlan(this.core, state, planId);
        return confirmPlan(this.core, state, planId, op === 'd' ? 'destructive' : 'write');
      }),
    );
  }

  /** A user's state with `bitrixUserId` as the links say (the links are the one truth; the state only caches it). */
  private async loadState(userId: string): Promise<AgentState> {
    const state = await this.store.load(userId);
    const linked = await this.links.bitrixUserOf(userId);
    if (linked) state.bitrixUserId = linked;
    else delete state.bitrixUserId;
    return state;
  }

  private async guard(userId: string, fn: () => Promise<AgentReply>): Promise<AgentReply> {
    try {
      const reply = await fn();
      void this.log.append(userId, {
        kind: 'reply',
        replyKind: reply.kind,
        text: reply.text,
        ...(reply.planId ? { planId: reply.planId } : {}),
      });
      return reply;
    } catch (err) {
      const details = redact(err instanceof Error ? (err.stack ?? `${err.name}: ${err.message}`) : String(err));
      void this.log.append(userId, { kind: 'error', details: details.split('\n')[0] });
      this.onError(userId, details);
      const state = await this.store.load(userId).catch(() => undefined);
      const ru = state?.lang === 'ru';
      return {
        kind: 'error',
        text: ru
          ? 'Что-то пошло не так, ничего не изменено. Администратор уже получил подробности; попробуйте позже.'
          : 'Something went wrong and nothing was changed. The administrator has the details; please try again later.',
      };
    }
  }

  private async dispatch(userId: string, raw: string): Promise<AgentReply> {
    const text = raw.trim().slice(0, 4000);
    const state = await this.loadState(userId);
    // Commands are Latin whatever the user's language: they keep the language of the conversation so far.
    if (detectLang(text) === 'ru') state.lang = 'ru';
    else if (!text.startsWith('/') && /\p{L}{3,}/u.test(text)) state.lang = 'en';
    state.metrics.messages++;
    // A link code is a credential until used: the log's redaction masks `/link <code>` (src/lib/redact.ts).
    void this.log.append(userId, { kind: 'message', text });
    const cmd = /^\/([a-z_]+)(?:@\w+)?(?:\s+([\s\S]*))?$/i.exec(text);
    let reply: AgentReply;
    if (cmd) {
      const actions = {
        planningOn: this.planningOn,
        runNamed: (st: AgentState, p: NamedPipeline, inputs: Record<string, unknown>) => this.runNamed(st, p, inputs),
        planFreeText: (st: AgentState, text: string) => this.planFreeText(st, text),
      };
      reply = await runCommand(this.core, actions, state, (cmd[1] ?? '').toLowerCase(), (cmd[2] ?? '').trim());
    } else {
      // "save this as weekly-report" / "сохрани как weekly-report" / "save" (the draft's own name)
      const save =
        /^\s*(?:save(?: (?:this|it))?(?: as)?|сохрани(?:ть)?(?: (?:это|его))?(?: как)?)(?:\s+(\S+))?\s*[.!]?$/i.exec(
          text,
        );
      if (save) {
        const reply = await saveCommand(this.core, state, save[1] ?? '');
        await this.store.save(state);
        return reply;
      }
      const named = await this.matchPhrase(text);
      reply = named ? await this.runNamed(state, named, {}) : await this.planFreeText(state, text);
    }
    await this.store.save(state);
    return reply;
  }

  private async matchPhrase(text: string): Promise<NamedPipeline | undefined> {
    const norm = normalize(text);
    if (!norm) return undefined;
    for (const p of await this.engine.pipelines()) {
      for (const phrase of p.chat?.phrases ?? []) {
        const ph = normalize(phrase);
        if (ph && (norm === ph || norm.includes(ph))) return p;
      }
    }
    return undefined;
  }

  private async runNamed(state: AgentState, p: NamedPipeline, given: Record<string, unknown>): Promise<AgentReply> {
    let inputs = given;
    let lead = '';
    // an event pipeline run from chat is tried on a sample event (the newest record of the event's entity)
    if (p.events?.length && inputs.event === undefined) {
      const sample = await sampleOf(this.core, p.events);
      if (!sample) return { kind: 'info', text: `${p.name}: ${noSample(state, p.events)}` };
      inputs = { ...inputs, event: sample.event };
      lead = triedOn(state, sample);
    }
    const loaded = await this.engine.loadNamed(p);
    const errors = loaded.findings.filter((f) => f.severity === 'error');
    if (errors.length || loaded.pipeline === undefined) {
      state.metrics.refusals++;
      return {
        kind: 'refused',
        text: [
          t(
            state,
            `The pipeline "${p.name}" does not pass its checks; nothing was run.`,
            `Пайплайн «${p.name}» не прошёл проверку; ничего не запущено.`,
          ),
          ...errors.slice(0, 5).map((f) => `• ${f.message}`),
        ].join('\n'),
      };
    }
    addGoal(state, `${p.name}${Object.keys(given).length ? ` ${JSON.stringify(given)}` : ''}`);
    // a pipeline that names approvers is asked of them, never confirmed by the person who starts it
    const asked = await this.engine.ask?.(loaded.pipeline, inputs, state.bitrixUserId);
    if (asked) return askedReply(state, p.name, asked);
    try {
      return await presentPlan(
        this.core,
        state,
        loaded.pipeline,
        { source: 'named', pipelineName: p.name, inputs, json: undefined },
        lead,
      );
    } catch (err) {
      // Bad or missing inputs are the user's to fix, not an incident.
      if (!(err && typeof err === 'object' && (err as { exitCode?: number }).exitCode === 2)) throw err;
      state.metrics.refusals++;
      const findings = (err as { findings?: { message: string; field?: string }[] }).findings ?? [];
      const why = redact(
        findings.length
          ? findings.map((f) => `${f.field ? `${f.field.replace(/^\/inputs\//, '')}: ` : ''}${f.message}`).join('; ')
          : (err as Error).message.replace(/^\S+\.ya?ml: /, ''),
      ).slice(0, 300);
      return {
        kind: 'refused',
        text: `${t(state, `"${p.name}" cannot be planned with these inputs`, `«${p.name}» нельзя запланировать с такими входными данными`)}: ${why}`,
      };
    }
  }

  private async planFreeText(state: AgentState, text: string): Promise<AgentReply> {
    if (!this.planner?.available) {
      const named = await this.matchPhrase(text);
      if (named) return this.runNamed(state, named, {});
      return { kind: 'degraded', text: degraded(state) };
    }
    addGoal(state, text);
    const warnings = selfCheck(state);
    state.inProgress = [{ description: text.slice(0, 200), requestedAt: nowIso() }];
    let result: PlannerResult;
    try {
      result = await this.planner.plan(text, state, warnings);
    } finally {
      state.inProgress = [];
    }
    void this.log.append(state.userId, {
      kind: 'model',
      result: result.kind,
      packs: 'packs' in result ? result.packs : [],
      ...(result.kind === 'pipeline' ? { attempts: result.attempts, pipeline: result.json } : {}),
      ...(result.kind === 'refused'
        ? { findings: result.findings.map((f) => `${f.field} ${f.message} [${f.rule}]`) }
        : {}),
      ...(result.kind === 'degraded' ? { cause: result.cause } : {}),
    });
    switch (result.kind) {
      case 'degraded':
        return { kind: 'degraded', text: result.reply };
      case 'answer':
        return { kind: 'answer', text: result.reply, ...(warnings.length ? { warnings } : {}) };
      case 'refused':
        state.metrics.refusals++;
        countMissing(state, missingFields(result.findings));
        if (state.lastPlan?.status === 'proposed') state.lastPlan.status = 'refused';
        // "save this" after a refusal must not save an earlier proposal: the draft is gone with it
        delete state.draft;
        return { kind: 'refused', text: result.reply };
      case 'pipeline':
        if (result.repaired) countMissing(state, missingFields(result.repaired));
        return presentProposal(this.core, state, result);
    }
  }

  /**
   * Applies a plan for a trusted API caller (`POST /plans/:id/apply`): writes are approved by the call itself,
   * destructive steps only with `confirmDestructive`; only the principal that made the plan (`api:<key digest>`)
   * may apply it. Throws {@link PlanRefusal} like the engine.
   */
  applyForApi(planId: string, confirmDestructive: boolean, principal?: string): Promise<RunView> {
    return this.engine.apply(planId, { confirmWrite: true, confirmDestructive, ...(principal ? { principal } : {}) });
  }
}

/** The reply after a chat run asked its pipeline's approvers. */
function askedReply(state: AgentState, name: string, asked: AskView): AgentReply {
  if (!asked.requests.length)
    return { kind: 'info', text: t(state, `${name}: nothing to change.`, `${name}: изменять нечего.`) };
  const lines = asked.requests.map(
    (r) =>
      `• ${r.id}: ${r.writes} ${t(state, 'change(s), approvers', 'изм., одобряют')} ${r.approvers.map((u) => `#${u}`).join(', ')}`,
  );
  return {
    kind: 'info',
    text: [
      t(
        state,
        `${name} needs its approvers: I asked them (you cannot approve your own run). Nothing changes until they approve.`,
        `${name} требует одобрения: я отправил запрос одобряющим (свой запуск одобрить нельзя). Ничего не изменится до их решения.`,
      ),
      ...lines,
    ].join('\n'),
  };
}
