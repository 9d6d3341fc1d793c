import { createServer, type Server } from 'node:http';
import { Bot, type Context, GrammyError, InlineKeyboard, webhookCallback } from 'grammy';
import type { AgentReply, ChatAgent } from '../../agent/agent.js';
import { redact } from '../../lib/redact.js';
import { type AlertOptions, type Alerts, startAlerts } from './alerts.js';
import { type ApprovalCourier, attachApprovals, type TelegramApprovalsOptions } from './approvals.js';
import { splitMessage } from './split.js';

/** Options of {@link createTelegramBot}. */
export interface TelegramBotOptions {
  /** `TELEGRAM_BOT_TOKEN`. */
  token: string;
  agent: ChatAgent;
  /** Bot API root (default https://api.telegram.org); tests point it at a local fake server. */
  apiRoot?: string;
  /** `TELEGRAM_ALLOWED_CHATS`: chat ids allowed to talk to the bot; empty = every chat. */
  allowedChats?: string[];
  /** `TELEGRAM_ERROR_CHAT_ID`: where error details go (redacted). */
  errorChatId?: string;
  /** Interval of the "typing…" indicator while work is running, ms (default 4000; Telegram shows it ~5 s). */
  typingEveryMs?: number;
  /** Operational log lines (stderr by default), already redacted. */
  log?: (line: string) => void;
  /** Approval requests: delivered to approvers' chats and decided with buttons (./approvals.ts); absent: none. */
  approvals?: TelegramApprovalsOptions;
  /** Alerts of failed unattended runs and a growing dead-letter queue (./alerts.ts; to `errorChatId`). */
  alerts?: Omit<AlertOptions, 'errorChatId' | 'log'>;
}

/** A running (or ready) Telegram bot. */
export interface TelegramBotHandle {
  bot: Bot;
  /** Sends error details (redacted, shortened) to the error chat; no-op without one. */
  reportError(userId: string, details: string): Promise<void>;
  /** Starts long polling; resolves once polling runs (the bot keeps going until {@link stop}). */
  start(): Promise<void>;
  /** Webhook mode: sets the webhook and serves it on `port` (path `/telegram`). */
  startWebhook(opts: { url: string; port: number; host?: string; secret: string }): Promise<Server>;
  /** Stops polling and waits for the work in flight. */
  stop(): Promise<void>;
  /** The approval courier (with {@link TelegramBotOptions.approvals}); started by `start`/`startWebhook`. */
  courier?: ApprovalCourier;
  /** The alert loop (with {@link TelegramBotOptions.alerts}); started by `start`/`startWebhook`. */
  alerts?: Alerts;
}

/**
 * The b24flow Telegram bot (grammY). Every text goes to the {@link ChatAgent}; a plan comes back as a message
 * with Confirm / Cancel buttons bound to the plan id. Updates are handed to the agent without blocking the
 * polling loop, so users are served in parallel while each user's messages stay in order (the agent's queue).
 *
 * Source: https://core.telegram.org/bots/api (sendMessage 4096-character limit, sendChatAction, callback queries).
 */
export function createTelegramBot(opts: TelegramBotOptions): TelegramBotHandle {
  const bot = new Bot(opts.token, opts.apiRoot ? { client: { apiRoot: opts.apiRoot } } : {});
  const agent = opts.agent;
  const allowed = new Set((opts.allowedChats ?? []).map((s) => s.trim()).filter(Boolean));
  const log = (line: string) => (opts.log ?? ((l: string) => process.stderr.write(`${l}\n`)))(redact(line));
  const inflight = new Set<Promise<unknown>>();
  const warnedChats = new Set<string>();

  const reportError = async (userId: string, details: string): Promise<void> => {
    log(`bot: error for ${userId}: ${details.split('\n')[0]}`);
    if (!opts.errorChatId) return;
    const text = redact(`b24flow error (user ${userId}):\n${details}`).slice(0, 3500);
    await bot.api
      .sendMessage(opts.errorChatId, text)
      .catch((e: unknown) => log(`bot: error chat unreachable: ${String(e)}`));
  };

  const send = async (chatId: number, reply: AgentReply) => {
    const text = [reply.text, ...(reply.warnings?.length ? [`ℹ ${reply.warnings.join(' ')}`] : [])].join('\n\n');
    const parts = splitMessage(text);
    for (const [i, part] of parts.entries()) {
      const last = i === parts.length - 1;
      const keyboard =
        last && reply.buttons?.length
          ? reply.buttons.reduce((kb, b) => kb.text(b.text, b.data), new InlineKeyboard())
          : undefined;
      await withFloodRetry(() => bot.api.sendMessage(chatId, part, keyboard ? { reply_markup: keyboard } : {}));
    }
  };

  /** Runs `work` off the polling loop with a typing indicator, and reports failures. */
  const background = (ctx: Context, userId: string, work: () => Promise<AgentReply>) => {
    const chatId = ctx.chat!.id;
    const p = (async () => {
      const typing = () => bot.api.sendChatAction(chatId, 'typing').catch(() => {});
      void typing();
      const timer = setInterval(typing, opts.typingEveryMs ?? 4000);
      try {
        const reply = await work();
        await send(chatId, reply);
      } catch (err) {
        await reportError(userId, err instanceof Error ? `${err.message}\n${err.stack ?? ''}` : String(err));
        await bot.api
          .sendMessage(chatId, 'Something went wrong and nothing was changed. Please try again later.')
          .catch(() => {});
      } finally {
        clearInterval(timer);
      }
    })();
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
  };

  bot.use(async (ctx, next) => {
    const chatId = ctx.chat?.id;
    if (allowed.size && (chatId === undefined || !allowed.has(String(chatId)))) {
      const key = String(chatId);
      log(`bot: refused update from chat ${key} (not in TELEGRAM_ALLOWED_CHATS)`);
      if (ctx.callbackQuery) await ctx.answerCallbackQuery({ text: 'This chat is not allowed.' }).catch(() => {});
      else if (chatId !== undefined && !warnedChats.has(key)) {
        warnedChats.add(key);
        await ctx.reply('This chat is not allowed to use this bot. Ask the administrator to add it.').catch(() => {});
      }
      return;
    }
    await next();
  });

  // approval buttons and /reject come before the agent's handlers
  const courier = opts.approvals ? attachApprovals(bot, { ...opts.approvals, log }) : undefined;

  bot.on('message:text', (ctx) => {
    const userId = `tg:${ctx.from.id}`;
    const text = ctx.message.text;
    background(ctx, userId, () => agent.handleText(userId, text));
  });

  bot.on('callback_query:data', async (ctx) => {
    const userId = `tg:${ctx.from.id}`;
    const data = ctx.callbackQuery.data;
    await ctx.answerCallbackQuery().catch(() => {});
    // The buttons are single use: remove them from the plan message so a second tap cannot re-send.
    if (ctx.callbackQuery.message) await ctx.editMessageReplyMarkup({ reply_markup: undefined }).catch(() => {});
    background(ctx, userId, () => agent.handleButton(userId, data));
  });

  bot.on('message', async (ctx) => {
    await ctx.reply(
      'I can only read text. Please describe what you need in words, e.g. "create a deal for Romashka LLC for 50,000".',
    );
  });

  bot.catch((err) => {
    void reportError(
      err.ctx.from ? `tg:${err.ctx.from.id}` : 'unknown',
      `${err.message}\n${(err.error as Error)?.stack ?? ''}`,
    );
  });

  let alerts: Alerts | undefined;
  const startLoops = () => {
    courier?.start();
    if (opts.alerts && !alerts)
      alerts = startAlerts(bot, {
        ...opts.alerts,
        ...(opts.errorChatId ? { errorChatId: opts.errorChatId } : {}),
        log,
      });
  };
  return {
    bot,
    reportError,
    ...(courier ? { courier } : {}),
    get alerts() {
      return alerts;
    },
    async start() {
      await bot.init();
      startLoops();
      await bot.api.deleteWebhook().catch(() => {});
      void bot
        .start({ drop_pending_updates: false, onStart: () => log(`bot: @${bot.botInfo.username} polling`) })
        .catch((e) => log(`bot: polling stopped: ${String(e)}`));
    },
    async startWebhook({ url, port, host, secret }) {
      await bot.init();
      startLoops();
      const handle = webhookCallback(bot, 'http', { secretToken: secret });
      const server = createServer((req, res) => {
        if (req.method === 'POST' && req.url === '/telegram') {
          void handle(req, res);
          return;
        }
        res.writeHead(404).end();
      });
      await new Promise<void>((resolve) => server.listen(port, host ?? '0.0.0.0', resolve));
      await bot.api.setWebhook(url, { secret_token: secret });
      log(`bot: webhook on ${host ?? '0.0.0.0'}:${port}/telegram`);
      return server;
    },
    async stop() {
      await courier?.stop();
      await alerts?.stop();
      if (bot.isRunning()) await bot.stop();
      while (inflight.size) await Promise.allSettled([...inflight]);
      await agent.log.flush();
    },
  };
}

/**
 * Retries a Bot API call that Telegram refused with 429 (flood control) after the `retry_after` it names
 * (at most 3 attempts, each wait capped at 30 s). Source: https://core.telegram.org/bots/api#responseparameters
 */
export async function withFloodRetry<T>(call: () => Promise<T>, attempts = 3): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await call();
    } catch (err) {
      const wait = err instanceof GrammyError && err.error_code === 429 ? (err.parameters.retry_after ?? 1) : undefined;
      if (wait === undefined || i >= attempts) throw err;
      await new Promise((r) => setTimeout(r, Math.min(wait, 30) * 1000));
    }
  }
}
