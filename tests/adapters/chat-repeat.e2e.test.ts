/**
 * Chat edges with the real engine against the sandbox: the same request twice (even within one millisecond) gets
 * two plans, each applicable once; a read-only request shows the rows it read.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { apiRoutes } from '../../src/adapters/http/api.js';
import type { ChatAgent } from '../../src/agent/agent.js';
import { PlanRefusal } from '../../src/agent/engine.js';
import { createRuntimeEngine } from '../../src/agent/runtime.js';
import { connect } from '../../src/cli/compose.js';
import { type HttpServerHandle, startHttpServer } from '../../src/lib/http.js';
import { startSandbox } from '../../src/sandbox/index.js';
import { makeAgent, tempDataDir } from '../agent/support/setup.js';
import { storesOf } from '../support/stores.js';

const KEY = 'api-token-repeat-0123456789abcdef';

describe('chat: the same request twice, read-only results', () => {
  const dataDir = tempDataDir();
  let sandbox: Awaited<ReturnType<typeof startSandbox>>;
  let conn: Awaited<ReturnType<typeof connect>>;
  let srv: HttpServerHandle;
  let agent: ChatAgent;

  const deals = async (title: string) =>
    (await conn.client.call<unknown[]>('crm.deal.list', { filter: { TITLE: title }, select: ['ID'] })).result;
  const call = (path: string, body: unknown) =>
    fetch(`${srv.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': KEY },
      body: JSON.stringify(body),
    });

  beforeAll(async () => {
    sandbox = await startSandbox({ plan: 'unlimited', quiet: true, size: 15 });
    conn = await connect({
      env: { BITRIX_WEBHOOK_URL: sandbox.webhookUrl, B24FLOW_DATA_DIR: dataDir },
      dotenv: false,
      stderr: () => {},
    });
    const dir = join(dataDir, 'pipelines');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'list-deals.yaml'),
      [
        'name: list-deals',
        'packs: [core]',
        'triggers:',
        '  - chat: { command: deals, phrases: ["list deals"] }',
        'steps:',
        '  - id: deals',
        '    method: crm.deal.list',
        '    params: { select: [ID, TITLE, ASSIGNED_BY_ID] }',
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(dir, 'make-deal.yaml'),
      [
        'name: make-deal',
        'packs: [core]',
        'triggers:',
        '  - chat: { command: mk }',
        'steps:',
        '  - id: deal',
        '    method: crm.deal.add',
        '    params: { fields: { TITLE: Repeat deal } }',
        '',
      ].join('\n'),
    );
    const engine = await createRuntimeEngine({
      client: conn.client,
      ...(await storesOf(dataDir)),
      pipelinesDir: dir,
    });
    agent = makeAgent(engine, { dataDir, requireLink: false });
    srv = await startHttpServer({ routes: apiRoutes({ agent, tokens: [KEY] }) });
  });
  afterAll(async () => {
    vi.restoreAllMocks();
    await srv?.close();
    await conn?.close();
    await sandbox?.close();
  });

  it('the same write request twice within one millisecond: two plans, each applied once', async () => {
    const frozen = Date.now();
    const spy = vi.spyOn(Date, 'now').mockReturnValue(frozen);
    const a = await agent.handleText('u1', '/mk');
    const b = await agent.handleText('u1', '/mk');
    spy.mockRestore();
    expect(a.kind).toBe('plan');
    expect(b.kind).toBe('plan');
    expect(b.planId).not.toBe(a.planId);
    // both stored plans are applicable by their principal, each once
    for (const id of [a.planId!, b.planId!]) {
      const run = await agent.engine.apply(id, { confirmWrite: true, confirmDestructive: false, principal: 'chat:u1' });
      expect(run.status).toBe('completed');
      const again = await agent.engine
        .apply(id, { confirmWrite: true, confirmDestructive: false, principal: 'chat:u1' })
        .catch((e: unknown) => e);
      expect(again).toBeInstanceOf(PlanRefusal);
      expect((again as PlanRefusal).reason).toBe('used');
    }
    expect(await deals('Repeat deal')).toHaveLength(2);
  });

  it('the same read-only request twice over HTTP /chat within one millisecond: both answered, rows shown', async () => {
    const frozen = Date.now();
    const spy = vi.spyOn(Date, 'now').mockReturnValue(frozen);
    const one = await call('/chat', { user_id: 'carol', message: 'list deals' });
    const two = await call('/chat', { user_id: 'carol', message: 'list deals' });
    spy.mockRestore();
    expect(one.status).toBe(200);
    expect(two.status).toBe(200);
    for (const r of [one, two]) {
      const body = (await r.json()) as { kind: string; reply: string };
      expect(body.kind).toBe('done');
      expect(body.reply).toMatch(/ID \| TITLE \| ASSIGNED_BY_ID/);
      expect(body.reply).toMatch(/\n1 \| /);
      expect(body.reply).toMatch(/… and \d+ more/);
    }
  });

  it('POST /runs of the same write pipeline twice: two plans, each applied once', async () => {
    const frozen = Date.now();
    const spy = vi.spyOn(Date, 'now').mockReturnValue(frozen);
    const p1 = (await (await call('/runs', { pipeline: 'make-deal' })).json()) as { plan: { id: string } };
    const p2 = (await (await call('/runs', { pipeline: 'make-deal' })).json()) as { plan: { id: string } };
    spy.mockRestore();
    expect(p2.plan.id).not.toBe(p1.plan.id);
    for (const id of [p1.plan.id, p2.plan.id]) {
      expect((await call(`/plans/${id}/apply`, {})).status).toBe(200);
      expect((await call(`/plans/${id}/apply`, {})).status).toBe(409);
    }
    expect(await deals('Repeat deal')).toHaveLength(4);
  });
});
