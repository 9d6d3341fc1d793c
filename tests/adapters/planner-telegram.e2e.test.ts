/* biome-ignore-all lint/suspicious/noTemplateCurlyInString: pipeline expressions, not JS templates */
/**
 * Issue 16's whole path with real processes: `b24flow bot` (real grammY against the fake Bot API, the real openai SDK
 * against the scripted OpenAI-compatible server) and `b24flow serve` on one SQLite store, the sandbox over HTTP.
 *  - a weekly report request becomes a proposal; "save this as …" stores version 1 with its author; an edit in words
 *    ("every 2 seconds while I test") goes to the model with the current pipeline and is saved as version 2;
 *    `/diff` shows the change; serve picks version 2 up without a restart and runs it at its next slot;
 *  - a lead-linking request becomes an event pipeline, tried on the newest lead, saved; a lead from the site arrives
 *    as ONCRMLEADADD at serve, whose run asks the approver in Telegram; Approve links the lead to the contact;
 *  - an invalid proposal is repaired once and accepted; one still invalid after two repairs is refused, and nothing is
 *    saved or written.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/index.js';
import { SqlSavedPipelines } from '../../src/store/savedPipelines.js';
import { FakeOpenAI } from '../agent/support/fakeOpenAI.js';
import { FakeTelegram, type SentMessage } from '../agent/support/fakeTelegram.js';
import { leadLinkingProposal } from '../agent/support/leadLinking.js';
import { richProposal } from '../agent/support/richProposal.js';
import { FAKE_OPENAI_KEY } from '../agent/support/setup.js';
import { root, startPortal, type TestPortal } from '../pipeline/helpers.js';
import { type ServeProcess, startServe } from '../triggers/processes.js';

/** The report the model proposes for "every Monday at 9 send me the open deals by stage". */
const weekly = (cron: string) => ({
  name: 'open-deals-weekly',
  description: 'Open deals and their total, sent to user 1',
  triggers: [{ schedule: { cron, approve: ['write'] } }],
  steps: [
    {
      id: 'deals',
      method: 'crm.deal.list',
      all: true,
      params: { filter: { CLOSED: 'N' }, select: ['ID', 'STAGE_ID', 'OPPORTUNITY'] },
    },
    {
      id: 'tell',
      needs: ['deals'],
      method: 'im.notify.system.add',
      params: {
        USER_ID: 1,
        MESSAGE: {
          $template:
            'Open deals by stage: {{ groupSum(steps.deals.result, "STAGE_ID", "OPPORTUNITY") }}; total {{ sumBy(steps.deals.result, "OPPORTUNITY") }}',
        },
      },
    },
  ],
});

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe('from a Telegram message to a saved pipeline that serve runs (real processes)', () => {
  const tg = new FakeTelegram();
  const ai = new FakeOpenAI();
  const USER = 201;
  let p: TestPortal;
  let serve: ServeProcess | undefined;
  let bot: ChildProcess | undefined;
  let botErr = '';
  let store: Store;
  let saved: SqlSavedPipelines;

  /** Sends a message and waits for the bot's first answer after it matching `pred`. */
  const say = async (text: string, pred: (m: SentMessage) => boolean = () => true) => {
    const from = tg.sent.length;
    tg.sendText(USER, text);
    return tg.waitFor(USER, pred, from, 60_000);
  };
  const count = async (method: string) => (await p.client.call(method, { select: ['ID'] })).total ?? 0;

  beforeAll(async () => {
    p = await startPortal();
    await Promise.all([tg.start(), ai.start()]);
    // online events reach serve the way an outgoing webhook of the portal delivers them
    const port = await freePort();
    const hook = await p.sb.admin.outgoingWebhook({
      event: 'ONCRMLEADADD',
      handler: `http://127.0.0.1:${port}/bitrix/events`,
    });
    const env = {
      ...p.env,
      B24_APPLICATION_TOKEN: hook.applicationToken,
      B24_MEMBER_ID: p.sb.oauthApp.memberId,
      B24FLOW_SAVED_POLL_MS: '300',
      TELEGRAM_BOT_TOKEN: tg.token,
      TELEGRAM_API_ROOT: tg.apiRoot,
      TELEGRAM_ALLOWED_CHATS: String(USER),
      B24FLOW_BOT_POLL_MS: '200',
      OPENAI_API_KEY: FAKE_OPENAI_KEY,
      OPENAI_API_BASE: ai.baseURL,
      // user 1 may save a report that writes without asking (approve: [write])
      B24FLOW_OPERATORS: '1',
    };
    // serve starts with an empty folder: everything it runs here was saved from the chat while it ran
    const empty = join(p.dataDir, 'empty-pipelines');
    mkdirSync(empty, { recursive: true });
    serve = await startServe(['--pipelines', empty, '--port', String(port)], env);
    // the bot plans with the shipped pipelines as the planner's examples
    bot = spawn(process.execPath, ['bin/b24flow.js', 'bot', '--pipelines', 'pipelines'], { cwd: root, env });
    bot.stderr?.on('data', (d) => (botErr += d));
    // link Telegram user 201 to Bitrix24 user 1 with the code the portal delivered
    await say('/link 1', (m) => /code/i.test(m.text));
    const code = /\b(\d{8})\b/.exec((await p.sb.admin.notifications(1)).at(-1)?.MESSAGE ?? '')?.[1];
    expect(code).toBeTruthy();
    await say(`/link ${code}`, (m) => /Linked to Bitrix24 user 1\./.test(m.text));
    store = await openStore({ dataDir: p.dataDir });
    saved = new SqlSavedPipelines(store);
  }, 240_000);

  afterAll(async () => {
    serve?.child.kill('SIGKILL');
    bot?.kill('SIGKILL');
    await store?.close();
    await Promise.all([tg.close(), ai.close()]);
    await p?.close();
  });

  it('a weekly report request is saved, edited in words into version 2, diffed, and serve runs it at its next slot', async () => {
    ai.answer(FakeOpenAI.plan('Every Monday at 9 I will send you the open deals by stage.', weekly('0 9 * * 1')));
    const plan = await say(
      'every Monday at 9 send me a chat message with the open deals by stage and their total',
      (m) => /Plan:/.test(m.text),
    );
    // the pipeline in words, its plan (one notification) and how to switch the trigger on
    expect(plan.text).toMatch(/open-deals-weekly/);
    expect(plan.text).toMatch(/Monday/);
    expect(plan.text).toMatch(/Plan: 1 write/);
    expect(plan.text).toMatch(/save it \(\/save <name>\)/);
    expect(plan.buttons.map((b) => b.data)).toEqual([expect.stringMatching(/^c:/), expect.stringMatching(/^x:/)]);
    const v1 = await say('save this as open-deals-weekly', (m) => /Saved as/.test(m.text));
    expect(v1.text).toMatch(/Saved as open-deals-weekly \(version 1\)/);
    expect(await saved.get('open-deals-weekly')).toMatchObject({ version: 1, author: 'bitrix:1' });

    // an edit in words: the model gets the current pipeline with the message
    const before = ai.requests.length;
    ai.answer(FakeOpenAI.plan('Now every two seconds.', weekly('*/2 * * * * *')));
    const edited = await say('run it every 2 seconds while I test it', (m) => /Plan:/.test(m.text));
    expect(ai.requests.length - before).toBe(1);
    const context = (ai.requests.at(-1) as { messages: { content: string }[] }).messages[1]!.content;
    expect(context).toMatch(/Current pipeline .*"name":"open-deals-weekly".*"cron":"0 9 \* \* 1"/s);
    expect(edited.text).toMatch(/second/i);
    // a bare "save" saves the draft under its name as the next version, with the change
    const v2 = await say('save', (m) => /Saved as|same/.test(m.text));
    expect(v2.text).toMatch(/Saved as open-deals-weekly \(version 2\)/);
    expect(v2.text).toMatch(/^- +cron: 0 9 \* \* 1$/m);
    expect(v2.text).toMatch(/^\+ +cron: "\*\/2 \* \* \* \* \*"$/m);
    // only the schedule changed
    expect(v2.text.split('\n').filter((l) => /^[-+]/.test(l))).toHaveLength(2);
    const diff = await say('/diff open-deals-weekly', (m) => /→/.test(m.text));
    expect(diff.text).toMatch(/open-deals-weekly@v1 → open-deals-weekly@v2/);
    expect(diff.text).toMatch(/^\+.*\*\/2 \* \* \* \* \*/m);
    const versions = await say('/versions open-deals-weekly', (m) => /^v1/.test(m.text));
    expect(versions.text.split('\n')).toHaveLength(2);
    expect(versions.text).toMatch(/v2 .* bitrix:1$/m);

    // serve picks version 2 up without a restart and runs it at its next slot: the report reaches user 1
    let sent: string[] = [];
    for (let i = 0; i < 300 && !sent.length; i++) {
      await new Promise((r) => setTimeout(r, 100));
      sent = (await p.sb.admin.notifications(1)).map((n) => n.MESSAGE).filter((m) => m.startsWith('Open deals'));
    }
    expect(sent[0]).toMatch(/^Open deals by stage: .*; total \d+/);
    expect(serve!.stderr()).toMatch(/now running 1 pipelines \(open-deals-weekly\)/);
    // done with the schedule: its author disables it from the chat, serve lets it go
    const off = await say('/disable open-deals-weekly', (m) => /disabled/.test(m.text));
    expect(off.text).toMatch(/open-deals-weekly is disabled/);
    expect(await saved.get('open-deals-weekly')).toMatchObject({ disabled: true });
    for (let i = 0; i < 100 && !/now running 0 pipelines/.test(serve!.stderr()); i++)
      await new Promise((r) => setTimeout(r, 100));
    expect(serve!.stderr()).toMatch(/now running 0 pipelines/);
  }, 240_000);

  it('a lead-linking request becomes an event pipeline; a lead from the site is linked once its approver approves in Telegram', async () => {
    const phone = '+7 905 700 0001';
    const contact = Number(
      (
        await p.client.call('crm.contact.add', {
          fields: { NAME: 'Irina', PHONE: [{ VALUE: phone, VALUE_TYPE: 'WORK' }] },
        })
      ).result,
    );
    const sampleLead = Number(
      (
        await p.client.call('crm.lead.add', {
          fields: { TITLE: 'Sample', SOURCE_ID: 'WEB', PHONE: [{ VALUE: '8 (905) 700-00-01', VALUE_TYPE: 'WORK' }] },
        })
      ).result,
    );
    ai.answer(
      FakeOpenAI.plan('New leads from the site get linked to the contact with the same phone.', leadLinkingProposal()),
    );
    const plan = await say('when a lead comes in from the site, find a contact with the same phone and link it', (m) =>
      /Plan:|could not/.test(m.text),
    );
    expect(plan.text).toMatch(/ONCRMLEADADD/);
    // tried on the newest lead, as if the event had just arrived: nothing written
    expect(plan.text).toContain(`Tried on the newest lead #${sampleLead}`);
    expect(plan.text).toMatch(new RegExp(`update lead ${sampleLead}, CONTACT_ID: .*→ ${contact}`));
    const untouched = (await p.client.call<Record<string, unknown>>('crm.lead.get', { id: sampleLead })).result;
    expect(untouched.CONTACT_ID ?? null).toBeNull();
    const v1 = await say('save this as lead-contact-link', (m) => /Saved as/.test(m.text));
    expect(v1.text).toMatch(/Saved as lead-contact-link \(version 1\)/);
    for (let i = 0; i < 100 && !/lead-contact-link\)/.test(serve!.stderr()); i++)
      await new Promise((r) => setTimeout(r, 100));
    expect(serve!.stderr()).toMatch(/now running 1 pipelines \(lead-contact-link\)/);

    // a lead from the site arrives; serve's run asks user 1, whose chat gets the request with its buttons
    const from = tg.sent.length;
    const lead = Number(
      (
        await p.client.call('crm.lead.add', {
          fields: { TITLE: 'From the site', SOURCE_ID: 'WEB', PHONE: [{ VALUE: phone, VALUE_TYPE: 'MOBILE' }] },
        })
      ).result,
    );
    await p.sb.admin.drainEvents();
    const ask = await tg.waitFor(USER, (m) => m.buttons.some((b) => b.data.startsWith('ap:')), from, 60_000);
    expect(ask.text).toMatch(/A change waits for your approval/);
    expect(ask.text).toContain(`#${lead}`);
    expect(
      (await p.client.call<Record<string, unknown>>('crm.lead.get', { id: lead })).result.CONTACT_ID ?? null,
    ).toBeNull();
    const at = tg.sent.length;
    tg.press(USER, ask, ask.buttons.find((b) => b.data.startsWith('ap:'))!.data);
    await tg.waitFor(USER, (m) => /^Done: request/.test(m.text), at, 60_000);
    const linked = (await p.client.call<Record<string, unknown>>('crm.lead.get', { id: lead })).result;
    expect(Number(linked.CONTACT_ID)).toBe(contact);
    // only the new lead: the sample lead was never written
    expect(
      (await p.client.call<Record<string, unknown>>('crm.lead.get', { id: sampleLead })).result.CONTACT_ID ?? null,
    ).toBeNull();
  }, 240_000);

  it('an invalid proposal is repaired once and accepted; one still invalid after two repairs is refused, nothing saved or written', async () => {
    const bad = richProposal();
    (bad.steps as Record<string, unknown>[])[1]!.foreach = '${{ steps.nope.result }}';
    ai.answer(
      FakeOpenAI.plan('ok', bad),
      FakeOpenAI.plan('Every Monday I will comment on stale deals.', richProposal()),
    );
    const before = ai.requests.length;
    const repaired = await say('every Monday comment on deals without changes for two weeks', (m) =>
      /Plan:|Done|did not pass/.test(m.text),
    );
    expect(ai.requests.length - before).toBe(2);
    expect(repaired.text).not.toMatch(/did not pass/);

    const stillBad = {
      ...richProposal(),
      name: 'never-saved',
      triggers: [{ schedule: { timezone: 'Europe/Moscow' } }],
    };
    const deals = await count('crm.deal.list');
    const comments = await count('crm.timeline.comment.list').catch(() => 0);
    ai.answer(FakeOpenAI.plan('ok', stillBad), FakeOpenAI.plan('ok', stillBad), FakeOpenAI.plan('ok', stillBad));
    const refused = await say('each week add a comment to the old deals', (m) => /did not pass/.test(m.text));
    expect(refused.text).toMatch(/Nothing was changed\./);
    expect(refused.text).toMatch(/cron/);
    expect(refused.buttons).toHaveLength(0);
    // "save this" right after the refusal saves nothing (not the earlier proposal either)
    const nothing = await say('save this as never-saved', (m) => /Nothing to save|Saved/.test(m.text));
    expect(nothing.text).toMatch(/Nothing to save/);
    expect(await saved.get('never-saved')).toBeUndefined();
    expect(await count('crm.deal.list')).toBe(deals);
    expect(await count('crm.timeline.comment.list').catch(() => 0)).toBe(comments);
    expect(botErr).not.toMatch(/Error|failed/);
  }, 240_000);
});
