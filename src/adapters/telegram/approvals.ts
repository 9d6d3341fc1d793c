/**
 * Approval requests in Telegram: a courier delivers each new request to its approvers' linked chats (the plan in
 * words, `Approve` / `Reject` buttons), reminds them before it expires and tells them when it expired; the buttons
 * decide as the Bitrix24 user the Telegram user is linked to. A request that deletes data needs two presses: `Approve`
 * arms it and shows `Confirm deletion` (valid 5 min, same user), which approves with the second confirmation.
 * An approver without a linked chat is told through the portal (`im.notify.system.add`) instead.
 *
 * The courier works from the store (src/pipeline/approvals: `notified_ms`/`reminded_ms` are claimed before a
 * delivery), so any process that runs the bot delivers what serve's runs asked, and two bots never send one request
 * twice. Source: https://core.telegram.org/bots/api (callback queries, 64-byte callback data).
 */
import { type Bot, InlineKeyboard } from 'grammy';
import {
  ApprovalRefused,
  type ApprovalService,
  approvalLines,
  type DecisionResult,
  type StoredApproval,
} from '../../pipeline/index.js';
import { splitMessage } from './split.js';

/** Who a Telegram user is on the portal, and the chats of a portal user (the chat links of src/agent). */
export interface ApprovalLinks {
  /** The Bitrix24 user a chat user (`tg:<id>`) is linked to. */
  bitrixUserOf(chatUserId: string): Promise<string | undefined>;
  /** Chat users (`tg:<id>`) linked to a Bitrix24 user of `portal`. */
  chatsOf(bitrixUserId: string, portal: string): Promise<string[]>;
}

/** Options of {@link attachApprovals}. */
export interface TelegramApprovalsOptions {
  service: ApprovalService;
  links: ApprovalLinks;
  /** The portal the bot serves (member_id or host), as chat links record it. */
  portal: string;
  /** How often the courier looks for new, expiring and expired requests, ms (default 5000). */
  pollMs?: number;
  /** How long before its expiry a pending request is announced again, ms (default 1 h; at most a fifth of its lifetime). */
  remindBeforeMs?: number;
  lang?: 'en' | 'ru';
  /** Tells a Bitrix24 user through the portal (approvers without a linked chat); default: nobody. */
  notifyPortal?: (bitrixUserId: string, text: string) => Promise<void>;
  log?: (line: string) => void;
}

/** The courier of a bot: `tick()` once, or `start()` a loop that `stop()` ends. */
export interface ApprovalCourier {
  tick(): Promise<void>;
  start(): void;
  stop(): Promise<void>;
}

const ARM_MS = 5 * 60_000;

/** Button data: `a<op>:<request id>:<first 8 hash digits>` (≤ 64 bytes). */
function data(op: 'p' | 'd' | 'r', a: StoredApproval): string {
  return `a${op}:${a.request.id}:${a.request.hash.slice(0, 8)}`;
}

/**
 * Registers the approval buttons and `/reject <id> <reason>` on `bot` (call before the bot's generic handlers) and
 * returns the courier.
 */
export function attachApprovals(bot: Bot, o: TelegramApprovalsOptions): ApprovalCourier {
  const svc = o.service;
  const ru = o.lang === 'ru';
  const t = (en: string, r: string) => (ru ? r : en);
  const log = o.log ?? (() => {});
  const armed = new Map<string, number>();

  const send = async (chatId: string | number, text: string, kb?: InlineKeyboard) => {
    const parts = splitMessage(text);
    for (const [i, part] of parts.entries())
      await bot.api.sendMessage(chatId, part, i === parts.length - 1 && kb ? { reply_markup: kb } : {});
  };

  /** Sends `text` to every linked chat of each user; users without one are told through the portal. */
  const tell = async (users: readonly string[], text: string, kb?: (u: string) => InlineKeyboard | undefined) => {
    for (const u of users) {
      const chats = await o.links.chatsOf(u, o.portal).catch(() => []);
      if (!chats.length) {
        await o
          .notifyPortal?.(u, `b24flow: ${text.split('\n')[0]}`)
          .catch((e: unknown) => log(`approvals: portal notice to user ${u} failed: ${String(e)}`));
        continue;
      }
      for (const c of chats)
        await send(c.replace(/^tg:/, ''), text, kb?.(u)).catch((e: unknown) =>
          log(`approvals: message to ${c} failed: ${String(e)}`),
        );
    }
  };

  const buttons = (a: StoredApproval) =>
    new InlineKeyboard()
      .text(
        a.request.destructive ? t('Approve (deletes data)', 'Одобрить (удаление)') : t('Approve', 'Одобрить'),
        data('p', a),
      )
      .text(t('Reject', 'Отклонить'), data('r', a));

  /** The outcome of a decision in words. */
  const outcome = (r: DecisionResult): string => {
    const a = r.approval;
    const id = a.request.id;
    if (r.waitingFor)
      return t(
        `Approved. Waiting for ${r.waitingFor} more approval(s).`,
        `Одобрено. Ждём ещё одобрений: ${r.waitingFor}.`,
      );
    if (r.reasked)
      return t(
        `The data changed since request ${id} was asked; nothing was written. The new plan is asked again (${r.reasked.id}).`,
        `Данные изменились после запроса ${id}; ничего не изменено. Новый план отправлен на одобрение (${r.reasked.id}).`,
      );
    if (a.state === 'applied')
      return [
        t(
          `Done: request ${id} applied (run ${r.run?.runId}).`,
          `Готово: запрос ${id} выполнен (запуск ${r.run?.runId}).`,
        ),
        ...(r.run?.summary ?? []),
      ].join('\n');
    if (a.state === 'rejected')
      return t(`Request ${id} rejected; nothing was written.`, `Запрос ${id} отклонён; ничего не изменено.`);
    return `${id}: ${a.state}${a.note ? ` — ${a.note}` : ''}`;
  };

  const refusal = (e: ApprovalRefused): string => {
    const m: Partial<Record<ApprovalRefused['reason'], string>> = {
      self: t(
        'You started this run: someone else must approve it.',
        'Вы запустили этот процесс: одобрить должен другой человек.',
      ),
      'not-approver': t('You are not an approver of this request.', 'Вы не входите в число одобряющих этот запрос.'),
      'no-edit-right': t(
        'You may not edit every record this request changes; nothing was approved.',
        'У вас нет прав на изменение всех записей запроса; ничего не одобрено.',
      ),
      closed: t('This request is already decided.', 'Этот запрос уже решён.'),
      expired: t('This request expired; nothing was changed.', 'Срок запроса истёк; ничего не изменено.'),
      changed: t(
        'This request is not the one you were shown; open it again.',
        'Запрос отличается от показанного вам; откройте его заново.',
      ),
      tampered: t(
        'This request was changed outside b24flow and cannot be decided.',
        'Запрос изменён вне b24flow и не может быть решён.',
      ),
      duplicate: t('You already decided on this request.', 'Вы уже приняли решение по этому запросу.'),
    };
    return `${m[e.reason] ?? e.message} (${e.reason})`;
  };

  bot.callbackQuery(/^a[pdr]:a[0-9a-f]{24}:[0-9a-f]{8}$/, async (ctx) => {
    const [op, id, hash] = ctx.callbackQuery.data.split(':') as [string, string, string];
    const chatId = ctx.chat?.id ?? ctx.from.id;
    await ctx.answerCallbackQuery().catch(() => {});
    const by = await o.links.bitrixUserOf(`tg:${ctx.from.id}`);
    if (!by)
      return void (await send(
        chatId,
        t(
          'Link your Bitrix24 user first (/link <your Bitrix24 user id>): only linked users decide approval requests. Nothing was approved.',
          'Сначала свяжите пользователя Битрикс24 (/link <ваш id в Битрикс24>): решать запросы могут только связанные пользователи. Ничего не одобрено.',
        ),
      ));
    const key = `${id}:${by}`;
    try {
      let r: DecisionResult;
      if (op === 'ar') r = await svc.reject(id, { by, via: 'telegram', hash, reason: 'rejected in Telegram' });
      else {
        const a = await svc.get(id);
        const second = op === 'ad' && (armed.get(key) ?? 0) > Date.now();
        if (a?.request.destructive && !second) {
          // the first press arms the second, explicit confirmation
          armed.set(key, Date.now() + ARM_MS);
          return void (await send(
            chatId,
            t(
              `Request ${id} deletes data. Press “Confirm deletion” within 5 minutes to approve it.`,
              `Запрос ${id} удаляет данные. Нажмите «Подтвердить удаление» в течение 5 минут, чтобы одобрить.`,
            ),
            new InlineKeyboard().text(t('Confirm deletion', 'Подтвердить удаление'), data('d', a)),
          ));
        }
        armed.delete(key);
        if (ctx.callbackQuery.message) await ctx.editMessageReplyMarkup({ reply_markup: undefined }).catch(() => {});
        await send(chatId, t(`Applying request ${id}…`, `Выполняю запрос ${id}…`));
        r = await svc.approve(id, { by, via: 'telegram', hash, confirmDestructive: second });
      }
      await send(chatId, outcome(r));
      // the other approvers learn the outcome too
      const others = r.approval.request.approvers.filter((u) => u !== by);
      if (r.approval.state !== 'pending') await tell(others, outcome(r));
    } catch (err) {
      if (err instanceof ApprovalRefused) return void (await send(chatId, refusal(err)));
      log(`approvals: ${id} failed: ${err instanceof Error ? err.message : String(err)}`);
      await send(chatId, t('Something went wrong; nothing was approved.', 'Что-то пошло не так; ничего не одобрено.'));
    }
  });

  bot.command('reject', async (ctx) => {
    const [id, ...why] = (ctx.match ?? '').trim().split(/\s+/);
    const by = await o.links.bitrixUserOf(`tg:${ctx.from?.id}`);
    if (!id || !by)
      return void (await ctx.reply(
        t(
          'Usage: /reject <request id> <reason> (linked users only)',
          'Формат: /reject <id запроса> <причина> (только для связанных пользователей)',
        ),
      ));
    try {
      const r = await svc.reject(id, { by, via: 'telegram', reason: why.join(' ') });
      await ctx.reply(outcome(r));
    } catch (err) {
      if (err instanceof ApprovalRefused) return void (await ctx.reply(refusal(err)));
      throw err;
    }
  });

  /** Delivers new requests, reminds of expiring ones, announces expired ones. */
  const tick = async () => {
    for (const a of await svc.expireDue())
      await tell(
        a.request.approvers,
        t(
          `⌛ Request ${a.request.id} (${a.request.pipeline.name}) expired; nothing was changed.`,
          `⌛ Срок запроса ${a.request.id} (${a.request.pipeline.name}) истёк; ничего не изменено.`,
        ),
      );
    const store = svc.o.approvals;
    for (const a of await svc.list({ state: ['pending'] })) {
      const expires = Date.parse(a.request.expiresAt);
      const left = expires - svc.clock();
      // an hour before the expiry, or the last fifth of a shorter lifetime
      const before = Math.min(o.remindBeforeMs ?? 3600_000, (expires - Date.parse(a.request.createdAt)) / 5);
      const reminder = a.notifiedMs !== undefined && a.remindedMs === undefined && left < before;
      if (a.notifiedMs !== undefined && !reminder) continue;
      if (!(await store.markNotified(a.request.id, reminder ? 'reminded' : 'asked'))) continue;
      const lines = await approvalLines(svc, a, ru ? 'ru' : 'en');
      const head = reminder
        ? t(`⏰ Expires soon — still waiting for your decision:`, `⏰ Скоро истечёт — ждём вашего решения:`)
        : t('A change waits for your approval:', 'Изменение ждёт вашего одобрения:');
      await tell(a.request.approvers, [head, ...lines].join('\n'), () => buttons(a));
    }
  };

  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  return {
    tick,
    start() {
      const loop = () => {
        running = tick()
          .catch((e: unknown) => log(`approvals: courier: ${e instanceof Error ? e.message : String(e)}`))
          .finally(() => {
            if (timer !== undefined) timer = setTimeout(loop, o.pollMs ?? 5000);
          });
      };
      timer = setTimeout(loop, 0);
    },
    async stop() {
      const t0 = timer;
      timer = undefined;
      if (t0) clearTimeout(t0);
      await running;
    },
  };
}
