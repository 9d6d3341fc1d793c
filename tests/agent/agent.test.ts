import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeOpenAI } from './support/fakeOpenAI.js';
import { findSecrets } from './support/secrets.js';
import { codeIn, createdDataDirs, linkAs, makeAgent, TEST_SECRETS } from './support/setup.js';
import { stubEngine } from './support/stubEngine.js';

const dealPipeline = (title = 'ООО Ромашка') => ({
  name: 'chat-deal',
  steps: [{ id: 'deal', method: 'crm.deal.add', params: { fields: { TITLE: title, OPPORTUNITY: 50000 } } }],
});

describe('chat agent with the planner (real openai SDK, fake endpoint)', () => {
  const ai = new FakeOpenAI();
  beforeAll(() => ai.start());
  afterAll(() => ai.close());

  async function linked(engine = stubEngine(), extra = {}) {
    const agent = makeAgent(engine, { baseURL: ai.baseURL, ...extra });
    expect((await linkAs(agent, engine, 'u1', '1')).kind).toBe('info');
    return { agent, engine };
  }

  it('plans, refuses an unlinked confirmation, then applies once after /link', async () => {
    const engine = stubEngine();
    const agent = makeAgent(engine, { baseURL: ai.baseURL });
    ai.answer(FakeOpenAI.plan('Создам сделку.', dealPipeline()));
    const r = await agent.handleText('u1', 'создай сделку для ООО Ромашка на 50 000 рублей');
    expect(r.kind).toBe('plan');
    expect(r.text).toContain('Ромашка');
    expect(r.buttons?.map((b) => b.data)).toEqual([`c:${r.planId}`, `x:${r.planId}`]);
    const refused = await agent.handleButton('u1', `c:${r.planId}`);
    expect(refused.kind).toBe('refused');
    expect(refused.text).toMatch(/\/link/);
    expect(engine.writes).toBe(0);

    expect((await linkAs(agent, engine, 'u1', '7')).text).toMatch(/Связано с пользователем Битрикс24 7\./);
    const done = await agent.handleButton('u1', `c:${r.planId}`);
    expect(done.kind).toBe('done');
    expect([...engine.deals.values()]).toEqual([{ TITLE: 'ООО Ромашка', OPPORTUNITY: 50000 }]);
    const again = await agent.handleButton('u1', `c:${r.planId}`);
    expect(again.kind).toBe('refused');
    expect(engine.writes).toBe(1);
    const state = await agent.store.load('u1');
    expect(state.done[0]?.objectIds).toEqual(['deal:1']);
    expect(state.objects.current_deal_id).toBe('1');
    expect(state.bitrixUserId).toBe('7');
  });

  it('repairs a malformed answer in one round', async () => {
    const { agent } = await linked();
    ai.answer('{"reply": "oops", "pipeline": ', FakeOpenAI.plan('ok', dealPipeline()));
    const before = ai.requests.length;
    const r = await agent.handleText('u1', 'create a deal Acme');
    expect(r.kind).toBe('plan');
    expect(ai.requests.length - before).toBe(2);
    const repair = ai.requests.at(-1) as { messages: { role: string; content: string }[] };
    expect(repair.messages.at(-1)?.content).toMatch(/not valid JSON/);
  });

  it('repairs a checker finding with the checker message', async () => {
    const { agent } = await linked();
    const noTitle = { name: 'x', steps: [{ id: 'a', method: 'crm.deal.add', params: { fields: { OPPORTUNITY: 5 } } }] };
    ai.answer(FakeOpenAI.plan('ok', noTitle), FakeOpenAI.plan('ok', dealPipeline('Acme')));
    const r = await agent.handleText('u1', 'create a deal');
    expect(r.kind).toBe('plan');
    const repair = ai.requests.at(-1) as { messages: { content: string }[] };
    expect(repair.messages.at(-1)?.content).toContain('crm.deal.add requires fields.TITLE');
    expect((await agent.store.load('u1')).metrics.missingFields).toEqual({ 'crm.deal.add.fields.TITLE': 1 });
  });

  it.each([
    ['a method outside the routed packs', 'im.message.add', /outside the packs/],
    ['a method not in the catalog', 'crm.deal.purge', /not in the catalog/],
    ['a method denied to chat', 'batch', /not in the catalog|not allowed/],
  ])('refuses %s after both repair rounds, nothing written', async (_n, method, reason) => {
    const { agent, engine } = await linked();
    const bad = { name: 'bad', steps: [{ id: 'a', method, params: {} }] };
    // the first answer and two repairs, all with the same mistake
    ai.answer(FakeOpenAI.plan('ok', bad), FakeOpenAI.plan('ok', bad), FakeOpenAI.plan('ok', bad));
    const r = await agent.handleText('u1', 'create a deal and tell everyone');
    expect(r.kind).toBe('refused');
    expect(r.text).toMatch(/Nothing was changed/);
    expect(r.text).toMatch(reason);
    expect(engine.writes).toBe(0);
  });

  it('destructive plans need a second confirmation', async () => {
    const { agent, engine } = await linked();
    engine.deals.set(99, { TITLE: 'old' });
    ai.answer(
      FakeOpenAI.plan('Delete it.', {
        name: 'del',
        steps: [{ id: 'd', method: 'crm.deal.delete', params: { id: 99 } }],
      }),
    );
    const plan = await agent.handleText('u1', 'delete deal 99');
    expect(plan.kind).toBe('plan');
    expect(plan.text).toMatch(/second confirmation/);
    const first = await agent.handleButton('u1', `c:${plan.planId}`);
    expect(first.kind).toBe('plan');
    expect(first.buttons?.[0]?.data).toBe(`d:${plan.planId}`);
    expect(engine.deals.has(99)).toBe(true);
    const second = await agent.handleButton('u1', `d:${plan.planId}`);
    expect(second.kind).toBe('done');
    expect(engine.deals.has(99)).toBe(false);
  });

  it('a second-confirmation button without the first is refused', async () => {
    const { agent, engine } = await linked();
    engine.deals.set(5, { TITLE: 'keep' });
    ai.answer(
      FakeOpenAI.plan('Delete.', { name: 'del', steps: [{ id: 'd', method: 'crm.deal.delete', params: { id: 5 } }] }),
    );
    const plan = await agent.handleText('u1', 'delete deal 5');
    expect((await agent.handleButton('u1', `d:${plan.planId}`)).kind).toBe('refused');
    expect(engine.deals.has(5)).toBe(true);
  });

  it('expired plans are refused', async () => {
    const { agent, engine } = await linked(stubEngine(), { planTtlMs: 50 });
    ai.answer(FakeOpenAI.plan('ok', dealPipeline()));
    const plan = await agent.handleText('u1', 'create a deal');
    await new Promise((r) => setTimeout(r, 80));
    const r = await agent.handleButton('u1', `c:${plan.planId}`);
    expect(r.kind).toBe('refused');
    expect(r.text).toMatch(/expired/);
    expect(engine.writes).toBe(0);
  });

  it('drifted plans are re-planned, not applied', async () => {
    const { agent, engine } = await linked();
    ai.answer(FakeOpenAI.plan('ok', dealPipeline()));
    const plan = await agent.handleText('u1', 'create a deal');
    engine.driftNext = true;
    const r = await agent.handleButton('u1', `c:${plan.planId}`);
    expect(r.kind).toBe('plan');
    expect(r.planId).not.toBe(plan.planId);
    expect(r.text).toMatch(/data changed/);
    expect(engine.writes).toBe(0);
    expect((await agent.handleButton('u1', `c:${r.planId}`)).kind).toBe('done');
    expect(engine.writes).toBe(1);
  });

  it('only the user who got the plan can confirm it', async () => {
    const { agent, engine } = await linked();
    ai.answer(FakeOpenAI.plan('ok', dealPipeline()));
    const plan = await agent.handleText('u1', 'create a deal');
    await linkAs(agent, engine, 'u2', '2');
    expect((await agent.handleButton('u2', `c:${plan.planId}`)).kind).toBe('refused');
    expect(engine.writes).toBe(0);
  });

  it('sends only the routed packs and the state summary, with a self-check', async () => {
    const { agent } = await linked();
    ai.answer(JSON.stringify({ reply: 'Which company?', pipeline: null }));
    const r = await agent.handleText('u1', 'create a deal');
    expect(r.kind).toBe('answer');
    const req = ai.requests.at(-1) as { messages: { content: string }[]; response_format: { type: string } };
    const context = req.messages[1]?.content ?? '';
    expect(context).toContain('crm.deal.add');
    expect(context).not.toContain('im.message.add');
    expect(context).toContain('Packs: core');
    expect(req.response_format.type).toBe('json_schema');
  });

  it('degrades plainly with no key and with an unreachable model; commands still work', async () => {
    const engine = stubEngine();
    engine.named = [{ name: 'stale-deals', file: 'x', chat: { command: 'stale', phrases: ['зависшие сделки'] } }];
    const noKey = makeAgent(engine);
    expect((await noKey.handleText('u', 'create a deal')).text).toMatch(/Free-text planning is off/);
    expect((await noKey.handleText('u', 'покажи зависшие сделки')).kind).toBe('plan');
    expect((await noKey.handleText('u', '/stale')).kind).toBe('plan');
    expect((await noKey.handleText('u', '/start')).text).toMatch(/Планирование по свободному тексту: выключено/);
    expect((await noKey.handleText('v', '/start')).text).toMatch(/Free-text planning: off/);

    const down = makeAgent(engine, { baseURL: 'http://127.0.0.1:9/v1' });
    const r = await down.handleText('u', 'create a deal please');
    expect(r.kind).toBe('degraded');
    expect(r.text).toMatch(/unreachable/);
    expect((await down.handleText('u', '/run stale-deals')).kind).toBe('plan');
  });

  it('a model error status degrades too', async () => {
    const { agent } = await linked();
    ai.answer({ status: 500 }, { status: 500 });
    expect((await agent.handleText('u1', 'create a deal')).kind).toBe('degraded');
  });
});

afterAll(() => {
  expect(findSecrets(createdDataDirs, TEST_SECRETS)).toEqual([]);
});

describe('interaction log of a conversation', () => {
  it('never records a link code', async () => {
    const { readFileSync } = await import('node:fs');
    const engine = stubEngine();
    const agent = makeAgent(engine);
    await linkAs(agent, engine, 'u9', '3');
    const code = codeIn(engine.notifications.at(-1)?.text)!;
    await agent.log.flush();
    const log = readFileSync(agent.log.file('u9'), 'utf8');
    expect(log).toContain('/link ***');
    expect(log).not.toContain(code);
  });
});
