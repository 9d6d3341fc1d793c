/**
 * `/dlq` from chat: the queue for everyone (short, no payloads); `/dlq replay <id>` and `/dlq drop <id>` only for a
 * linked user the engine lets operate ({@link ChatEngine.mayOperate}: a pipeline approver or a configured operator).
 */
import type { AgentCore } from './core.js';
import type { ChatEngine } from './engine.js';
import { type AgentReply, t } from './replies.js';
import type { AgentState } from './state.js';

/** Answers `/dlq`, `/dlq replay <id>`, `/dlq drop <id>`. */
export async function dlqCommand(core: AgentCore, state: AgentState, arg: string): Promise<AgentReply> {
  const [op, id, ...rest] = arg.split(/\s+/).filter(Boolean);
  if (!op) return listQueue(core.engine, state);
  if ((op !== 'replay' && op !== 'drop') || !id || rest.length || !/^[A-Za-z0-9_-]{1,64}$/.test(id))
    return {
      kind: 'refused',
      text: t(state, 'Usage: /dlq, /dlq replay <id>, /dlq drop <id>', 'Формат: /dlq, /dlq replay <id>, /dlq drop <id>'),
    };
  const who = state.bitrixUserId;
  if (!who || !(await core.engine.mayOperate(who))) {
    void core.log.append(state.userId, { kind: 'refusal', dlq: op, id, bitrixUserId: who ?? null });
    return {
      kind: 'refused',
      text: who
        ? t(
            state,
            `Bitrix24 user ${who} may not ${op} dead letters (not a pipeline approver or an operator); nothing was changed.`,
            `Пользователю Битрикс24 ${who} нельзя выполнять ${op} для недоставленных событий (не согласующий пайплайнов и не оператор); ничего не изменено.`,
          )
        : t(
            state,
            'Only linked operators can change the dead-letter queue. Send /link <your Bitrix24 user id> first; nothing was changed.',
            'Менять очередь недоставленных событий могут только связанные операторы. Сначала отправьте /link <ваш id пользователя Битрикс24>; ничего не изменено.',
          ),
    };
  }
  const none = {
    kind: 'refused' as const,
    text: t(state, `No dead letter with id ${id} (see /dlq).`, `Нет недоставленного события с id ${id} (см. /dlq).`),
  };
  if (op === 'drop') {
    const dropped = await core.engine.dlqDrop(id);
    void core.log.append(state.userId, { kind: 'run', dlq: 'drop', id, dropped: dropped ?? null, by: who });
    if (!dropped) return none;
    return {
      kind: 'done',
      text: t(state, `Dead letter ${dropped} was dropped.`, `Недоставленное событие ${dropped} удалено.`),
    };
  }
  const r = await core.engine.dlqReplay(id);
  void core.log.append(state.userId, { kind: 'run', dlq: 'replay', id, ok: r?.ok ?? null, by: who });
  if (!r) return none;
  return r.ok
    ? {
        kind: 'done',
        text: t(
          state,
          `Dead letter ${r.id} (${r.event}) was processed and removed from the queue.`,
          `Недоставленное событие ${r.id} (${r.event}) обработано и удалено из очереди.`,
        ),
      }
    : {
        kind: 'error',
        text: t(
          state,
          `Dead letter ${r.id} (${r.event}) failed again and stays in the queue: ${r.error ?? 'failed'}`,
          `Недоставленное событие ${r.id} (${r.event}) снова не обработано и остаётся в очереди: ${r.error ?? 'ошибка'}`,
        ),
      };
}

async function listQueue(engine: ChatEngine, state: AgentState): Promise<AgentReply> {
  const d = await engine.dlq();
  const head = t(state, `Dead-letter queue: ${d.size} event(s).`, `Очередь недоставленных событий: ${d.size}.`);
  return {
    kind: 'info',
    text: [head, ...d.items.slice(0, 10).map((i) => `• ${i.id} ${i.event}: ${i.error} (×${i.attempts})`)].join('\n'),
  };
}
