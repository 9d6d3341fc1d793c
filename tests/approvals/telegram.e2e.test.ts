/**
 * Approvals in Telegram end to end: real grammY against the fake Bot API, the sandbox portal over HTTP, a real store.
 * The courier delivers requests to the linked chats of each record owner; buttons decide as the linked Bitrix24 user.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApprovalLinks } from '../../src/adapters/telegram/approvals.js';
import { createTelegramBot, type TelegramBotHandle } from '../../src/adapters/telegram/bot.js';
import { type ApprovalService, loadPipelineText, runPipeline } from '../../src/pipeline/index.js';
import { StoreDeadLetters } from '../../src/store/dlq.js';
import { openStore, type Store } from '../../src/store/index.js';
import { SqlJournal } from '../../src/store/journal.js';
import { FakeTelegram, type SentMessage } from '../agent/support/fakeTelegram.js';
import { makeAgent } from '../agent/support/setup.js';
import { stubEngine } from '../agent/support/stubEngine.js';
import { startPortal, type TestPortal } from '../pipeline/helpers.js';
import { testDir } from '../support/testRoot.js';
import {
  addContact,
  comments,
  contact,
  deletingDuplicatesPipeline,
  duplicatesPipeline,
  plainUsers,
  schedule,
  serviceOf,
} from './helpers.js';

describe('approval requests in Telegram (real grammY, fake Bot API, sandbox)', () => {
  const tg = new FakeTelegram();
  const clock = { ms: 0 };
  let p: TestPortal;
  let store: Store;
  let svc: ApprovalService;
  let bot: TelegramBotHandle;
  let a: string;
  let b: string;
  /** Telegram user ids: 201 is linked to a, 202 to b, 203 to nobody. */
  const tgOf: Record<string, number> = {};
  let phone = 0;
  const pair = async (owner: string) => {
    const ph = `+7 901 300 ${String(++phone).padStart(4, '0')}`;
    return [
      await addContact(p.client, `Orig ${phone}`, ph, owner),
      await addContact(p.client, `Dup ${phone}`, ph, owner),
    ];
  };
  /** The next request message (with an Approve button) to a Telegram user after index `from`. */
  const request = (user: number, from: number) =>
    tg.waitFor(user, (m) => m.buttons.some((x) => x.data.startsWith('ap:')), from);
  const press = (user: number, m: SentMessage, prefix: 'ap' | 'ar' | 'ad') =>
    tg.press(user, m, m.buttons.find((x) => x.data.startsWith(`${prefix}:`))!.data);

  beforeAll(async () => {
    p = await startPortal();
    store = await openStore({ dataDir: testDir('approvals-tg-') });
    svc = serviceOf(store, p.client, clock);
    [a, b] = (await plainUsers(p.client, 2)) as [string, string];
    tgOf[a] = 201;
    tgOf[b] = 202;
    const links: ApprovalLinks = {
      bitrixUserOf: async (chatUser) => Object.keys(tgOf).find((u) => `tg:${tgOf[u]}` === chatUser),
      chatsOf: async (u) => (tgOf[u] ? [`tg:${tgOf[u]}`] : []),
    };
    await tg.start();
    bot = createTelegramBot({
      token: tg.token,
      agent: makeAgent(stubEngine()),
      apiRoot: tg.apiRoot,
      allowedChats: ['201', '202', '203', '-500'],
      errorChatId: '-500',
      log: () => {},
      approvals: { service: svc, links, portal: '', pollMs: 50 },
      alerts: {
        journal: new SqlJournal(store),
        deadLetters: new StoreDeadLetters(store),
        dlqThreshold: 1,
        links,
        pollMs: 50,
      },
    });
    await bot.start();
  });
  afterAll(async () => {
    await bot?.stop();
    await tg.close();
    await p?.close();
    await store?.close();
  });

  it('two owners: one approves, one rejects → only the approved contact changes, with a timeline comment', async () => {
    const [origA, dupA] = await pair(a);
    const [, dupB] = await pair(b);
    const from = tg.sent.length;
    const asked = await svc.ask(duplicatesPipeline(), { inputs: {}, trigger: schedule });
    const msgA = await request(201, from);
    const msgB = await request(202, from);
    // the plan in words, only the owner's own contact
    expect(msgA.text).toContain(`#${dupA}`);
    expect(msgA.text).not.toContain(`#${dupB}`);
    expect(msgA.buttons.map((x) => x.text)).toEqual(['Approve', 'Reject']);
    const at = tg.sent.length;
    press(201, msgA, 'ap');
    await tg.waitFor(201, (m) => /Applying request/.test(m.text), at);
    const done = await tg.waitFor(201, (m) => /^Done: request .* applied/.test(m.text), at);
    expect(done.text).toMatch(/run r\d/);
    press(202, msgB, 'ar');
    await tg.waitFor(202, (m) => /rejected; nothing was written/.test(m.text), at);
    expect((await contact(p.client, dupA!)).comments).toBe(`Duplicate of contact #${origA}`);
    expect((await contact(p.client, dupB!)).comments ?? '').toBe('');
    const trail = await comments(p.client, dupA!);
    expect(trail).toHaveLength(1);
    expect(trail[0]).toMatch(new RegExp(`approved by .* \\(#${a}\\)`));
    expect(await comments(p.client, dupB!)).toEqual([]);
    expect((await new SqlJournal(store).get(asked.runId!))?.status).toBe('partial');
  });

  it('an unlinked Telegram user cannot decide; nothing is written', async () => {
    const [, dup] = await pair(a);
    const from = tg.sent.length;
    await svc.ask(duplicatesPipeline(), { inputs: {}, trigger: schedule });
    const msg = await request(201, from);
    const at = tg.sent.length;
    // user 203 replays the button data of a's message
    press(203, { ...msg, chat_id: 203 }, 'ap');
    expect((await tg.waitFor(203, () => true, at)).text).toMatch(/Link your Bitrix24 user first/);
    expect((await contact(p.client, dup!)).comments ?? '').toBe('');
    press(201, msg, 'ar');
    await tg.waitFor(201, (m) => /rejected/.test(m.text), at);
  });

  it('an expired request is announced and changes nothing', async () => {
    const [, dup] = await pair(a);
    const from = tg.sent.length;
    await svc.ask(duplicatesPipeline(), { inputs: {}, trigger: schedule });
    const msg = await request(201, from);
    clock.ms = 2 * 3600_000;
    try {
      await tg.waitFor(201, (m) => /expired; nothing was changed/.test(m.text), from);
      const at = tg.sent.length;
      press(201, msg, 'ap');
      await tg.waitFor(201, (m) => /already decided|expired/.test(m.text), at);
    } finally {
      clock.ms = 0;
    }
    expect((await contact(p.client, dup!)).comments ?? '').toBe('');
  });

  it('a drifted request is asked again, and the new one applies', async () => {
    const [, dup] = await pair(a);
    const from = tg.sent.length;
    await svc.ask(duplicatesPipeline(), { inputs: {}, trigger: schedule });
    const msg = await request(201, from);
    await p.client.call('crm.item.update', { entityTypeId: 3, id: dup, fields: { comments: 'a person edited it' } });
    const at = tg.sent.length;
    press(201, msg, 'ap');
    await tg.waitFor(201, (m) => /The data changed since request .* asked again/.test(m.text), at);
    expect((await contact(p.client, dup!)).comments).toBe('a person edited it');
    const again = await request(201, at);
    expect(again.text).toContain('"a person edited it"');
    const at2 = tg.sent.length;
    press(201, again, 'ap');
    await tg.waitFor(201, (m) => /^Done: request/.test(m.text), at2);
    expect((await contact(p.client, dup!)).comments).toMatch(/^Duplicate of contact #/);
  });

  it('a deletion needs the second button: one press writes nothing', async () => {
    const [, dup] = await pair(a);
    const del = deletingDuplicatesPipeline();
    const from = tg.sent.length;
    await svc.ask(del, { inputs: {}, trigger: schedule });
    const msg = await request(201, from);
    expect(msg.buttons[0]!.text).toBe('Approve (deletes data)');
    // a forged second-step button without the first press only arms it
    const at = tg.sent.length;
    tg.press(201, msg, msg.buttons[0]!.data.replace(/^ap:/, 'ad:'));
    const confirm = await tg.waitFor(201, (m) => m.buttons.some((x) => x.text === 'Confirm deletion'), at);
    expect((await contact(p.client, dup!)).comments ?? '').toBe('');
    const at2 = tg.sent.length;
    press(201, confirm, 'ad');
    await tg.waitFor(201, (m) => /^Done: request/.test(m.text), at2);
    await expect(contact(p.client, dup!)).rejects.toThrow();
  });

  it('a failed scheduled run and a growing dead-letter queue alert the error chat and the approvers', async () => {
    const from = tg.sent.length;
    const failing = loadPipelineText(
      `name: nightly-check
packs: [core]
approvers: { users: [${a}] }
triggers:
  - schedule: { cron: "0 3 * * *" }
steps:
  - id: gone
    method: crm.item.get
    params: { entityTypeId: 3, id: 987654321 }
`,
      'nightly-check.yaml',
    );
    const r = await runPipeline(failing, {
      client: p.client,
      journal: new SqlJournal(store),
      mode: 'full',
      trigger: schedule,
    });
    expect(r.status).toBe('failed');
    const alert = await tg.waitFor(-500, (m) => m.text.includes(r.runId), from);
    expect(alert.text).toMatch(/pipeline nightly-check \(schedule 0 9 \* \* 1\) failed/);
    expect((await tg.waitFor(201, (m) => m.text.includes(r.runId), from)).text).toMatch(/failed/);
    const dlq = new StoreDeadLetters(store);
    for (const k of ['x1', 'x2'])
      await dlq.add(
        { name: 'ONCRMDEALUPDATE', data: { FIELDS: { ID: k } }, ts: Date.now(), key: k, source: 'offline' },
        { error: 'boom', attempts: 5, pipelines: ['p'] },
      );
    expect((await tg.waitFor(-500, (m) => /dead-letter queue holds 2 events/.test(m.text), from)).text).toMatch(
      /threshold 1/,
    );
  });
});
