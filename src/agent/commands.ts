/**
 * The chat commands: `/start` `/help`, `/pipelines`, `/run <name> [k=v]`, `/plan <text>`, `/status`,
 * `/dlq [replay|drop <id>]`, `/link [bitrix user id|code]`, `/unlink`, `/cancel`, `/save [name]`, `/edit <name>`,
 * `/versions <name>`, `/diff <name> [from] [to]` (./savedFlow.ts), and a named pipeline's own
 * `chat.command`.
 */
import type { AgentCore } from './core.js';
import { dlqCommand } from './dlqFlow.js';
import type { NamedPipeline } from './engine.js';
import { linkCommand, unlinkCommand } from './linkFlow.js';
import { cancelPlan } from './planFlow.js';
import { type AgentReply, parseInputs, t } from './replies.js';
import { diffCommand, disableCommand, editCommand, saveCommand, versionsCommand } from './savedFlow.js';
import type { AgentState } from './state.js';

/** What a command may ask the agent to do (run a named pipeline, plan free text) and whether planning is on. */
export interface CommandActions {
  readonly planningOn: boolean;
  runNamed(state: AgentState, p: NamedPipeline, inputs: Record<string, unknown>): Promise<AgentReply>;
  planFreeText(state: AgentState, text: string): Promise<AgentReply>;
}

/** Answers one slash command (`name` lower-cased, without the slash; `arg` the rest of the message, trimmed). */
export async function runCommand(
  core: AgentCore,
  actions: CommandActions,
  state: AgentState,
  name: string,
  arg: string,
): Promise<AgentReply> {
  switch (name) {
    case 'start':
    case 'help':
      return { kind: 'info', text: helpText(state, actions.planningOn) };
    case 'pipelines':
      return listPipelines(core, state);
    case 'run': {
      const [pname, ...kv] = arg.split(/\s+/).filter(Boolean);
      if (!pname)
        return {
          kind: 'refused',
          text: t(state, 'Usage: /run <name> [key=value ...]', 'Формат: /run <имя> [ключ=значение ...]'),
        };
      const p = (await core.engine.pipelines()).find((x) => x.name === pname);
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
      return actions.runNamed(state, p, inputs);
    }
    case 'plan':
      if (!arg) return { kind: 'refused', text: t(state, 'Usage: /plan <what to do>', 'Формат: /plan <что сделать>') };
      return actions.planFreeText(state, arg);
    case 'status':
      return { kind: 'info', text: statusText(state, actions.planningOn) };
    case 'dlq':
      return dlqCommand(core, state, arg);
    case 'link':
      return linkCommand(core, state, arg);
    case 'unlink':
      return unlinkCommand(core, state);
    case 'save':
      return saveCommand(core, state, arg);
    case 'edit':
      return editCommand(core, state, arg);
    case 'versions':
      return versionsCommand(core, state, arg);
    case 'diff':
      return diffCommand(core, state, arg);
    case 'disable':
    case 'enable':
      return disableCommand(core, state, arg, name === 'disable');
    case 'console': {
      if (!state.bitrixUserId)
        return {
          kind: 'refused',
          text: t(
            state,
            'Link your Bitrix24 user first (/link <your Bitrix24 user id>).',
            'Сначала свяжите пользователя Битрикс24 (/link <ваш id>).',
          ),
        };
      const url = await core.engine.consoleLink?.(state.bitrixUserId);
      return url
        ? {
            kind: 'info',
            text: t(
              state,
              `Your sign-in link to the web console (works once, for 10 minutes):\n${url}`,
              `Ссылка для входа в веб-консоль (одноразовая, 10 минут):\n${url}`,
            ),
          }
        : {
            kind: 'refused',
            text: t(
              state,
              'The web console is not reachable from here (set B24FLOW_PUBLIC_URL to the address of serve).',
              'Веб-консоль недоступна (укажите B24FLOW_PUBLIC_URL — адрес serve).',
            ),
          };
    }
    case 'cancel':
      return state.lastPlan
        ? cancelPlan(core, state, state.lastPlan.planId)
        : { kind: 'info', text: t(state, 'Nothing to cancel.', 'Нечего отменять.') };
    default: {
      const p = (await core.engine.pipelines()).find((x) => x.chat?.command?.replace(/^\//, '') === name);
      if (p)
        return actions.runNamed(state, p, parseInputs(arg.split(/\s+/).filter(Boolean), p) as Record<string, unknown>);
      return {
        kind: 'refused',
        text: t(state, `Unknown command /${name}. Try /start.`, `Неизвестная команда /${name}. Попробуйте /start.`),
      };
    }
  }
}

function helpText(state: AgentState, planningOn: boolean): string {
  const mode = planningOn
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
    '/dlq replay|drop <id> — ' + t(state, 'for operators', 'для операторов'),
    '/link <Bitrix24 user id>, /link <code> — ' +
      t(
        state,
        'link your Bitrix24 user (needed to confirm); the code arrives in your Bitrix24 notifications',
        'связать с пользователем Битрикс24 (нужно для подтверждения); код приходит в уведомления Битрикс24',
      ),
    '/save [name] — ' +
      t(
        state,
        'save the last proposal (again: its next version)',
        'сохранить последнее предложение (повторно — новой версией)',
      ),
    '/edit <name> — ' + t(state, 'change a saved pipeline in words', 'изменить сохранённый пайплайн словами'),
    '/versions <name>, /diff <name> [a] [b] — ' + t(state, 'its versions and changes', 'версии и изменения'),
    '/disable <name>, /enable <name> — ' +
      t(state, 'stop or resume a saved pipeline (author, operators)', 'выключить или включить (автор, операторы)'),
    '/reject <request id> <reason> — ' + t(state, 'reject an approval request', 'отклонить запрос на одобрение'),
    '/console — ' + t(state, 'a sign-in link to the web console', 'ссылка для входа в веб-консоль'),
  ].join('\n');
}

function statusText(state: AgentState, planningOn: boolean): string {
  const lines = [
    state.bitrixUserId
      ? t(state, `Bitrix24 user: ${state.bitrixUserId}`, `Пользователь Битрикс24: ${state.bitrixUserId}`)
      : t(state, 'Not linked (/link).', 'Не связано (/link).'),
    planningOn
      ? t(state, 'Planning: on', 'Планирование: включено')
      : t(state, 'Planning: off', 'Планирование: выключено'),
  ];
  if (state.goals[0]) lines.push(`${t(state, 'Goal', 'Цель')}: ${state.goals[0].text}`);
  if (state.lastPlan)
    lines.push(`${t(state, 'Last plan', 'Последний план')}: ${state.lastPlan.summary} (${state.lastPlan.status})`);
  for (const d of state.done.slice(0, 3)) lines.push(`✓ ${d.description}`);
  return lines.join('\n');
}

async function listPipelines(core: AgentCore, state: AgentState): Promise<AgentReply> {
  const list = await core.engine.pipelines();
  if (!list.length) return { kind: 'info', text: t(state, 'No pipelines are installed.', 'Пайплайны не установлены.') };
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
