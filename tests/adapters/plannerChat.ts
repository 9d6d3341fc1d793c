/**
 * The chat of the planner end-to-end tests: a sandbox portal, a connection to it, the store of `dataDir`, the runtime
 * engine over the shipped pipelines folder (the planner's examples), a planner against the scripted model and an
 * agent whose user `u1` is linked to Bitrix24 user 1 through the code the portal delivered.
 */
import { expect } from 'vitest';
import { ChatAgent } from '../../src/agent/agent.js';
import { Planner } from '../../src/agent/planner.js';
import { createRuntimeEngine, type RuntimeOptions } from '../../src/agent/runtime.js';
import { MemoryStateStore } from '../../src/agent/state.js';
import { connect } from '../../src/cli/compose.js';
import { startSandbox } from '../../src/sandbox/index.js';
import { StoreLinks } from '../../src/store/links.js';
import type { FakeOpenAI } from '../agent/support/fakeOpenAI.js';
import { codeIn, FAKE_OPENAI_KEY } from '../agent/support/setup.js';
import { storesOf } from '../support/stores.js';

/** Starts the chat (see module doc); `engine` adds runtime options (e.g. `saved`) given the store. */
export async function startPlannerChat(
  ai: FakeOpenAI,
  dataDir: string,
  engineExtra: (stores: Awaited<ReturnType<typeof storesOf>>) => Partial<RuntimeOptions> = () => ({}),
) {
  const sandbox = await startSandbox({ plan: 'unlimited', quiet: true, size: 20 });
  const conn = await connect({
    env: { BITRIX_WEBHOOK_URL: sandbox.webhookUrl, B24FLOW_DATA_DIR: dataDir },
    dotenv: false,
    stderr: () => {},
  });
  const stores = await storesOf(dataDir);
  const engine = await createRuntimeEngine({
    client: conn.client,
    ...stores,
    pipelinesDir: 'pipelines',
    ...engineExtra(stores),
  });
  const planner = new Planner({ engine, apiKey: FAKE_OPENAI_KEY, baseURL: ai.baseURL, model: 'fake-model' });
  const agent = new ChatAgent({
    links: new StoreLinks(stores.store),
    engine,
    planner,
    dataDir,
    state: new MemoryStateStore(),
  });
  await agent.handleText('u1', '/link 1');
  const code = codeIn((await sandbox.admin.notifications(1)).at(-1)?.MESSAGE);
  expect((await agent.handleText('u1', `/link ${code}`)).text).toMatch(/Linked to Bitrix24 user 1\./);
  return {
    sandbox,
    conn,
    stores,
    engine,
    planner,
    agent,
    async close() {
      await conn.close();
      await sandbox.close();
    },
  };
}
