import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiRoutes } from '../../src/adapters/http/api.js';
import { createTelegramBot, type TelegramBotHandle } from '../../src/adapters/telegram/bot.js';
import { ChatAgent } from '../../src/agent/agent.js';
import { Planner } from '../../src/agent/planner.js';
import { createRuntimeEngine } from '../../src/agent/runtime.js';
import { MemoryStateStore } from '../../src/agent/state.js';
import { connect } from '../../src/cli/compose.js';
import { startHttpServer } from '../../src/lib/http.js';
import { registerSecrets } from '../../src/lib/redact.js';
import { startSandbox } from '../../src/sandbox/index.js';
import { StoreLinks } from '../../src/store/links.js';
import { FakeOpenAI } from '../agent/support/fakeOpenAI.js';
import { FakeTelegram, type SentMessage } from '../agent/support/fakeTelegram.js';
import { findSecrets } from '../agent/support/secrets.js';
import { codeIn, FAKE_OPENAI_KEY, TEST_SECRETS, tempDataDir } from '../agent/support/setup.js';
import { storesOf } from '../support/stores.js';

/**
 * End to end: the real grammY bot (long polling against a fake Bot API), the real openai SDK (against a fake
 * OpenAI-compatible server with scripted answers), the real catalog, checker, planner, plan store and runner, and
 * the sandbox portal over HTTP. Asserts CRM state in the sandbox.
 */
describe('chat end to end: Telegram → planner → plan → Confirm → sandbox CRM', () => {
  const tg = new FakeTelegram();
  const ai = new FakeOpenAI();
  const dataDir = tempDataDir();
  let sandbox: Awaited<ReturnType<typeof startSandbox>>;
  let conn: Awaited<ReturnType<typeof connect>>;
  let bot: TelegramBotHandle;
  let agent: ChatAgent;
  let clockShift = 0;
  const LINKED = 201;
  const UNLINKED = 202;

  const deals = async (title: string) => {
    const r = await conn.client.call<Record<string, unknown>[]>('crm.deal.list', {
      filter: { TITLE: title },
      select: ['ID', 'TITLE', 'OPPORTUNITY'],
    });
    return r.result;
  };
  const dealCount = async () => (await conn.client.call('crm.deal.list', { select: ['ID'] })).total ?? 0;

  /** Sends a message and waits for the reply with buttons (a plan) or any reply. */
  const say = async (user: number, text: string, wantButtons = true): Promise<SentMessage> => {
    const from = tg.sent.length;
    tg.sendText(user, text);
    return tg.waitFor(user, (m) => !wantButtons || m.buttons.length > 0, from, 20_000);
  };
  const press = async (user: number, msg: SentMessage, index: number): Promise<SentMessage> => {
    const from = tg.sent.length;
    tg.press(user, msg, msg.buttons[index]!.data);
    return tg.waitFor(user, () => true, from, 20_000);
  };

  beforeAll(async () => {
    process.env.B24FLOW_DATA_DIR = dataDir;
    await Promise.all([tg.start(), ai.start()]);
    sandbox = await startSandbox({ plan: 'unlimited', quiet: true, size: 20 });
    conn = await connect({
      env: { BITRIX_WEBHOOK_URL: sandbox.webhookUrl, B24FLOW_DATA_DIR: dataDir },
      dotenv: false,
      stderr: () => {},
    });
    const pipelinesDir = join(dataDir, 'pipelines');
    mkdirSync(pipelinesDir, { recursive: true });
    writeFileSync(
      join(pipelinesDir, 'demo-deal.yaml'),
      [
        'name: demo-deal',
        'description: Adds a demo deal',
        'packs: [core]',
        'inputs:',
        '  title: { type: string, default: Demo deal }',
        'triggers:',
        '  - chat: { command: demo, phrases: ["демо сделка"] }',
        'steps:',
        '  - id: deal',
        '    method: crm.deal.add',
        '    params:',
        '      fields:',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a pipeline expression inside YAML text
        '        TITLE: ${{ inputs.title }}',
        '        OPPORTUNITY: 1000',
        '',
      ].join('\n'),
    );
    const stores = await storesOf(dataDir);
    const engine = await createRuntimeEngine({ client: conn.client, ...stores, pipelinesDir });
    agent = new ChatAgent({
      links: new StoreLinks(stores.store),
      engine,
      planner: new Planner({ engine, apiKey: FAKE_OPENAI_KEY, baseURL: ai.baseURL, model: 'fake-model' }),
      dataDir,
      state: new MemoryStateStore(),
      clock: () => Date.now() + clockShift,
      onError: (u, d) => void bot.reportError(u, d),
    });
    bot = createTelegramBot({ token: tg.token, agent, apiRoot: tg.apiRoot, errorChatId: '-900', log: () => {} });
    await bot.start();
    const asked = await say(LINKED, '/link 1', false);
    const code = codeIn((await notificationsOf(1)).at(-1)?.MESSAGE);
    expect(asked.text).not.toContain(code);
    expect((await say(LINKED, `/link ${code}`, false)).text).toMatch(/Linked to Bitrix24 user 1\./);
  });

  /** What a Bitrix24 user received through im.notify.* (the sandbox's control endpoint). */
  const notificationsOf = (user: number) => sandbox.admin.notifications(user);

  it('links through the portal: the code goes only to the Bitrix24 user’s notifications; refusals link nothing', async () => {
    const OTHER = 203;
    const user = (await conn.client.call<{ ID: string }[]>('user.get', { ACTIVE: true })).result[2]!;
    const before = (await notificationsOf(Number(user.ID))).length;
    const asked = await say(OTHER, `/link ${user.ID}`, false);
    expect(asked.text).toMatch(new RegExp(`code was sent to Bitrix24 user ${user.ID} as a notification`));
    const notes = await notificationsOf(Number(user.ID));
    expect(notes).toHaveLength(before + 1);
    const note = notes.at(-1)!;
    expect(note.TYPE).toBe('system');
    expect(note.MESSAGE).toMatch(/chat user tg:203 asks to be linked to your Bitrix24 account/);
    expect(note.MESSAGE).toMatch(/If it was not you, ignore this message/);
    const code = codeIn(note.MESSAGE)!;
    expect(code).toMatch(/^\d{8}$/);
    expect(tg.sent.some((m) => m.text.includes(code))).toBe(false);
    // another chat user sending it: refused, nothing linked, and the code stays valid for its owner
    expect((await say(UNLINKED, `/link ${code}`, false)).text).toMatch(/not issued to you; nothing was linked/);
    expect(await agent.links.bitrixUserOf(`tg:${UNLINKED}`)).toBeUndefined();
    expect((await say(OTHER, `/link ${code}`, false)).text).toMatch(
      new RegExp(`Linked to Bitrix24 user ${user.ID}\\.`),
    );
    expect(await agent.links.chatsOf(user.ID, conn.client.portal.id)).toEqual([`tg:${OTHER}`]);
    // a user the portal does not have, and an inactive one: refused, nothing sent
    const inactive = (await conn.client.call<{ ID: string }[]>('user.get', { ACTIVE: false })).result[0]!;
    const all = (await notificationsOf(Number(inactive.ID))).length;
    expect((await say(UNLINKED, '/link 987654', false)).text).toMatch(/no active Bitrix24 user 987654/);
    expect((await say(UNLINKED, `/link ${inactive.ID}`, false)).text).toMatch(/no active Bitrix24 user/);
    expect(await notificationsOf(Number(inactive.ID))).toHaveLength(all);
    expect(await agent.links.bitrixUserOf(`tg:${UNLINKED}`)).toBeUndefined();
  });

  afterAll(async () => {
    await bot?.stop();
    await conn?.close();
    await sandbox?.close();
    await Promise.all([tg.close(), ai.close()]);
    delete process.env.B24FLOW_DATA_DIR;
  });

  const romashka = {
    name: 'romashka-deal',
    steps: [
      {
        id: 'deal',
        method: 'crm.deal.add',
        params: { fields: { TITLE: 'ООО Ромашка', OPPORTUNITY: 50000, CURRENCY_ID: 'RUB' } },
      },
    ],
  };

  it('message → plan with buttons → Confirm → deal in the sandbox → summary (after one repair round)', async () => {
    ai.answer('{"reply": "Создам сделку", "pipeline": {"name": ', FakeOpenAI.plan('Создам сделку.', romashka));
    const plan = await say(LINKED, 'создай сделку для ООО Ромашка на 50 000 рублей');
    expect(plan.text).toMatch(/Создам сделку/);
    expect(plan.text).toMatch(/Ромашка/);
    expect(plan.text).toMatch(/OPPORTUNITY/);
    expect(plan.buttons.map((b) => b.text)).toEqual(['Подтвердить', 'Отменить']);
    expect(await deals('ООО Ромашка')).toHaveLength(0);
    const done = await press(LINKED, plan, 0);
    expect(done.text).toMatch(/Готово/);
    expect(done.text).not.toMatch(/crm\.deal/);
    const rows = await deals('ООО Ромашка');
    expect(rows).toHaveLength(1);
    expect(Number(rows[0]?.OPPORTUNITY)).toBe(50000);
    const state = await agent.store.load(`tg:${LINKED}`);
    expect(state.objects.current_deal_id).toBe(String(rows[0]?.ID));
  });

  it.each([
    [
      'a disallowed method',
      {
        name: 'bind',
        steps: [
          { id: 'b', method: 'event.bind', params: { event: 'ONCRMDEALADD', handler: 'https://example.invalid/h' } },
        ],
      },
    ],
    [
      'a method outside the packs',
      { name: 'msg', steps: [{ id: 'm', method: 'im.message.add', params: { DIALOG_ID: '1', MESSAGE: 'hi' } }] },
    ],
    ['an unknown method', { name: 'purge', steps: [{ id: 'p', method: 'crm.deal.purge', params: {} }] }],
  ])('refuses %s, nothing written', async (name, bad) => {
    const reason = /disallowed/.test(name)
      ? /not allowed from chat/
      : /outside/.test(name)
        ? /outside the packs/
        : /not in the catalog/;
    const before = await dealCount();
    // the first answer and both repair rounds keep the mistake
    ai.answer(FakeOpenAI.plan('ok', bad), FakeOpenAI.plan('ok', bad), FakeOpenAI.plan('ok', bad));
    const r = await say(LINKED, 'создай сделку для ООО Ромашка', false);
    expect(r.text).toMatch(/ничего не изменено|Ничего не изменено/);
    expect(r.buttons).toHaveLength(0);
    expect(r.text).toMatch(reason);
    expect(await dealCount()).toBe(before);
  });

  it('a destructive plan without the second confirmation writes nothing', async () => {
    const [row] = await deals('ООО Ромашка');
    ai.answer(
      FakeOpenAI.plan('Удалю сделку.', {
        name: 'del',
        steps: [{ id: 'd', method: 'crm.deal.delete', params: { id: Number(row?.ID) } }],
      }),
    );
    const plan = await say(LINKED, 'удали сделку ООО Ромашка');
    expect(plan.text).toMatch(/второе подтверждение|удаляет/i);
    const second = await press(LINKED, plan, 0);
    expect(second.buttons.map((b) => b.data)).toEqual([
      `d:${plan.buttons[0]!.data.slice(2)}`,
      `x:${plan.buttons[0]!.data.slice(2)}`,
    ]);
    expect(await deals('ООО Ромашка')).toHaveLength(1);
    const cancelled = await press(LINKED, second, 1);
    expect(cancelled.text).toMatch(/Отменено/);
    expect(await deals('ООО Ромашка')).toHaveLength(1);

    // With both confirmations the deletion happens.
    ai.answer(
      FakeOpenAI.plan('Удалю.', {
        name: 'del',
        steps: [{ id: 'd', method: 'crm.deal.delete', params: { id: Number(row?.ID) } }],
      }),
    );
    const again = await say(LINKED, 'удали сделку ООО Ромашка');
    const confirmOnce = await press(LINKED, again, 0);
    const deleted = await press(LINKED, confirmOnce, 0);
    expect(deleted.text).toMatch(/Готово/);
    expect(await deals('ООО Ромашка')).toHaveLength(0);
  });

  it('an expired plan is refused, nothing written', async () => {
    ai.answer(
      FakeOpenAI.plan('ok', {
        ...romashka,
        steps: [{ ...romashka.steps[0]!, params: { fields: { TITLE: 'Expired deal' } } }],
      }),
    );
    const plan = await say(LINKED, 'создай сделку Expired deal');
    clockShift = 31 * 60_000;
    const r = await press(LINKED, plan, 0);
    clockShift = 0;
    expect(r.text).toMatch(/истёк/);
    expect(await deals('Expired deal')).toHaveLength(0);
  });

  it('an unlinked user cannot confirm, nothing written', async () => {
    ai.answer(
      FakeOpenAI.plan('ok', {
        ...romashka,
        steps: [{ ...romashka.steps[0]!, params: { fields: { TITLE: 'Unlinked deal' } } }],
      }),
    );
    const plan = await say(UNLINKED, 'создай сделку Unlinked deal');
    const r = await press(UNLINKED, plan, 0);
    expect(r.text).toMatch(/\/link/);
    expect(await deals('Unlinked deal')).toHaveLength(0);
  });

  it('named pipelines run by /run and by phrase, through the same plan and confirmation', async () => {
    const plan = await say(LINKED, '/run demo-deal title=Из_команды');
    await press(LINKED, plan, 0);
    expect(await deals('Из_команды')).toHaveLength(1);
    const byPhrase = await say(LINKED, 'нужна демо сделка');
    expect(byPhrase.text).toMatch(/Demo deal/);
  });

  it('a plan whose data drifted is re-planned, not applied', async () => {
    const id = Number(
      (await conn.client.call<number>('crm.deal.add', { fields: { TITLE: 'Drift deal', OPPORTUNITY: 10 } })).result,
    );
    ai.answer(
      FakeOpenAI.plan('Обновлю сумму.', {
        name: 'upd',
        steps: [{ id: 'u', method: 'crm.deal.update', params: { id, fields: { OPPORTUNITY: 777 } } }],
      }),
    );
    const plan = await say(LINKED, 'поставь сумму 777 в сделке Drift deal');
    expect(plan.text).toMatch(/OPPORTUNITY/);
    await conn.client.call('crm.deal.update', { id, fields: { OPPORTUNITY: 20 } });
    const replanned = await press(LINKED, plan, 0);
    expect(replanned.text).toMatch(/Данные изменились/);
    expect(replanned.buttons).toHaveLength(2);
    expect(replanned.buttons[0]!.data).not.toBe(plan.buttons[0]!.data);
    expect(Number((await deals('Drift deal'))[0]?.OPPORTUNITY)).toBe(20);
    await press(LINKED, replanned, 0);
    expect(Number((await deals('Drift deal'))[0]?.OPPORTUNITY)).toBe(777);
  });

  it('HTTP API: a named pipeline is planned, applied once by plan id, and its run read back', async () => {
    const token = 'api-token-0123456789abcdef';
    const srv = await startHttpServer({ routes: apiRoutes({ agent, tokens: [token] }) });
    try {
      const call = (method: string, path: string, body?: unknown) =>
        fetch(`${srv.url}${path}`, {
          method,
          headers: { 'content-type': 'application/json', 'x-api-key': token },
          ...(body ? { body: JSON.stringify(body) } : {}),
        });
      const planned = await call('POST', '/runs', { pipeline: 'demo-deal', inputs: { title: 'Через API' } });
      expect(planned.status).toBe(202);
      const { plan } = (await planned.json()) as { plan: { id: string; writes: { text: string }[] } };
      expect(plan.writes[0]?.text).toMatch(/Через API/);
      expect(await deals('Через API')).toHaveLength(0);
      const applied = await call('POST', `/plans/${plan.id}/apply`, {});
      expect(applied.status).toBe(200);
      const { run } = (await applied.json()) as { run: { id: string; status: string } };
      expect(await deals('Через API')).toHaveLength(1);
      expect((await call('POST', `/plans/${plan.id}/apply`, {})).status).toBe(409);
      const read = await call('GET', `/runs/${run.id}`);
      expect(read.status).toBe(200);
      expect(((await read.json()) as { run: { status: string } }).run.status).toBe(run.status);
      expect((await call('POST', '/runs', { pipeline: 'demo-deal', inputs: { title: 5 } })).status).toBe(400);
    } finally {
      await srv.close();
    }
  });

  it('no secret reaches any file written during the run', async () => {
    await agent.log.flush();
    const code = /\/rest\/\d+\/([^/]+)\//.exec(sandbox.webhookUrl)?.[1] ?? '';
    registerSecrets([code]);
    expect(findSecrets([dataDir], [code, tg.token, FAKE_OPENAI_KEY, ...TEST_SECRETS])).toEqual([]);
  });
});
