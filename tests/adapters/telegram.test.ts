import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTelegramBot, type TelegramBotHandle } from '../../src/adapters/telegram/bot.js';
import { splitMessage } from '../../src/adapters/telegram/split.js';
import { FakeOpenAI } from '../agent/support/fakeOpenAI.js';
import { FakeTelegram } from '../agent/support/fakeTelegram.js';
import { findSecrets } from '../agent/support/secrets.js';
import { codeIn, createdDataDirs, makeAgent, TEST_SECRETS } from '../agent/support/setup.js';
import { stubEngine } from '../agent/support/stubEngine.js';

describe('splitMessage', () => {
  it('keeps paragraphs whole and never exceeds the limit', () => {
    const para = (n: number, c: string) => c.repeat(n);
    const text = [para(3000, 'a'), para(2000, 'b'), para(50, 'c'), para(9000, 'd')].join('\n\n');
    const parts = splitMessage(text);
    expect(parts.every((p) => p.length <= 4096 && p.length > 0)).toBe(true);
    expect(parts[0]).toBe(para(3000, 'a'));
    expect(parts[1]).toBe(`${para(2000, 'b')}\n\n${para(50, 'c')}`);
    expect(parts.slice(2).join('')).toBe(para(9000, 'd'));
  });
  it('does not cut a surrogate pair', () => {
    const parts = splitMessage('😀'.repeat(3000));
    expect(parts.join('')).toBe('😀'.repeat(3000));
    expect(parts.every((p) => !/[\ud800-\udbff]$/.test(p))).toBe(true);
  });
});

describe('Telegram bot (real grammY, fake Bot API, stub engine)', () => {
  const tg = new FakeTelegram();
  const ai = new FakeOpenAI();
  const engine = stubEngine();
  let handle: TelegramBotHandle;
  let agent: ReturnType<typeof makeAgent>;
  const errorLines: string[] = [];

  beforeAll(async () => {
    await Promise.all([tg.start(), ai.start()]);
    agent = makeAgent(engine, { baseURL: ai.baseURL, onError: (u, d) => void handle.reportError(u, d) });
    handle = createTelegramBot({
      token: tg.token,
      agent,
      apiRoot: tg.apiRoot,
      allowedChats: ['101', '102', '103', '-500'],
      errorChatId: '-500',
      log: (l) => errorLines.push(l),
    });
    await handle.start();
  });
  afterAll(async () => {
    await handle.stop();
    await Promise.all([tg.close(), ai.close()]);
  });

  it('message → plan with buttons → Confirm → summary', async () => {
    const asked = tg.sent.length;
    tg.sendText(101, '/link 11');
    const sent = await tg.waitFor(101, () => true, asked);
    expect(sent.text).toMatch(/code was sent to Bitrix24 user 11 as a notification/);
    const code = codeIn(engine.notifications.at(-1)?.text);
    expect(engine.notifications.at(-1)?.userId).toBe('11');
    expect(engine.notifications.at(-1)?.text).toMatch(/chat user tg:101 asks to be linked.*ignore/s);
    expect(code).toMatch(/^\d{8}$/);
    expect(tg.sent.some((m) => m.text.includes(code!))).toBe(false);
    tg.sendText(101, `/link ${code}`);
    await tg.waitFor(101, (m) => /Linked to Bitrix24 user 11/.test(m.text));
    ai.answer(
      FakeOpenAI.plan('Создам сделку.', {
        name: 'deal',
        steps: [{ id: 'd', method: 'crm.deal.add', params: { fields: { TITLE: 'ООО Ромашка', OPPORTUNITY: 50000 } } }],
      }),
    );
    const from = tg.sent.length;
    tg.sendText(101, 'создай сделку для ООО Ромашка на 50 000 рублей');
    const plan = await tg.waitFor(101, (m) => m.buttons.length > 0, from);
    expect(plan.text).toMatch(/Создам сделку/);
    expect(plan.buttons.map((b) => b.text)).toEqual(['Подтвердить', 'Отменить']);
    expect(tg.calls.some((c) => c.method === 'sendChatAction' && c.body.action === 'typing')).toBe(true);
    const at = tg.sent.length;
    tg.press(101, plan, plan.buttons[0]!.data);
    const done = await tg.waitFor(101, (m) => /Готово/.test(m.text), at);
    expect(done.text).toMatch(/Создано сделок: 1/);
    expect([...engine.deals.values()]).toContainEqual({ TITLE: 'ООО Ромашка', OPPORTUNITY: 50000 });
    expect(tg.calls.some((c) => c.method === 'editMessageReplyMarkup')).toBe(true);
  });

  it('an unlinked user cannot confirm; nothing written', async () => {
    const before = engine.writes;
    ai.answer(
      FakeOpenAI.plan('ok', {
        name: 'deal',
        steps: [{ id: 'd', method: 'crm.deal.add', params: { fields: { TITLE: 'X' } } }],
      }),
    );
    const from = tg.sent.length;
    tg.sendText(102, 'create a deal X');
    const plan = await tg.waitFor(102, (m) => m.buttons.length > 0, from);
    const at = tg.sent.length;
    tg.press(102, plan, plan.buttons[0]!.data);
    const r = await tg.waitFor(102, () => true, at);
    expect(r.text).toMatch(/Only linked users/);
    expect(engine.writes).toBe(before);
  });

  it('a code asked for by another chat user is refused and links nothing; unknown and inactive users get no code', async () => {
    const say = async (chat: number, text: string) => {
      const from = tg.sent.length;
      tg.sendText(chat, text);
      return (await tg.waitFor(chat, () => true, from)).text;
    };
    const before = engine.notifications.length;
    expect(await say(103, '/link 12')).toMatch(/code was sent/);
    const code = codeIn(engine.notifications.at(-1)?.text)!;
    expect(await say(102, `/link ${code}`)).toMatch(/not issued to you; nothing was linked/);
    expect(await agent.links.bitrixUserOf('tg:102')).toBeUndefined();
    expect(await say(102, '/status')).toMatch(/Not linked/);
    // the code stays its owner's
    expect(await say(103, `/link ${code}`)).toMatch(/Linked to Bitrix24 user 12/);
    expect(await say(103, '/unlink')).toMatch(/link to your Bitrix24 user was removed/);
    expect(await say(102, '/link 555')).toMatch(/no active Bitrix24 user 555/);
    expect(await say(102, '/link 99')).toMatch(/no active Bitrix24 user 99/);
    expect(engine.notifications.length).toBe(before + 1);
  });

  it('/dlq drop: refused to an unlinked user and to a non-operator, done for an operator', async () => {
    const say = async (chat: number, text: string) => {
      const from = tg.sent.length;
      tg.sendText(chat, text);
      return (await tg.waitFor(chat, () => true, from)).text;
    };
    engine.letters = [
      { id: 'm1abc-00000001', event: 'ONCRMDEALADD', error: 'boom', attempts: 3 },
      { id: 'm1abc-00000002', event: 'ONCRMDEALUPDATE', error: 'sticky', attempts: 5 },
    ];
    expect(await say(102, '/dlq')).toMatch(/m1abc-00000001 ONCRMDEALADD: boom/);
    expect(await say(102, '/dlq drop m1abc-00000001')).toMatch(/Only linked operators/);
    expect(await say(103, '/link 13')).toMatch(/code was sent/);
    expect(await say(103, `/link ${codeIn(engine.notifications.at(-1)?.text)}`)).toMatch(/Linked/);
    expect(await say(103, '/dlq drop m1abc-00000001')).toMatch(/Bitrix24 user 13 may not drop/);
    expect(engine.letters).toHaveLength(2);
    engine.operators.add('13');
    expect(await say(103, '/dlq drop m1abc-00000001')).toMatch(/m1abc-00000001 was dropped/);
    expect(engine.letters.map((l) => l.id)).toEqual(['m1abc-00000002']);
    expect(await say(103, '/dlq replay m1abc-00000002')).toMatch(/failed again and stays in the queue: sticky/);
    expect(await say(103, '/dlq drop nope')).toMatch(/No dead letter with id nope/);
    engine.operators.clear();
    engine.letters = [];
    expect(await say(103, '/unlink')).toMatch(/removed/);
  });

  it('non-text messages get a polite text-only reply', async () => {
    const from = tg.sent.length;
    tg.sendPhoto(103);
    expect((await tg.waitFor(103, () => true, from)).text).toMatch(/only read text/);
  });

  it('chats outside TELEGRAM_ALLOWED_CHATS are refused and logged', async () => {
    const from = tg.sent.length;
    tg.sendText(999, '/start');
    expect((await tg.waitFor(999, () => true, from)).text).toMatch(/not allowed/);
    expect(errorLines.some((l) => l.includes('999'))).toBe(true);
  });

  it('long replies are split at paragraph boundaries', async () => {
    engine.named = Array.from({ length: 120 }, (_, i) => ({
      name: `pipeline-${i}`,
      file: 'x',
      description: `${'long description '.repeat(3)}${i}`,
    }));
    const from = tg.sent.length;
    tg.sendText(103, '/pipelines');
    await tg.waitFor(103, (m) => m.text.includes('pipeline-119'), from);
    const parts = tg.sent.slice(from).filter((m) => m.chat_id === 103);
    expect(parts.length).toBeGreaterThan(1);
    expect(parts.every((p) => p.text.length <= 4096)).toBe(true);
    engine.named = [];
  });

  it('waits and retries when Telegram answers 429 flood control', async () => {
    const from = tg.sent.length;
    tg.floodNext = 1;
    tg.sendText(103, '/status');
    expect((await tg.waitFor(103, () => true, from)).text).toMatch(/Not linked/);
    expect(tg.floodNext).toBe(0);
  });

  it('errors go to the user in plain words and to the error chat with details', async () => {
    const orig = engine.dlq;
    engine.dlq = async () => {
      throw new Error(`disk exploded at ${tg.token}`);
    };
    const from = tg.sent.length;
    tg.sendText(103, '/dlq');
    const r = await tg.waitFor(103, () => true, from);
    expect(r.text).toMatch(/Something went wrong/);
    expect(r.text).not.toMatch(/disk exploded/);
    const admin = await tg.waitFor(-500, (m) => /disk exploded/.test(m.text), from);
    expect(admin.text).not.toContain(tg.token);
    engine.dlq = orig;
  });
});

afterAll(() => {
  expect(findSecrets(createdDataDirs, TEST_SECRETS)).toEqual([]);
});

describe('Telegram bot in webhook mode', () => {
  it('accepts updates only with the secret token and answers through the Bot API', async () => {
    const tg = new FakeTelegram();
    await tg.start();
    const agent = makeAgent(stubEngine());
    const handle = createTelegramBot({ token: tg.token, agent, apiRoot: tg.apiRoot, log: () => {} });
    const server = await handle.startWebhook({
      url: 'https://bot.example/telegram',
      port: 0,
      host: '127.0.0.1',
      secret: 'hook-secret-1',
    });
    try {
      const port = (server.address() as { port: number }).port;
      expect(tg.calls.find((c) => c.method === 'setWebhook')?.body.secret_token).toBe('hook-secret-1');
      const update = {
        update_id: 1,
        message: {
          message_id: 1,
          date: 0,
          chat: { id: 301, type: 'private' },
          from: { id: 301, is_bot: false, first_name: 'A' },
          text: '/start',
        },
      };
      const post = (secret: string) =>
        fetch(`http://127.0.0.1:${port}/telegram`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': secret },
          body: JSON.stringify(update),
        });
      expect((await post('wrong')).status).toBe(401);
      expect((await post('hook-secret-1')).status).toBe(200);
      expect((await tg.waitFor(301)).text).toMatch(/Free-text planning: off/);
      expect(tg.sent.filter((m) => m.chat_id === 301)).toHaveLength(1);
    } finally {
      await handle.stop();
      server.close();
      await tg.close();
    }
  });
});
