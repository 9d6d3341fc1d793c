/**
 * Plans are bound to their principal over the HTTP API, with the real engine against the sandbox: a plan made with
 * one API key is refused to another key, and a chat user's plan (`POST /chat`) is refused to `POST /plans/:id/apply`.
 * Nothing is written by a refused apply.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiRoutes } from '../../src/adapters/http/api.js';
import { createRuntimeEngine } from '../../src/agent/runtime.js';
import { connect } from '../../src/cli/compose.js';
import { type HttpServerHandle, startHttpServer } from '../../src/lib/http.js';
import { startSandbox } from '../../src/sandbox/index.js';
import { makeAgent, tempDataDir } from '../agent/support/setup.js';
import { storesOf } from '../support/stores.js';

const ALICE = 'api-token-alice-0123456789abcdef';
const BOB = 'api-token-bob-0123456789abcdef';

describe('HTTP API: a plan is applied by the principal that made it', () => {
  const dataDir = tempDataDir();
  let sandbox: Awaited<ReturnType<typeof startSandbox>>;
  let conn: Awaited<ReturnType<typeof connect>>;
  let srv: HttpServerHandle;

  const deals = async (title: string) =>
    (await conn.client.call<unknown[]>('crm.deal.list', { filter: { TITLE: title }, select: ['ID'] })).result;
  const call = (key: string, path: string, body: unknown) =>
    fetch(`${srv.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': key },
      body: JSON.stringify(body),
    });

  beforeAll(async () => {
    sandbox = await startSandbox({ plan: 'unlimited', quiet: true, size: 5 });
    conn = await connect({
      env: { BITRIX_WEBHOOK_URL: sandbox.webhookUrl, B24FLOW_DATA_DIR: dataDir },
      dotenv: false,
      stderr: () => {},
    });
    const pipelinesDir = join(dataDir, 'pipelines');
    mkdirSync(pipelinesDir, { recursive: true });
    writeFileSync(
      join(pipelinesDir, 'make-deal.yaml'),
      [
        'name: make-deal',
        'packs: [core]',
        'inputs:',
        '  title: { type: string, default: Principal deal }',
        'steps:',
        '  - id: deal',
        '    method: crm.deal.add',
        '    params:',
        '      fields:',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a pipeline expression inside YAML text
        '        TITLE: ${{ inputs.title }}',
        '',
      ].join('\n'),
    );
    const engine = await createRuntimeEngine({
      client: conn.client,
      ...(await storesOf(dataDir)),
      pipelinesDir,
    });
    const agent = makeAgent(engine, { dataDir, requireLink: false });
    srv = await startHttpServer({ routes: apiRoutes({ agent, tokens: [ALICE, BOB] }) });
  });
  afterAll(async () => {
    await srv?.close();
    await conn?.close();
    await sandbox?.close();
  });

  it('refuses a plan made with another API key, applies it with the same key', async () => {
    const planned = await call(ALICE, '/runs', { pipeline: 'make-deal', inputs: { title: 'Alice deal' } });
    expect(planned.status).toBe(202);
    const { plan } = (await planned.json()) as { plan: { id: string } };

    const bob = await call(BOB, `/plans/${plan.id}/apply`, {});
    expect(bob.status).toBe(409);
    const body = (await bob.json()) as { error: string; message: string };
    expect(body.error).toBe('PLAN_PRINCIPAL');
    expect(body.message).toContain(`plan ${plan.id} was made by api:`);
    expect(body.message).not.toContain(ALICE);
    expect(await deals('Alice deal')).toHaveLength(0);

    const alice = await call(ALICE, `/plans/${plan.id}/apply`, {});
    expect(alice.status).toBe(200);
    expect(await deals('Alice deal')).toHaveLength(1);
  });

  it("refuses a chat user's plan to the apply route", async () => {
    const chat = await call(ALICE, '/chat', { user_id: 'carol', message: '/run make-deal title=Carol' });
    expect(chat.status).toBe(200);
    const reply = (await chat.json()) as { kind: string; plan_id?: string };
    expect(reply.kind).toBe('plan');
    const applied = await call(ALICE, `/plans/${reply.plan_id}/apply`, {});
    expect(applied.status).toBe(409);
    const body = (await applied.json()) as { error: string; message: string };
    expect(body.error).toBe('PLAN_PRINCIPAL');
    expect(body.message).toContain('was made by chat:api:carol');
    expect(await deals('Carol')).toHaveLength(0);
  });
});
