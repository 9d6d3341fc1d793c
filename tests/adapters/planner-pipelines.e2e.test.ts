/* biome-ignore-all lint/suspicious/noTemplateCurlyInString: pipeline expressions, not JS templates */
/**
 * The planner writes whole pipelines (issue 16, first part): the real openai SDK against a scripted
 * OpenAI-compatible server, the real catalog, checker, planner, plan store and runner, the sandbox portal over HTTP.
 *  - the request carries the schema generated from schemas/pipeline.schema.json (strict: false);
 *  - a proposal with foreach/if/expressions, a schedule trigger and approvers is accepted as is;
 *  - invalid proposals are repaired once, or twice, with the checker's findings (field paths, no file positions);
 *  - one still invalid after two repairs is refused in plain words, nothing planned or written;
 *  - in chat, a richer pipeline (a list read, a foreach of writes with expressions) is planned, shown and confirmed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatAgent } from '../../src/agent/agent.js';
import { type Planner, REPAIR_ROUNDS } from '../../src/agent/planner.js';
import { emptyState } from '../../src/agent/state.js';
import type { connect } from '../../src/cli/compose.js';
import { PLANNER_RESPONSE_SCHEMA } from '../../src/generated/planner-response.schema.js';
import type { startSandbox } from '../../src/sandbox/index.js';
import { FakeOpenAI } from '../agent/support/fakeOpenAI.js';
import { richProposal } from '../agent/support/richProposal.js';
import { tempDataDir } from '../agent/support/setup.js';
import { startPlannerChat } from './plannerChat.js';

type Body = { messages: { role: string; content: string }[]; response_format: Record<string, unknown> };

describe('planner pipelines end to end (scripted model, real checker, sandbox)', () => {
  const ai = new FakeOpenAI();
  const dataDir = tempDataDir();
  let sandbox: Awaited<ReturnType<typeof startSandbox>>;
  let conn: Awaited<ReturnType<typeof connect>>;
  let planner: Planner;
  let agent: ChatAgent;
  const state = () => ({ ...emptyState('tg:1'), lang: 'en' as const });
  const dealCount = async () => (await conn.client.call('crm.deal.list', { select: ['ID'] })).total ?? 0;

  beforeAll(async () => {
    process.env.B24FLOW_DATA_DIR = dataDir;
    await ai.start();
    // the shipped pipelines folder: the planner draws its examples from it
    ({ sandbox, conn, planner, agent } = await startPlannerChat(ai, dataDir));
  });

  afterAll(async () => {
    await conn?.close();
    await sandbox?.close();
    await ai.close();
    delete process.env.B24FLOW_DATA_DIR;
  });

  it('accepts a proposal with foreach, if, expressions, a schedule trigger and approvers as is', async () => {
    const before = ai.requests.length;
    ai.answer(FakeOpenAI.plan('Every Monday I will comment on stale deals.', richProposal()));
    const r = await planner.plan('every Monday comment on deals without changes for two weeks', state());
    expect(r.kind, JSON.stringify(r)).toBe('pipeline');
    if (r.kind !== 'pipeline') return;
    expect(r.attempts).toBe(1);
    expect(r.json).toMatchObject({ packs: ['core'], triggers: [{ schedule: { cron: '0 9 * * 1' } }] });
    expect(ai.requests.length - before).toBe(1);
    const body = ai.requests.at(-1) as unknown as Body;
    expect(body.response_format).toEqual({
      type: 'json_schema',
      json_schema: { name: 'b24flow_plan', strict: false, schema: PLANNER_RESPONSE_SCHEMA },
    });
    const context = body.messages[1]!.content;
    expect(context).toContain('Recipes (use:):');
    expect(context).toMatch(/Examples:\n\{"name":"[a-z-]+"/);
  });

  it('accepts a `use:` recipe step of the routed packs (the checker expands the recipe)', async () => {
    const deal = await conn.client.call<number>('crm.deal.add', { fields: { TITLE: 'Recipe deal' } });
    ai.answer(
      FakeOpenAI.plan('A follow-up task.', {
        name: 'follow-up',
        steps: [{ id: 'follow', use: 'deal-stage-task', with: { deal_id: Number(deal.result) } }],
      }),
    );
    const r = await planner.plan('make a follow-up task for the deal', state());
    expect(r.kind, JSON.stringify(r)).toBe('pipeline');
    if (r.kind === 'pipeline') expect(r.attempts).toBe(1);
  });

  it('repairs an invalid proposal once with the checker findings, then accepts it', async () => {
    const bad = richProposal();
    (bad.steps as Record<string, unknown>[])[1]!.foreach = '${{ steps.nope.result }}';
    const before = ai.requests.length;
    ai.answer(FakeOpenAI.plan('ok', bad), FakeOpenAI.plan('ok', richProposal()));
    const r = await planner.plan('comment on stale deals every Monday', state());
    expect(r.kind).toBe('pipeline');
    if (r.kind !== 'pipeline') return;
    expect(r.attempts).toBe(2);
    expect(r.repaired?.length).toBeGreaterThan(0);
    expect(ai.requests.length - before).toBe(2);
    const repair = (ai.requests.at(-1) as unknown as Body).messages.at(-1)!.content;
    expect(repair).toMatch(/rejected by the checker/);
    expect(repair).toMatch(/\/steps\/1/);
    expect(repair).toContain('nope');
    // findings in words and field paths, never a file position
    expect(repair).not.toMatch(/chat:\d+|:\d+:\d+/);
  });

  it('repairs twice (an unknown method, then a trigger without its cron), then accepts', async () => {
    const unknown = richProposal();
    (unknown.steps as Record<string, unknown>[])[1]!.method = 'crm.timeline.comment.purge';
    const noCron = { ...richProposal(), triggers: [{ schedule: { timezone: 'Europe/Moscow' } }] };
    const before = ai.requests.length;
    ai.answer(FakeOpenAI.plan('ok', unknown), FakeOpenAI.plan('ok', noCron), FakeOpenAI.plan('ok', richProposal()));
    const r = await planner.plan('comment on stale deals every Monday', state());
    expect(r.kind).toBe('pipeline');
    if (r.kind !== 'pipeline') return;
    expect(r.attempts).toBe(1 + REPAIR_ROUNDS);
    expect(ai.requests.length - before).toBe(3);
    const last = (ai.requests.at(-1) as unknown as Body).messages;
    // the conversation carries both rejected answers and both rounds of findings
    expect(last.filter((m) => m.role === 'assistant')).toHaveLength(2);
    const repairs = last.filter((m) => m.role === 'user').map((m) => m.content);
    expect(repairs[1]).toMatch(/not in the catalog/);
    expect(repairs[2]).toMatch(/cron/);
  });

  it('refuses a proposal still invalid after two repairs in plain words; nothing planned or written', async () => {
    const bad = { ...richProposal(), triggers: [{ schedule: { timezone: 'Europe/Moscow' } }] };
    const deals = await dealCount();
    const before = ai.requests.length;
    ai.answer(FakeOpenAI.plan('ok', bad), FakeOpenAI.plan('ok', bad), FakeOpenAI.plan('ok', bad));
    const r = await agent.handleText('u1', 'each week add a comment to the old deals');
    expect(ai.requests.length - before).toBe(3);
    expect(r.kind).toBe('refused');
    expect(r.text).toMatch(/did not pass the checks\. Nothing was changed\./);
    expect(r.text).toMatch(/cron/);
    expect(r.buttons ?? []).toHaveLength(0);
    expect((await agent.store.load('u1')).lastPlan).toBeUndefined();
    expect(await dealCount()).toBe(deals);
  });

  it('plans a richer pipeline in chat (a list read, a foreach of writes with expressions), confirmed → sandbox', async () => {
    const title = 'Planner fan-out';
    const ids: number[] = [];
    for (const amount of [100, 200]) {
      const r = await conn.client.call<number>('crm.deal.add', { fields: { TITLE: title, OPPORTUNITY: amount } });
      ids.push(Number(r.result));
    }
    const proposal = {
      name: 'fan-out-comments',
      inputs: { bonus: { type: 'int', default: 5 } },
      triggers: [{ schedule: { cron: '0 9 * * 1', approve: 'ask' } }],
      approvers: { users: [1] },
      steps: [
        {
          id: 'deals',
          method: 'crm.deal.list',
          all: true,
          params: { filter: { TITLE: title }, select: ['ID', 'TITLE', 'OPPORTUNITY'] },
        },
        {
          id: 'raise',
          needs: ['deals'],
          foreach: '${{ steps.deals.result }}',
          if: '${{ size(steps.deals.result) > 0 }}',
          method: 'crm.deal.update',
          idempotency_key: '${{ "raise-" + string(item.ID) }}',
          params: {
            id: '${{ int(item.ID) }}',
            fields: {
              OPPORTUNITY: '${{ double(item.OPPORTUNITY) + double(inputs.bonus) }}',
              COMMENTS: { $template: 'Raised by {{ inputs.bonus }} from {{ item.OPPORTUNITY }}' },
            },
          },
        },
      ],
    };
    ai.answer(FakeOpenAI.plan('I will raise both deals by 5.', proposal));
    const sent = ai.requests.length;
    const plan = await agent.handleText('u1', 'raise every "Planner fan-out" deal by 5 each Monday');
    expect(ai.requests.length - sent, JSON.stringify((ai.requests.at(-1) as unknown as Body).messages.at(-1))).toBe(1);
    expect(plan.kind, plan.text).toBe('plan');
    expect(plan.text).toMatch(/Confirming runs it once now; its schedule\/event trigger is not switched on/);
    expect(plan.text).toMatch(/raise both deals/);
    // one write per listed deal, with the values the expressions give
    expect(plan.text).toMatch(/Plan: 2 writes/);
    for (const [i, id] of ids.entries()) {
      expect(plan.text).toMatch(
        new RegExp(`update deal ${id}, OPPORTUNITY: ${[100, 200][i]}(\\.00)? → ${[105, 205][i]}`),
      );
    }
    expect(plan.buttons?.map((b) => b.data)).toEqual([`c:${plan.planId}`, `x:${plan.planId}`]);
    const untouched = await conn.client.call<Record<string, unknown>>('crm.deal.get', { id: ids[0] });
    expect(Number(untouched.result.OPPORTUNITY)).toBe(100);

    const done = await agent.handleButton('u1', `c:${plan.planId}`);
    expect(done.kind, done.text).toBe('done');
    for (const [i, id] of ids.entries()) {
      const d = (await conn.client.call<Record<string, unknown>>('crm.deal.get', { id })).result;
      expect(Number(d.OPPORTUNITY)).toBe([105, 205][i]);
      // the portal's money text ("100.00") goes into the template as read
      expect(d.COMMENTS).toMatch(new RegExp(`^Raised by 5 from ${[100, 200][i]}(\\.00)?$`));
    }
  });
});
