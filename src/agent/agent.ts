import { redact } from '../lib/redact.js';
import { detectLang } from './context.js';
import { type ChatEngine, type NamedPipeline, PlanRefusal, type PlanView, type RunView } from './engine.js';
import { formatPlan, formatRun } from './format.js';
import { InteractionLog } from './interactionLog.js';
import { LinkCodes } from './links.js';
import { Planner, type PlannerResult } from './planner.js';
import { KeyedQueue } from './queue.js';
import { type AgentState, addDone, addGoal, countMissing, countRisk, nowIso, StateStore, selfCheck } from './state.js';

/** The planner as the agent uses it ({@link Planner} or a stub in benches). */
export interface PlannerLike {
  readonly available: boolean;
  plan(message: string, state: AgentState, warnings: string[]): Promise<PlannerResult>;
}

/** A button under a reply; `data` is the callback payload (`c:<planId>`, `d:<planId>`, `x:<planId>`). */
export interface ReplyButton {
  text: string;
  data: string;
}

/** What the agent answers; adapters render it (Telegram message + inline keyboard, HTTP JSON). */
export interface AgentReply {
  kind: 'plan' | 'answer' | 'refused' | 'degraded' | 'done' | 'info' | 'error';
  text: string;
  buttons?: ReplyButton[];
  planId?: string;
  plan?: PlanView;
  run?: RunView;
  /** Self-check warnings shown with the reply. */
  warnings?: string[];
}

/** Options of {@link ChatAgent}. */
export interface ChatAgentOptions {
  engine: ChatEngine;
  /** Default: a planner without a model key (degraded mode: free-text planning off); the CLI passes the configured one. */
  planner?: PlannerLike;
  /** b24flow data dir (state, logs, link codes). */
  dataDir: string;
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
  readonly links: LinkCodes;
  readonly queue = new KeyedQueue();
  private readonly planner?: PlannerLike;
  private readonly planTtlMs: number;
  private readonly requireLink: boolean;
  private readonly clock: () => number;
  private readonly onError: (userId: string, details: string) => void;

  constructor(opts: ChatAgentOptions) {
    this.engine = opts.engine;
    // No planner given: one without a model key, i.e. degraded mode (the composition root passes the configured one).
    this.planner = opts.planner ?? new Planner({ engine: opts.engine });
    this.store = new StateStore(opts.dataDir);
    this.log = opts.log ?? new InteractionLog(opts.dataDir);
    this.links = new LinkCodes(opts.dataDir);
    this.planTtlMs = opts.planTtlMs ?? 30 * 60_000;
    this.requireLink = opts.requireLink ?? true;
    this.clock = opts.clock ?? Date.now;
    this.onError = opts.onError ?? (() => {});
  }

  /** True when free-text planning is configured (a model key is set). */
  get planningOn(): boolean {
    return this.planner?.available ?? false;
  }

  /**
   * Handles one text message from a user: a command (`/start`, `/pipelines`, `/run`, `/plan`, `/status`, `/dlq`,
   * `/link`, `/cancel`), a named pipeline's command or phrase, or free text for the planner.
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
        const state = await this.store.load(userId);
        if (!m) return { kind: 'refused', text: t(state, 'Unknown button.', 'Неизвестная кнопка.') };
        const [, op, planId] = m as unknown as [string, string, string];
        if (op === 'x') return this.cancel(state, planId);
        return this.confirm(state, planId, op === 'd' ? 'destructive' : 'write');
      }),
    );
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
    const state = await this.store.load(userId);
    // Commands are Latin whatever the user's language: they keep the language of the conversation so far.
    if (detectLang(text) === 'ru') state.lang = 'ru';
    else if (!text.startsWith('/') && /\p{L}{3,}/u.test(text)) state.lang = 'en';
    state.metrics.messages++;
    // A link code is a credential until used: the log's redaction masks `/link <code>` (src/lib/redact.ts).
    void this.log.append(userId, { kind: 'message', text });
    const cmd = /^\/([a-z_]+)(?:@\w+)?(?:\s+([\s\S]*))?$/i.exec(text);
    let reply: AgentReply;
    if (cmd) {
      reply = await this.command(state, (cmd[1] ?? '').toLowerCase(), (cmd[2] ?? '').trim());
    } else {
      const named = await this.matchPhrase(text);
      reply = named ? await this.runNamed(state, named, {}) : await this.planFreeText(state, text);
    }
    await this.store.save(state);
    return reply;
  }

  private async command(state: AgentState, name: string, arg: string): Promise<AgentReply> {
    switch (name) {
      case 'start':
      case 'help':
        return { kind: 'info', text: this.helpText(state) };
      case 'pipelines':
        return this.listPipelines(state);
      case 'run': {
        const [pname, ...kv] = arg.split(/\s+/).filter(Boolean);
        if (!pname)
          return {
            kind: 'refused',
            text: t(state, 'Usage: /run <name> [key=value ...]', 'Формат: /run <имя> [ключ=значение ...]'),
          };
        const p = (await this.engine.pipelines()).find((x) => x.name === pname);
        if (!p)
          return {
            kind: 'refused',
            text: t(
              state,
              `No pipeline named "${pname}". See /pipelines.`,
              `Нет пайплайна «${pname}». Список: /pipelines.`,
            ),
          };
        const inputs = parseInputs(kv, p);
        if (typeof inputs === 'string') return { kind: 'refused', text: inputs };
        return this.runNamed(state, p, inputs);
      }
      case 'plan':
        if (!arg)
          return { kind: 'refused', text: t(state, 'Usage: /plan <what to do>', 'Формат: /plan <что сделать>') };
        return this.planFreeText(state, arg);
      case 'status':
        return { kind: 'info', text: this.statusText(state) };
      case 'dlq': {
        const d = await this.engine.dlq();
        const head = t(state, `Dead-letter queue: ${d.size} event(s).`, `Очередь недоставленных событий: ${d.size}.`);
        return {
          kind: 'info',
          text: [head, ...d.items.slice(0, 10).map((i) => `• ${i.event}: ${i.error} (×${i.attempts})`)].join('\n'),
        };
      }
      case 'link': {
        if (!arg) {
          return {
            kind: 'info',
            text: state.bitrixUserId
              ? t(
                  state,
                  `Linked to Bitrix24 user ${state.bitrixUserId}.`,
                  `Связано с пользователем Битрикс24 ${state.bitrixUserId}.`,
                )
              : t(
                  state,
                  'Not linked. Ask your administrator for a link code (b24flow bot link-code --bitrix-user <id>) and send /link <code>.',
                  'Не связано. Попросите у администратора код (b24flow bot link-code --bitrix-user <id>) и отправьте /link <код>.',
                ),
          };
        }
        const bitrixUserId = await this.links.redeem(arg);
        void this.log.append(state.userId, { kind: 'link', ok: Boolean(bitrixUserId) });
        if (!bitrixUserId)
          return {
            kind: 'refused',
            text: t(state, 'This link code is unknown, used or expired.', 'Код неизвестен, уже использован или истёк.'),
          };
        state.bitrixUserId = bitrixUserId;
        return {
          kind: 'info',
          text: t(
            state,
            `Linked to Bitrix24 user ${bitrixUserId}. You can now confirm plans.`,
            `Связано с пользователем Битрикс24 ${bitrixUserId}. Теперь вы можете подтверждать планы.`,
          ),
        };
      }
      case 'cancel':
        return state.lastPlan
          ? this.cancel(state, state.lastPlan.planId)
          : { kind: 'info', text: t(state, 'Nothing to cancel.', 'Нечего отменять.') };
      default: {
        const p = (await this.engine.pipelines()).find((x) => x.chat?.command?.replace(/^\//, '') === name);
        if (p)
          return this.runNamed(state, p, parseInputs(arg.split(/\s+/).filter(Boolean), p) as Record<string, unknown>);
        return {
          kind: 'refused',
          text: t(state, `Unknown command /${name}. Try /start.`, `Неизвестная команда /${name}. Попробуйте /start.`),
        };
      }
    }
  }

  private helpText(state: AgentState): string {
    const mode = this.planningOn
      ? t(state, 'Free-text planning: on.', 'Планирование по свободному тексту: включено.')
      : t(
          state,
          'Free-text planning: off (no model configured); commands and pipeline phrases work.',
          'Планирование по свободному тексту: выключено (модель не настроена); команды и фразы пайплайнов работают.',
        );
    return [
      t(
        state,
        'I run b24flow pipelines on your Bitrix24. Every write is shown as a plan and runs only after you confirm it.',
        'Я запускаю пайплайны b24flow в вашем Битрикс24. Каждое изменение показываю планом и выполняю только после подтверждения.',
      ),
      mode,
      '/pipelines — ' + t(state, 'list pipelines', 'список пайплайнов'),
      '/run <name> [k=v] — ' + t(state, 'plan a pipeline', 'запланировать пайплайн'),
      '/plan <text> — ' + t(state, 'plan from a sentence', 'план по фразе'),
      '/status — ' + t(state, 'your state', 'состояние'),
      '/dlq — ' + t(state, 'failed events', 'недоставленные события'),
      '/link <code> — ' +
        t(
          state,
          'link your Bitrix24 user (needed to confirm)',
          'связать с пользователем Битрикс24 (нужно для подтверждения)',
        ),
    ].join('\n');
  }

  private statusText(state: AgentState): string {
    const lines = [
      state.bitrixUserId
        ? t(state, `Bitrix24 user: ${state.bitrixUserId}`, `Пользователь Битрикс24: ${state.bitrixUserId}`)
        : t(state, 'Not linked (/link).', 'Не связано (/link).'),
      this.planningOn
        ? t(state, 'Planning: on', 'Планирование: включено')
        : t(state, 'Planning: off', 'Планирование: выключено'),
    ];
    if (state.goals[0]) lines.push(`${t(state, 'Goal', 'Цель')}: ${state.goals[0].text}`);
    if (state.lastPlan)
      lines.push(`${t(state, 'Last plan', 'Последний план')}: ${state.lastPlan.summary} (${state.lastPlan.status})`);
    for (const d of state.done.slice(0, 3)) lines.push(`✓ ${d.description}`);
    return lines.join('\n');
  }

  private async listPipelines(state: AgentState): Promise<AgentReply> {
    const list = await this.engine.pipelines();
    if (!list.length)
      return { kind: 'info', text: t(state, 'No pipelines are installed.', 'Пайплайны не установлены.') };
    return {
      kind: 'info',
      text: list
        .map((p) => {
          const how = p.chat?.command ? ` (/${p.chat.command.replace(/^\//, '')})` : '';
          return `• ${p.name}${how}${p.description ? ` — ${p.description.split('\n')[0]}` : ''}`;
        })
        .join('\n'),
    };
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

  private async runNamed(state: AgentState, p: NamedPipeline, inputs: Record<string, unknown>): Promise<AgentReply> {
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
    addGoal(state, `${p.name}${Object.keys(inputs).length ? ` ${JSON.stringify(inputs)}` : ''}`);
    try {
      return await this.presentPlan(
        state,
        loaded.pipeline,
        { source: 'named', pipelineName: p.name, inputs, json: undefined },
        '',
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
        return { kind: 'refused', text: result.reply };
      case 'pipeline':
        if (result.repaired) countMissing(state, missingFields(result.repaired));
        return this.presentPlan(state, result.pipeline, { source: 'planner', json: result.json }, result.reply);
    }
  }

  /** Plans a checked pipeline and shows the plan with Confirm/Cancel, or runs it at once when it writes nothing. */
  private async presentPlan(
    state: AgentState,
    pipeline: unknown,
    origin: { source: 'planner' | 'named'; pipelineName?: string; inputs?: Record<string, unknown>; json: unknown },
    lead: string,
  ): Promise<AgentReply> {
    const plan = await this.engine.plan(pipeline, origin.inputs ?? {});
    state.metrics.plans++;
    countRisk(state, plan.riskFields);
    const expiresAt = new Date(
      Math.min(Date.parse(plan.expiresAt) || Number.POSITIVE_INFINITY, this.clock() + this.planTtlMs),
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
    void this.log.append(state.userId, {
      kind: 'plan',
      planId: plan.id,
      risk: plan.risk,
      writes: plan.writes.map((w) => w.text),
    });
    if (plan.writes.length === 0) {
      // Nothing to approve: reads only, run it now (applying the plan keeps its single-use and drift checks).
      const run = await this.engine.apply(plan.id, { confirmWrite: false, confirmDestructive: false });
      state.lastPlan.status = 'applied';
      this.recordRun(state, run);
      return { kind: 'done', text: [lead, formatRun(run, state.lang)].filter(Boolean).join('\n\n'), run };
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

  private cancel(state: AgentState, planId: string): Promise<AgentReply> {
    const lp = state.lastPlan;
    if (lp && lp.planId === planId && lp.status === 'proposed') {
      lp.status = 'cancelled';
      void this.log.append(state.userId, { kind: 'cancel', planId });
      return this.saved(state, {
        kind: 'info',
        text: t(state, 'Cancelled. Nothing was changed.', 'Отменено. Ничего не изменено.'),
      });
    }
    return Promise.resolve({
      kind: 'info',
      text: t(state, 'This plan is no longer active.', 'Этот план уже неактивен.'),
    });
  }

  private async confirm(state: AgentState, planId: string, stage: 'write' | 'destructive'): Promise<AgentReply> {
    const lp = state.lastPlan;
    const refuse = async (text: string): Promise<AgentReply> => {
      state.metrics.refusals++;
      void this.log.append(state.userId, { kind: 'refusal', planId, text });
      return this.saved(state, { kind: 'refused', text });
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
    if (lp.expiresAt && Date.parse(lp.expiresAt) <= this.clock()) {
      lp.status = 'refused';
      return refuse(
        t(
          state,
          'This plan has expired; nothing was changed. Send the request again for a fresh plan.',
          'Срок действия плана истёк; ничего не изменено. Отправьте запрос ещё раз.',
        ),
      );
    }
    if (this.requireLink && !state.bitrixUserId) {
      return refuse(
        t(
          state,
          'Only linked users can confirm changes. Send /link <code> first; nothing was changed.',
          'Подтверждать изменения могут только связанные пользователи. Сначала отправьте /link <код>; ничего не изменено.',
        ),
      );
    }
    if (lp.risk === 'destructive' && stage === 'write') {
      lp.destructiveArmed = true;
      void this.log.append(state.userId, { kind: 'confirm', planId, stage: 'first' });
      return this.saved(state, {
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
    void this.log.append(state.userId, { kind: 'confirm', planId, stage });
    let run: RunView;
    try {
      run = await this.engine.apply(planId, {
        confirmWrite: true,
        confirmDestructive: lp.risk === 'destructive' && stage === 'destructive',
      });
    } catch (err) {
      if (!(err instanceof PlanRefusal)) throw err;
      if (err.reason === 'drifted') {
        lp.status = 'refused';
        return this.saved(state, await this.replan(state));
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
    this.recordRun(state, run);
    void this.log.append(state.userId, { kind: 'run', runId: run.runId, status: run.status, objectIds: run.objectIds });
    return this.saved(state, { kind: 'done', text: formatRun(run, state.lang), run });
  }

  /** The data changed since the plan: plan the same pipeline again and show the new plan. */
  private async replan(state: AgentState): Promise<AgentReply> {
    const lp = state.lastPlan!;
    let pipeline: unknown;
    if (lp.source === 'named' && lp.pipelineName) {
      const p = (await this.engine.pipelines()).find((x) => x.name === lp.pipelineName);
      pipeline = p ? (await this.engine.loadNamed(p)).pipeline : undefined;
    } else {
      pipeline = (await this.engine.check(lp.pipeline, `chat:${state.userId}`)).pipeline;
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
    const reply = await this.presentPlan(
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

  private recordRun(state: AgentState, run: RunView): void {
    const desc = (state.lang === 'ru' ? run.summary.ru : run.summary.en).join('; ') || run.status;
    addDone(state, desc.slice(0, 300), run.objectIds, run.runId);
    for (const id of run.objectIds) {
      const m = /^([a-z_]+):(\d+)$/.exec(id);
      if (m) state.objects[`current_${m[1]}_id`] = m[2] as string;
    }
  }

  private async saved(state: AgentState, reply: AgentReply): Promise<AgentReply> {
    await this.store.save(state);
    return reply;
  }

  /**
   * Applies a plan for a trusted API caller (`POST /plans/:id/apply`): writes are approved by the call itself,
   * destructive steps only with `confirmDestructive`. Throws {@link PlanRefusal} like the engine.
   */
  applyForApi(planId: string, confirmDestructive: boolean): Promise<RunView> {
    return this.engine.apply(planId, { confirmWrite: true, confirmDestructive });
  }
}

function t(state: AgentState, en: string, ru: string): string {
  return state.lang === 'ru' ? ru : en;
}

function degraded(state: AgentState): string {
  return t(
    state,
    'Free-text planning is off: no model is configured. Commands (/pipelines, /run <name>) and pipeline phrases still work.',
    'Свободный текст сейчас не обрабатывается: модель не настроена. Работают команды /pipelines, /run <имя> и фразы пайплайнов.',
  );
}

/**
 * Missing-field keys from checker findings: `crm.deal.add.fields.TITLE` from "crm.deal.add requires fields.TITLE",
 * else the finding's field path.
 */
export function missingFields(findings: { rule: string; message: string; field: string }[]): string[] {
  return findings
    .filter((f) => /required|missing/i.test(`${f.rule} ${f.message}`))
    .map((f) => {
      const m = /^(\S+) requires (?:param )?"?([\w.]+)"?/.exec(f.message);
      return m ? `${m[1]}.${m[2]}` : f.field || f.message.slice(0, 80);
    });
}

/** Lower-case, no punctuation, single spaces (for phrase matching). */
export function normalize(s: string): string {
  return s
    .toLowerCase()
    .replace(/ё/g, 'е')
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();
}

/**
 * Parses `key=value` words into inputs typed by the pipeline's declared inputs (int/double → number,
 * bool → boolean, list → comma-split). Unknown keys are refused (returns the message).
 */
export function parseInputs(words: string[], p: NamedPipeline): Record<string, unknown> | string {
  const out: Record<string, unknown> = {};
  for (const w of words) {
    const i = w.indexOf('=');
    if (i <= 0) return `Expected key=value, got "${w}".`;
    const key = w.slice(0, i);
    const val = w.slice(i + 1);
    const decl = p.inputs?.[key];
    if (p.inputs && !decl) return `The pipeline "${p.name}" has no input "${key}".`;
    switch (decl?.type) {
      case 'int':
      case 'double':
      case 'number':
      case 'integer': {
        const n = Number(val);
        if (!Number.isFinite(n)) return `Input "${key}" must be a number.`;
        out[key] = n;
        break;
      }
      case 'bool':
      case 'boolean':
        out[key] = /^(1|true|yes|да)$/i.test(val);
        break;
      case 'list':
        out[key] = val.split(',').filter(Boolean);
        break;
      default:
        out[key] = val;
    }
  }
  return out;
}
