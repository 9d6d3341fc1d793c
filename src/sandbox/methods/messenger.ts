/**
 * Messenger: chat messages `im.message.add/update/delete`, `im.dialog.messages.get`, notifications
 * `im.notify.system.add/personal.add` (and `im.notify`), and the chat-bot `imbot.message.add`. Sources:
 * apidocs.bitrix24.com/api-reference/chats/messages/im-message-add.html, …/im-dialog-messages-get.html,
 * api-reference/chats/notifications/im-notify-system-add.html, api-reference/chat-bots/outdated/messages/
 * imbot-message-add.html (b24-spec spec/index.json maps each method to its page).
 */
import { ApiError } from '../apiError.js';
import { type Params, pick, truthy } from '../params.js';
import { isoDate } from '../portalTime.js';
import type { CallCtx, Registry } from '../registry.js';

/** Registers `im.*` and `imbot.message.add`. */
export function imMethods(r: Registry): void {
  r.many('im', {
    'im.message.add': (ctx, p) => {
      const dialog = pick(p, 'DIALOG_ID');
      const message = pick(p, 'MESSAGE');
      if (!dialog) throw new ApiError(400, 'DIALOG_ID_EMPTY', "Dialog ID can't be empty");
      if (!message && !pick(p, 'ATTACH')) throw new ApiError(400, 'MESSAGE_EMPTY', "Message can't be empty");
      const d = String(dialog);
      const chat = d.startsWith('chat') ? Number(d.slice(4)) : 0;
      if (!chat && !ctx.portal.t.user.get(d)) throw new ApiError(400, 'USER_ID_EMPTY', 'User not found');
      const row = ctx.portal.t.im_message.insert({
        CHAT_ID: chat,
        DIALOG_ID: d,
        AUTHOR_ID: ctx.userId,
        DATE: ctx.portal.clock.now(),
        MESSAGE: String(message ?? ''),
        SYSTEM: truthy(pick(p, 'SYSTEM')) ? 'Y' : 'N',
      });
      ctx.portal.dirty();
      return { result: row.ID, write: true };
    },
    'im.message.update': (ctx, p) => {
      const m = ctx.portal.t.im_message.get(pick(p, 'MESSAGE_ID'));
      if (!m) throw new ApiError(400, 'MESSAGE_ID_ERROR', "Message ID can't be empty");
      if (pick(p, 'MESSAGE') !== undefined) m.MESSAGE = String(pick(p, 'MESSAGE'));
      ctx.portal.dirty();
      return { result: true, write: true };
    },
    'im.message.delete': (ctx, p) => {
      const id = Number(pick(p, 'MESSAGE_ID'));
      if (!ctx.portal.t.im_message.delete(id)) throw new ApiError(400, 'MESSAGE_ID_ERROR', "Message ID can't be empty");
      ctx.portal.dirty();
      return { result: true, write: true };
    },
    'im.dialog.messages.get': (ctx, p) => {
      const d = String(pick(p, 'DIALOG_ID') ?? '');
      if (!d) throw new ApiError(400, 'DIALOG_ID_EMPTY', "Dialog ID can't be empty");
      const limit = Math.min(50, Number(pick(p, 'LIMIT') ?? 20));
      const rows = ctx.portal.t.im_message.rows
        .filter((m) => m.DIALOG_ID === d)
        .slice(-limit)
        .reverse();
      return {
        result: {
          chat_id: d.startsWith('chat') ? Number(d.slice(4)) : 0,
          messages: rows.map((m) => ({
            id: m.ID,
            chat_id: m.CHAT_ID,
            author_id: m.AUTHOR_ID,
            date: isoDate(m.DATE),
            text: m.MESSAGE,
            unread: false,
            uuid: null,
            replaces: [],
            params: [],
            disappearing_date: null,
          })),
          users: [],
          files: [],
        },
      };
    },
  });
  const notify = (type: string) => (ctx: CallCtx, p: Params) => {
    const user = pick(p, 'USER_ID', 'to');
    const message = pick(p, 'MESSAGE', 'message');
    if (!user || !ctx.portal.t.user.get(user)) throw new ApiError(400, 'USER_ID_EMPTY', "Recipient ID can't be empty");
    if (!message) throw new ApiError(400, 'MESSAGE_EMPTY', "Message can't be empty");
    const row = ctx.portal.t.notification.insert({
      USER_ID: Number(user),
      MESSAGE: String(message),
      TAG: pick(p, 'TAG') ?? '',
      SUB_TAG: pick(p, 'SUB_TAG') ?? '',
      TYPE: type,
      DATE: ctx.portal.clock.now(),
    });
    ctx.portal.dirty();
    return { result: row.ID, write: true };
  };
  r.many('im', {
    'im.notify.system.add': notify('system'),
    'im.notify.personal.add': notify('personal'),
    'im.notify': notify('personal'),
  });
  r.add({
    name: 'imbot.message.add',
    scope: 'imbot',
    appOnly: true,
    handler: (ctx, p) => {
      const row = ctx.portal.t.im_message.insert({
        CHAT_ID: 0,
        DIALOG_ID: String(pick(p, 'DIALOG_ID') ?? ''),
        AUTHOR_ID: Number(pick(p, 'BOT_ID') ?? 0),
        DATE: ctx.portal.clock.now(),
        MESSAGE: String(pick(p, 'MESSAGE') ?? ''),
        SYSTEM: 'N',
      });
      return { result: row.ID, write: true };
    },
  });
}
