/* biome-ignore-all lint/suspicious/noTemplateCurlyInString: pipeline expressions, not JS templates */
/**
 * From a chat message to a saved, scheduled pipeline that `serve` runs (real openai SDK against the scripted model,
 * the sandbox over HTTP, one SQLite store, a real `serve` process): the planner proposes a weekly report with a
 * schedule, "save this as …" keeps it as version 1 with its author, `/pipelines` lists it, `serve` runs it at its next
 * slot and the report reaches the user's Bitrix24 notifications.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatAgent } from '../../src/agent/agent.js';
import type { connect } from '../../src/cli/compose.js';
import type { startSandbox } from '../../src/sandbox/index.js';
import { SqlSavedPipelines } from '../../src/store/savedPipelines.js';
import { FakeOpenAI } from '../agent/support/fakeOpenAI.js';
import { leadLinkingProposal } from '../agent/support/leadLinking.js';
import { codeIn, tempDataDir } from '../agent/support/setup.js';
import { plainUsers } from '../approvals/helpers.js';
import type { storesOf } from '../support/stores.js';
import { startServe } from '../triggers/processes.js';
import { startPlannerChat } from './plannerChat.js';

const report = {
  name: 'open-deals-report',
  triggers: [{ schedule: { cron: '*/2 * * * * *', approve: ['write'] } }],
  steps: [
    {
      id: 'deals',
      method: 'crm.item.list',
      all: true,
      params: { entityTypeId: 2, filter: { closed: 'N' }, select: ['id', 'opportunity'] },
    },
    {
      id: 'tell',
      method: 'im.notify.system.add',
      needs: ['deals'],
      params: {
        USER_ID: 1,
        MESSAGE: { $template: 'Open deals report: {{ size(steps.deals.result) }} open deals' },
      },
    },
  ],
};

describe('a chat request becomes a saved pipeline that serve runs', () => {
  const ai = new FakeOpenAI();
  const dataDir = tempDataDir();
  let sandbox: Awaited<ReturnType<typeof startSandbox>>;
  let conn: Awaited<ReturnType<typeof connect>>;
  let agent: ChatAgent;
  let stores: Awaited<ReturnType<typeof storesOf>>;

  beforeAll(async () => {
    await ai.start();
    // user 1 is an operator (B24FLOW_OPERATORS): only operators save triggers that write without asking
    ({ sandbox, conn, stores, agent } = await startPlannerChat(ai, dataDir, (st) => ({
      saved: new SqlSavedPipelines(st.store),
      operators: ['1'],
    })));
  });
  afterAll(async () => {
    await conn?.close();
    await sandbox?.close();
    await ai.close();
  });

  it('a user who is not an operator cannot save a trigger that writes without asking; nothing saved', async () => {
    const [plain] = (await plainUsers(conn.client, 1)) as [string];
    await agent.handleText('u2', `/link ${plain}`);
    const code = codeIn((await sandbox.admin.notifications(Number(plain))).at(-1)?.MESSAGE);
    expect((await agent.handleText('u2', `/link ${code}`)).text).toMatch(/Linked to Bitrix24 user/);
    ai.answer(FakeOpenAI.plan('Every two seconds I will send you the open deals count.', report));
    expect((await agent.handleText('u2', 'send me a notification with the number of open deals')).kind).toBe('plan');
    const r = await agent.handleText('u2', 'save this as open-deals-unattended');
    expect(r.kind).toBe('refused');
    expect(r.text).toMatch(/writes without asking anyone \(approve: write\), which only operators may set/);
    expect(await new SqlSavedPipelines(stores.store).get('open-deals-unattended')).toBeUndefined();
  });

  it('an event pipeline tried on a lead with no matching contact runs its reads at once (nothing to write) and is saved', async () => {
    const lead = Number(
      (
        await conn.client.call('crm.lead.add', {
          fields: { TITLE: 'No twin', SOURCE_ID: 'WEB', PHONE: [{ VALUE: '+7 906 111 2233', VALUE_TYPE: 'WORK' }] },
        })
      ).result,
    );
    ai.answer(FakeOpenAI.plan('Leads from the site get linked to their contact.', leadLinkingProposal()));
    const r = await agent.handleText('u1', 'when a lead comes in from the site, link it to the contact with its phone');
    // the write step's condition is false for this lead: the plan has no writes and its reads run at once
    expect(r.kind, r.text).toBe('done');
    expect(r.text).toContain(`Tried on the newest lead #${lead}`);
    expect(r.text).toMatch(/When ONCRMLEADADD arrives; writes are asked of approvers/);
    const after = (await conn.client.call<Record<string, unknown>>('crm.lead.get', { id: lead })).result;
    expect(after.CONTACT_ID ?? null).toBeNull();
    const saved = await agent.handleText('u1', '/save lead-contact-link');
    expect(saved.text).toMatch(/Saved as lead-contact-link \(version 1\)/);
  });

  it('plans, saves with its author, lists, and a running serve picks it up and runs it at its next slot', async () => {
    // serve runs first, with an empty folder: the saved pipeline reaches it without a restart
    const empty = join(dataDir, 'empty-pipelines');
    mkdirSync(empty, { recursive: true });
    const serve = await startServe(['--pipelines', empty], {
      BITRIX_WEBHOOK_URL: sandbox.webhookUrl,
      B24_CLIENT_ID: '',
      B24_CLIENT_SECRET: '',
      B24FLOW_DATA_DIR: dataDir,
      B24FLOW_SAVED_POLL_MS: '300',
    });
    try {
      ai.answer(FakeOpenAI.plan('Every two seconds I will send you the open deals count.', report));
      const plan = await agent.handleText(
        'u1',
        'send me a notification with the number of open deals every two seconds',
      );
      expect(plan.kind, plan.text).toBe('plan');
      // a name is checked; nothing is saved before it is asked for
      expect((await agent.handleText('u1', '/save Bad Name')).kind).toBe('refused');
      const saved = await agent.handleText('u1', 'save this as open-deals-report');
      expect(saved.text).toMatch(/Saved as open-deals-report \(version 1\)/);
      const again = await agent.handleText('u1', '/save open-deals-report');
      expect(again.text).toMatch(/version 1 is the same/);
      const store = new SqlSavedPipelines(stores.store);
      expect(await store.get('open-deals-report')).toMatchObject({ version: 1, author: 'bitrix:1', disabled: false });
      expect((await agent.handleText('u1', '/pipelines')).text).toContain('open-deals-report');
      // planning and saving wrote nothing; serve picks the pipeline up and runs it at its next slot
      let sent: { MESSAGE: string }[] = [];
      for (let i = 0; i < 150 && !sent.length; i++) {
        await new Promise((r) => setTimeout(r, 100));
        sent = (await sandbox.admin.notifications(1)).filter((n) => n.MESSAGE.startsWith('Open deals report'));
      }
      expect(sent[0]?.MESSAGE).toMatch(/^Open deals report: \d+ open deals$/);
      expect(serve.stderr()).toMatch(/now running \d+ pipelines \([^)]*open-deals-report/);
    } finally {
      serve.child.kill('SIGTERM');
      await serve.exited;
    }
  });
});
