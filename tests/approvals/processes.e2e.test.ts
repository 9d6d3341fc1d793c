/**
 * The whole path with real processes: `b24flow serve` runs the shipped weekly-duplicates pipeline (schedule sped up to
 * every 2 s) and asks each record owner; `b24flow bot` (real grammY against the fake Bot API) links two Telegram
 * users to their Bitrix24 users through codes sent to their portal notifications, delivers each owner's request to
 * their chat, and applies what one approves while the other rejects — one SQLite store, the sandbox over HTTP.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeTelegram, type SentMessage } from '../agent/support/fakeTelegram.js';
import { root, startPortal, type TestPortal } from '../pipeline/helpers.js';
import { type ServeProcess, startServe } from '../triggers/processes.js';
import { addContact, comments, contact, fastWeeklyDuplicates, plainUsers } from './helpers.js';

describe('approvals across serve and the bot (real processes)', () => {
  const tg = new FakeTelegram();
  let p: TestPortal;
  let serve: ServeProcess | undefined;
  let bot: ChildProcess | undefined;
  let botErr = '';

  beforeAll(async () => {
    p = await startPortal();
    await tg.start();
  });
  afterAll(async () => {
    serve?.child.kill('SIGKILL');
    bot?.kill('SIGKILL');
    await tg.close();
    await p?.close();
  });

  /** Links Telegram user `tgUser` to Bitrix24 user `user` with the code the portal delivered. */
  const link = async (tgUser: number, user: string) => {
    let from = tg.sent.length;
    tg.sendText(tgUser, `/link ${user}`);
    await tg.waitFor(tgUser, (m) => /code/i.test(m.text), from, 30_000);
    const note = (await p.sb.admin.notifications(Number(user))).at(-1)?.MESSAGE ?? '';
    const code = /\b(\d{8})\b/.exec(note)?.[1];
    expect(code, note).toBeTruthy();
    from = tg.sent.length;
    tg.sendText(tgUser, `/link ${code}`);
    await tg.waitFor(tgUser, (m) => /Linked/.test(m.text), from, 30_000);
  };
  const press = (user: number, m: SentMessage, prefix: string) =>
    tg.press(user, m, m.buttons.find((x) => x.data.startsWith(`${prefix}:`))!.data);

  it('two owners in Telegram: one approves, one rejects; only the approved contact changes, with its trail', async () => {
    const [a, b] = (await plainUsers(p.client, 2)) as [string, string];
    const origA = await addContact(p.client, 'Alla Orig', '+7 904 600 0001', a);
    const dupA = await addContact(p.client, 'Alla Dup', '+7 904 600 0001', a);
    await addContact(p.client, 'Boris Orig', '+7 904 600 0002', b);
    const dupB = await addContact(p.client, 'Boris Dup', '+7 904 600 0002', b);
    const dir = fastWeeklyDuplicates(p.dataDir);
    const env = {
      ...p.env,
      TELEGRAM_BOT_TOKEN: tg.token,
      TELEGRAM_API_ROOT: tg.apiRoot,
      TELEGRAM_ALLOWED_CHATS: '201,202',
      B24FLOW_BOT_POLL_MS: '200',
    };
    bot = spawn(process.execPath, ['bin/b24flow.js', 'bot', '--pipelines', dir], { cwd: root, env });
    bot.stderr?.on('data', (d) => (botErr += d));
    await link(201, a);
    await link(202, b);
    const from = tg.sent.length;
    serve = await startServe(['--pipelines', dir], env);
    const ask = (u: number) => tg.waitFor(u, (m) => m.buttons.some((x) => x.data.startsWith('ap:')), from, 30_000);
    const [msgA, msgB] = await Promise.all([ask(201), ask(202)]);
    expect(msgA.text).toMatch(/A change waits for your approval/);
    expect(msgA.text).toContain(`#${dupA}`);
    expect(msgB.text).toContain(`#${dupB}`);
    const at = tg.sent.length;
    press(201, msgA, 'ap');
    press(202, msgB, 'ar');
    await tg.waitFor(201, (m) => /^Done: request/.test(m.text), at, 30_000);
    await tg.waitFor(202, (m) => /rejected; nothing was written/.test(m.text), at, 30_000);
    expect((await contact(p.client, dupA)).comments).toMatch(new RegExp(`^Duplicate of contact #${origA} `));
    expect((await contact(p.client, dupB)).comments ?? '').toBe('');
    expect((await comments(p.client, dupA)).join('\n')).toMatch(/approved by .*pipeline weekly-duplicates/s);
    expect(await comments(p.client, dupB)).toEqual([]);
    expect(botErr).not.toMatch(/Error|failed/);
  }, 120_000);
});
