import type { Command } from 'commander';
import { InvalidInputError, RuntimeFailure } from '../../lib/failures.js';
import { jsonText } from '../present/jsonOut.js';

/**
 * Registers `b24flow bot`: the Telegram bot (grammY, long polling by default; `--webhook-url` for webhook mode)
 * and `b24flow bot link-code --bitrix-user <id> --chat-user tg:<id>`, which checks the user on the portal and sends
 * a one-time code to their Bitrix24 notifications; that person sends `/link <code>` to the bot as that chat user.
 *
 * Environment: TELEGRAM_BOT_TOKEN (required), TELEGRAM_ALLOWED_CHATS (required unless TELEGRAM_ALLOW_ALL_CHATS=1),
 * TELEGRAM_ERROR_CHAT_ID, TELEGRAM_API_ROOT, TELEGRAM_WEBHOOK_SECRET, B24FLOW_OPERATORS, OPENAI_API_KEY /
 * OPENAI_API_BASE / OPENAI_MODEL, B24FLOW_DATA_DIR, and the portal settings of `connect()` (none = embedded sandbox).
 */
export function register(program: Command): void {
  const bot = program
    .command('bot')
    .description('Run the Telegram bot (grammY, long polling; --webhook-url for webhook mode)')
    .option('--pipelines <dir>', 'directory of named pipelines', './pipelines')
    .option('--webhook-url <url>', 'public HTTPS URL of the webhook (path /telegram); default: long polling')
    .option('--webhook-port <n>', 'local port for webhook mode', '8443')
    .action(async (o: { pipelines: string; webhookUrl?: string; webhookPort: string }) => {
      const { readSettings } = await import('../compose.js');
      const { env } = readSettings();
      const token = env.TELEGRAM_BOT_TOKEN;
      if (!token) throw new InvalidInputError('TELEGRAM_BOT_TOKEN is not set (get one from @BotFather)');
      if (o.webhookUrl && !env.TELEGRAM_WEBHOOK_SECRET) {
        throw new InvalidInputError('webhook mode needs TELEGRAM_WEBHOOK_SECRET (1-256 characters A-Z a-z 0-9 _ -)');
      }
      const allowedChats = (env.TELEGRAM_ALLOWED_CHATS ?? '').split(',').filter((s) => s.trim());
      const allowAll = env.TELEGRAM_ALLOW_ALL_CHATS === '1';
      if (!allowedChats.length && !allowAll)
        throw new InvalidInputError(
          'TELEGRAM_ALLOWED_CHATS is not set: list the chat ids the bot may serve (comma-separated), or set TELEGRAM_ALLOW_ALL_CHATS=1 to serve every chat',
        );
      const port = Number(o.webhookPort);
      if (!Number.isInteger(port) || port < 1 || port > 65535)
        throw new InvalidInputError('--webhook-port must be 1..65535');
      if (!allowedChats.length)
        process.stderr.write(
          'bot: WARNING serving every chat (TELEGRAM_ALLOW_ALL_CHATS=1, no TELEGRAM_ALLOWED_CHATS): anyone who finds the bot can plan on this portal and ask for link codes\n',
        );
      // how often the bot looks for new approval requests and alerts (ms; tests shorten it)
      const pollMs = Number(env.B24FLOW_BOT_POLL_MS) > 0 ? Number(env.B24FLOW_BOT_POLL_MS) : undefined;
      const { userLanguage } = await import('../../pipeline/index.js');
      const { openChatRuntime } = await import('../chatRuntime.js');
      const { createTelegramBot } = await import('../../adapters/telegram/bot.js');
      let report: (u: string, d: string) => void = () => {};
      const rt = await openChatRuntime({ pipelinesDir: o.pipelines, onError: (u, d) => report(u, d) });
      const handle = createTelegramBot({
        token,
        agent: rt.agent,
        ...(env.TELEGRAM_API_ROOT ? { apiRoot: env.TELEGRAM_API_ROOT } : {}),
        allowedChats,
        ...(env.TELEGRAM_ERROR_CHAT_ID ? { errorChatId: env.TELEGRAM_ERROR_CHAT_ID } : {}),
        // approval requests of serve's runs (from the store) go to their approvers' linked chats
        approvals: {
          service: rt.approvals,
          links: rt.agent.links,
          portal: rt.portal,
          notifyPortal: rt.notifyUser,
          ...(pollMs ? { pollMs } : {}),
          lang: userLanguage(env),
        },
        alerts: {
          journal: rt.journal,
          deadLetters: { size: rt.deadLetterSize },
          links: rt.agent.links,
          portal: rt.portal,
          ...(Number(env.B24FLOW_DLQ_ALERT) > 0 ? { dlqThreshold: Number(env.B24FLOW_DLQ_ALERT) } : {}),
          ...(pollMs ? { pollMs } : {}),
        },
      });
      report = (u, d) => void handle.reportError(u, d);
      try {
        if (o.webhookUrl) {
          await handle.startWebhook({ url: o.webhookUrl, port, secret: env.TELEGRAM_WEBHOOK_SECRET! });
        } else await handle.start();
      } catch (err) {
        await rt.close();
        throw new RuntimeFailure(`the bot could not start: ${err instanceof Error ? err.message : String(err)}`);
      }
      process.stderr.write(
        `bot: running; free-text planning ${rt.agent.planningOn ? 'on' : 'off (no OPENAI_API_KEY)'}; Ctrl+C to stop\n`,
      );
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      process.stderr.write('bot: stopping\n');
      await handle.stop();
      await rt.close();
    });

  bot
    .command('link-code')
    .description(
      'Send a one-time link code to a Bitrix24 user (as a Bitrix24 notification) for a chat user to send as /link <code>',
    )
    .requiredOption('--bitrix-user <id>', 'Bitrix24 user id to link to (must be an active user of the portal)')
    .requiredOption('--chat-user <id>', 'the chat user the code is for, e.g. tg:123456789 (the Telegram user id)')
    .option('--ttl <minutes>', 'validity in minutes', '15')
    .option('--json', 'print JSON')
    .action(async (o: { bitrixUser: string; chatUser: string; ttl: string; json?: boolean }) => {
      if (!/^\d{1,18}$/.test(o.bitrixUser))
        throw new InvalidInputError('--bitrix-user must be a numeric Bitrix24 user id');
      if (!/^[a-z]+:[\w.@-]{1,120}$/.test(o.chatUser))
        throw new InvalidInputError('--chat-user must be a chat user id like tg:123456789');
      const minutes = Number(o.ttl);
      if (!Number.isFinite(minutes) || minutes <= 0 || minutes > 24 * 60)
        throw new InvalidInputError('--ttl must be 0..1440 minutes');
      const { readSettings, connect } = await import('../compose.js');
      const { openDataStore, closeDataStore } = await import('../dataStore.js');
      const { StoreLinks } = await import('../../store/links.js');
      const { sendLinkCode } = await import('../../agent/links.js');
      const { linkPortal } = await import('../../agent/portalUsers.js');
      const settings = readSettings();
      const conn = await connect({ env: settings.env, dotenv: false });
      try {
        const links = new StoreLinks(await openDataStore(settings));
        const r = await sendLinkCode(links, linkPortal(conn.client), o.chatUser, o.bitrixUser, minutes * 60_000);
        if ('refused' in r)
          throw new InvalidInputError(
            `there is no active Bitrix24 user ${o.bitrixUser} on the portal; no code was sent`,
          );
        const expiresAt = new Date(Date.now() + minutes * 60_000).toISOString();
        if (o.json)
          process.stdout.write(
            jsonText({ sentTo: r.sentTo, chatUserId: o.chatUser, bitrixUserId: o.bitrixUser, expiresAt }, 0),
          );
        else process.stdout.write(`code sent to ${r.sentTo.name} via Bitrix24 notification\n`);
        process.stderr.write(
          `${o.chatUser} sends "/link <code>" to the bot within ${minutes} min; the code works once, only for that chat user.\n`,
        );
      } finally {
        await conn.close();
        await closeDataStore();
      }
    });
}
