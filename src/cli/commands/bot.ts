import type { Command } from 'commander';
import { InvalidInputError, RuntimeFailure } from '../../lib/failures.js';
import { jsonText } from '../present/jsonOut.js';

/**
 * Registers `b24flow bot`: the Telegram bot (grammY, long polling by default; `--webhook-url` for webhook mode)
 * and `b24flow bot link-code --bitrix-user <id>` to issue a one-time code a person sends as `/link <code>`.
 *
 * Environment: TELEGRAM_BOT_TOKEN (required), TELEGRAM_ALLOWED_CHATS, TELEGRAM_ERROR_CHAT_ID, TELEGRAM_API_ROOT,
 * TELEGRAM_WEBHOOK_SECRET, OPENAI_API_KEY / OPENAI_API_BASE / OPENAI_MODEL, B24FLOW_DATA_DIR, and the portal
 * settings of `connect()` (none = embedded sandbox).
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
      const port = Number(o.webhookPort);
      if (!Number.isInteger(port) || port < 1 || port > 65535)
        throw new InvalidInputError('--webhook-port must be 1..65535');
      const { openChatRuntime } = await import('../chatRuntime.js');
      const { createTelegramBot } = await import('../../adapters/telegram/bot.js');
      let report: (u: string, d: string) => void = () => {};
      const rt = await openChatRuntime({ pipelinesDir: o.pipelines, onError: (u, d) => report(u, d) });
      const handle = createTelegramBot({
        token,
        agent: rt.agent,
        ...(env.TELEGRAM_API_ROOT ? { apiRoot: env.TELEGRAM_API_ROOT } : {}),
        allowedChats: (env.TELEGRAM_ALLOWED_CHATS ?? '').split(',').filter((s) => s.trim()),
        ...(env.TELEGRAM_ERROR_CHAT_ID ? { errorChatId: env.TELEGRAM_ERROR_CHAT_ID } : {}),
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
    .description('Issue a one-time code that links a Telegram user to a Bitrix24 user (/link <code>)')
    .requiredOption('--bitrix-user <id>', 'Bitrix24 user id the code links to')
    .option('--ttl <hours>', 'validity in hours', '24')
    .option('--json', 'print JSON')
    .action(async (o: { bitrixUser: string; ttl: string; json?: boolean }) => {
      if (!/^\d+$/.test(o.bitrixUser)) throw new InvalidInputError('--bitrix-user must be a numeric Bitrix24 user id');
      const hours = Number(o.ttl);
      if (!Number.isFinite(hours) || hours <= 0 || hours > 24 * 30)
        throw new InvalidInputError('--ttl must be 0..720 hours');
      const { readSettings } = await import('../compose.js');
      const { LinkCodes } = await import('../../agent/links.js');
      const { resolve } = await import('node:path');
      const { dataDir } = readSettings();
      const code = await new LinkCodes(resolve(dataDir)).issue(o.bitrixUser, hours * 3600_000);
      if (o.json) process.stdout.write(jsonText({ code, bitrixUserId: o.bitrixUser, ttlHours: hours }, 0));
      else process.stdout.write(`${code}\n`);
      process.stderr.write(`The person sends "/link ${code}" to the bot within ${hours} h; the code works once.\n`);
    });
}
