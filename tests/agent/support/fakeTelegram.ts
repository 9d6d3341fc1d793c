import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A message the bot sent through the fake Bot API. */
export interface SentMessage {
  message_id: number;
  chat_id: number | string;
  text: string;
  buttons: { text: string; data: string }[];
}

/**
 * A local fake of the Telegram Bot API (https://core.telegram.org/bots/api) on node:http: long polling with
 * getUpdates, sendMessage, sendChatAction, answerCallbackQuery, editMessageReplyMarkup, getMe, webhooks.
 * Tests push updates and wait for the bot's messages.
 */
export class FakeTelegram {
  readonly token = '123456789:AAFakeTokenForTestsOnly_abcdefghijklmnop';
  readonly sent: SentMessage[] = [];
  readonly calls: { method: string; body: Record<string, unknown> }[] = [];
  private server!: Server;
  private updates: Record<string, unknown>[] = [];
  private nextUpdateId = 1;
  private nextMessageId = 1000;
  private waiters: (() => void)[] = [];
  /** sendMessage calls to refuse with 429 (flood control) before answering normally. */
  floodNext = 0;
  apiRoot = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      void this.handle(req).then(
        (result) => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ ok: true, result }));
        },
        (err: Error & { retryAfter?: number }) => {
          const code = err.retryAfter ? 429 : 400;
          res.writeHead(code, { 'content-type': 'application/json' });
          res.end(
            JSON.stringify({
              ok: false,
              error_code: code,
              description: err.message,
              ...(err.retryAfter ? { parameters: { retry_after: err.retryAfter } } : {}),
            }),
          );
        },
      );
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.apiRoot = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private async body(req: IncomingMessage): Promise<Record<string, unknown>> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    return raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
  }

  private async handle(req: IncomingMessage): Promise<unknown> {
    const m = /^\/bot([^/]+)\/(\w+)$/.exec(req.url ?? '');
    if (!m || m[1] !== this.token) throw new Error('Unauthorized');
    const method = m[2] as string;
    const body = await this.body(req);
    this.calls.push({ method, body });
    switch (method) {
      case 'getMe':
        return { id: 42, is_bot: true, first_name: 'b24flow', username: 'b24flow_test_bot' };
      case 'deleteWebhook':
      case 'setWebhook':
      case 'sendChatAction':
      case 'answerCallbackQuery':
        return true;
      case 'getUpdates': {
        const offset = Number(body.offset ?? 0);
        this.updates = this.updates.filter((u) => Number(u.update_id) >= offset);
        if (!this.updates.length) {
          await new Promise<void>((r) => {
            const t = setTimeout(r, 200);
            this.waiters.push(() => {
              clearTimeout(t);
              r();
            });
          });
        }
        return this.updates.filter((u) => Number(u.update_id) >= offset);
      }
      case 'sendMessage': {
        if (this.floodNext > 0) {
          this.floodNext--;
          throw Object.assign(new Error('Too Many Requests: retry after 1'), { retryAfter: 1 });
        }
        const markup = body.reply_markup as
          | { inline_keyboard?: { text: string; callback_data: string }[][] }
          | undefined;
        const msg: SentMessage = {
          message_id: this.nextMessageId++,
          chat_id: Number(body.chat_id),
          text: String(body.text),
          buttons: (markup?.inline_keyboard ?? []).flat().map((b) => ({ text: b.text, data: b.callback_data })),
        };
        if (msg.text.length > 4096) throw new Error('Bad Request: message is too long');
        this.sent.push(msg);
        return { message_id: msg.message_id, date: 0, chat: { id: body.chat_id, type: 'private' }, text: msg.text };
      }
      case 'editMessageReplyMarkup':
        return true;
      default:
        throw new Error(`fake Bot API: ${method} not implemented`);
    }
  }

  private push(update: Record<string, unknown>): void {
    this.updates.push({ update_id: this.nextUpdateId++, ...update });
    for (const w of this.waiters.splice(0)) w();
  }

  /** A text message from a user in their private chat (chat id = user id unless given). */
  sendText(userId: number, text: string, chatId = userId): void {
    this.push({
      message: {
        message_id: this.nextMessageId++,
        date: Math.floor(Date.now() / 1000),
        chat: { id: chatId, type: 'private' },
        from: { id: userId, is_bot: false, first_name: `U${userId}` },
        text,
      },
    });
  }

  /** A photo (non-text) message. */
  sendPhoto(userId: number, chatId = userId): void {
    this.push({
      message: {
        message_id: this.nextMessageId++,
        date: Math.floor(Date.now() / 1000),
        chat: { id: chatId, type: 'private' },
        from: { id: userId, is_bot: false, first_name: `U${userId}` },
        photo: [{ file_id: 'x', file_unique_id: 'x', width: 1, height: 1 }],
      },
    });
  }

  /** A tap on an inline button of a message the bot sent. */
  press(userId: number, msg: SentMessage, data: string): void {
    this.push({
      callback_query: {
        id: String(this.nextUpdateId),
        from: { id: userId, is_bot: false, first_name: `U${userId}` },
        chat_instance: '1',
        data,
        message: { message_id: msg.message_id, date: 0, chat: { id: msg.chat_id, type: 'private' }, text: msg.text },
      },
    });
  }

  /** Waits until the bot has sent a message to `chatId` after index `from` matching `pred`. */
  async waitFor(chatId: number, pred: (m: SentMessage) => boolean = () => true, from = 0, timeoutMs = 10_000) {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      const hit = this.sent.slice(from).find((m) => m.chat_id === chatId && pred(m));
      if (hit) return hit;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(
      `no matching message to ${chatId}; sent: ${JSON.stringify(this.sent.slice(from).map((m) => m.text.slice(0, 120)))}`,
    );
  }
}
