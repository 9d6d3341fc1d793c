/**
 * The chat side of linking (see ./links.ts): `/link` (status), `/link <bitrix user id>` (a code goes to that user's
 * Bitrix24 notifications, never to the chat), `/link <8-digit code>` (redeem), `/unlink`.
 */
import type { AgentCore } from './core.js';
import { LINK_CODE, LINK_CODE_TTL_MS, sendLinkCode } from './links.js';
import { type AgentReply, t } from './replies.js';
import type { AgentState } from './state.js';

/** Answers `/link [id|code]` for `state.userId` (sets `state.bitrixUserId` on success). */
export async function linkCommand(core: AgentCore, state: AgentState, arg: string): Promise<AgentReply> {
  if (!arg) return { kind: 'info', text: linkStatus(state) };
  if (LINK_CODE.test(arg)) return redeem(core, state, arg);
  if (!/^\d{1,7}$/.test(arg))
    return {
      kind: 'refused',
      text: t(
        state,
        'Usage: /link <your Bitrix24 user id>, then /link <the code from your Bitrix24 notifications>.',
        'Формат: /link <ваш id пользователя Битрикс24>, затем /link <код из уведомлений Битрикс24>.',
      ),
    };
  const r = await sendLinkCode(core.links, core.engine, state.userId, arg, LINK_CODE_TTL_MS);
  void core.log.append(state.userId, { kind: 'link', request: arg, sent: 'sentTo' in r });
  if ('refused' in r)
    return {
      kind: 'refused',
      text: t(
        state,
        `There is no active Bitrix24 user ${arg} on this portal; nothing was sent.`,
        `На портале нет активного пользователя Битрикс24 ${arg}; ничего не отправлено.`,
      ),
    };
  const min = LINK_CODE_TTL_MS / 60_000;
  return {
    kind: 'info',
    text: t(
      state,
      `A one-time code was sent to Bitrix24 user ${arg} as a notification. Send /link <code> here within ${min} minutes.`,
      `Одноразовый код отправлен пользователю Битрикс24 ${arg} уведомлением. Отправьте сюда /link <код> в течение ${min} минут.`,
    ),
  };
}

async function redeem(core: AgentCore, state: AgentState, code: string): Promise<AgentReply> {
  const r = await core.links.redeem(state.userId, code, core.engine.portal);
  void core.log.append(state.userId, { kind: 'link', ok: 'bitrixUserId' in r, ...('refused' in r ? r : {}) });
  if ('refused' in r) {
    const why = {
      unknown: t(
        state,
        'This link code is unknown or already used; nothing was linked.',
        'Код неизвестен или уже использован; ничего не связано.',
      ),
      expired: t(
        state,
        'This link code has expired; nothing was linked. Send /link <your Bitrix24 user id> for a new one.',
        'Срок действия кода истёк; ничего не связано. Отправьте /link <ваш id пользователя Битрикс24> за новым.',
      ),
      'other-user': t(
        state,
        'This link code was not issued to you; nothing was linked.',
        'Этот код выдан не вам; ничего не связано.',
      ),
    }[r.refused];
    return { kind: 'refused', text: why };
  }
  state.bitrixUserId = r.bitrixUserId;
  return {
    kind: 'info',
    text: t(
      state,
      `Linked to Bitrix24 user ${r.bitrixUserId}. You can now confirm plans.`,
      `Связано с пользователем Битрикс24 ${r.bitrixUserId}. Теперь вы можете подтверждать планы.`,
    ),
  };
}

/** Answers `/unlink`: removes the chat user's link (and pending codes). */
export async function unlinkCommand(core: AgentCore, state: AgentState): Promise<AgentReply> {
  const had = await core.links.unlink(state.userId);
  delete state.bitrixUserId;
  void core.log.append(state.userId, { kind: 'link', unlinked: had });
  return {
    kind: 'info',
    text: had
      ? t(state, 'The link to your Bitrix24 user was removed.', 'Связь с пользователем Битрикс24 удалена.')
      : t(state, 'Not linked; nothing to remove.', 'Связи нет; удалять нечего.'),
  };
}

function linkStatus(state: AgentState): string {
  return state.bitrixUserId
    ? t(
        state,
        `Linked to Bitrix24 user ${state.bitrixUserId}. /unlink removes the link.`,
        `Связано с пользователем Битрикс24 ${state.bitrixUserId}. /unlink удаляет связь.`,
      )
    : t(
        state,
        'Not linked. Send /link <your Bitrix24 user id>: a one-time code arrives in your Bitrix24 notifications; then send /link <code> here.',
        'Не связано. Отправьте /link <ваш id пользователя Битрикс24>: одноразовый код придёт в уведомления Битрикс24; затем отправьте сюда /link <код>.',
      );
}
