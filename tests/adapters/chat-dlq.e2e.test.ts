/**
 * `/dlq replay|drop <id>` from chat over the real parts: the runtime engine on the sandbox portal, the store's links
 * and dead-letter queue, the chat side's dead-letter source of src/cli (drop as `b24flow dlq drop`, replay through
 * `replayLetters`, the path of `b24flow dlq replay`), and who may operate: pipelines' `approvers.users` and
 * `B24FLOW_OPERATORS`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatAgent } from '../../src/agent/agent.js';
import { createRuntimeEngine } from '../../src/agent/runtime.js';
import { MemoryStateStore } from '../../src/agent/state.js';
import { chatDeadLetters } from '../../src/cli/chatDeadLetters.js';
import { operatorsOf } from '../../src/cli/chatRuntime.js';
import { connect } from '../../src/cli/compose.js';
import { closeDataStore } from '../../src/cli/dataStore.js';
import { startSandbox } from '../../src/sandbox/index.js';
import type { Store } from '../../src/store/index.js';
import { StoreLinks } from '../../src/store/links.js';
import { triggerStores } from '../../src/store/triggers.js';
import type { TriggerStores } from '../../src/triggers/service.js';
import { codeIn, tempDataDir } from '../agent/support/setup.js';
import { storesOf } from '../support/stores.js';

describe('/dlq replay and drop from chat (sandbox portal, store)', () => {
  const dataDir = tempDataDir();
  const pipelinesDir = join(dataDir, 'pipelines');
  const approversDir = join(dataDir, 'approvers');
  let sandbox: Awaited<ReturnType<typeof startSandbox>>;
  let conn: Awaited<ReturnType<typeof connect>>;
  let store: Store;
  let trig: TriggerStores;
  let agent: ChatAgent;
  const saved = { url: process.env.BITRIX_WEBHOOK_URL, dir: process.env.B24FLOW_DATA_DIR };

  const letter = (key: string, pipeline: string) =>
    trig.deadLetters.add(
      { name: 'ONCRMDEALADD', data: { FIELDS: { ID: 1 } }, ts: Date.now(), key, objectId: '1', source: 'online' },
      { error: 'boom', attempts: 3, pipelines: [pipeline] },
    );
  const linkAs = async (chat: string, user: number) => {
    await agent.handleText(chat, `/link ${user}`);
    const code = codeIn((await sandbox.admin.notifications(user)).at(-1)?.MESSAGE);
    expect((await agent.handleText(chat, `/link ${code}`)).text).toMatch(/Linked/);
  };

  beforeAll(async () => {
    sandbox = await startSandbox({ plan: 'unlimited', quiet: true, size: 20 });
    // a replay connects as `b24flow dlq replay` does: from the process's settings
    process.env.BITRIX_WEBHOOK_URL = sandbox.webhookUrl;
    process.env.B24FLOW_DATA_DIR = dataDir;
    conn = await connect({ env: { ...process.env }, dotenv: false, stderr: () => {} });
    mkdirSync(pipelinesDir, { recursive: true });
    mkdirSync(approversDir, { recursive: true });
    writeFileSync(
      join(pipelinesDir, 'note.yaml'),
      'name: note\ntriggers:\n  - chat: { command: note }\nsteps:\n  - id: me\n    method: user.current\n',
    );
    writeFileSync(
      join(pipelinesDir, 'on-deal.yaml'),
      [
        'name: on-deal',
        'packs: [core]',
        'inputs:',
        '  event: { type: map }',
        'triggers:',
        '  - event: { events: [ONCRMDEALADD] }',
        'steps:',
        '  - id: deal',
        '    method: crm.deal.get',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a pipeline expression inside YAML text
        '    params: { id: "${{ inputs.event.objectId }}" }',
        '',
      ].join('\n'),
    );
    // `approvers` is read as optional data: a pipeline file naming approvers (schema support comes separately)
    writeFileSync(
      join(approversDir, 'approved.yaml'),
      'name: approved\napprovers:\n  users: [5, "6"]\nsteps:\n  - id: me\n    method: user.current\n',
    );
    const stores = await storesOf(dataDir);
    store = stores.store;
    trig = triggerStores(store);
    const engine = await createRuntimeEngine({
      client: conn.client,
      ...stores,
      pipelinesDir,
      deadLetters: chatDeadLetters(async () => trig, pipelinesDir),
      operators: operatorsOf({ B24FLOW_OPERATORS: ' 7, x,8 ' }),
    });
    agent = new ChatAgent({ engine, dataDir, state: new MemoryStateStore(), links: new StoreLinks(store) });
  });

  afterAll(async () => {
    await conn?.close();
    await sandbox?.close();
    await closeDataStore();
    for (const [k, v] of [
      ['BITRIX_WEBHOOK_URL', saved.url],
      ['B24FLOW_DATA_DIR', saved.dir],
    ] as const)
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
  });

  it('who may operate: B24FLOW_OPERATORS, and approvers.users of a pipeline file', async () => {
    expect(await agent.engine.mayOperate('7')).toBe(true);
    expect(await agent.engine.mayOperate('8')).toBe(true);
    expect(await agent.engine.mayOperate('5')).toBe(false);
    const withApprovers = await createRuntimeEngine({
      client: conn.client,
      ...(await storesOf(dataDir)),
      pipelinesDir: approversDir,
    });
    expect(await withApprovers.mayOperate('5')).toBe(true);
    expect(await withApprovers.mayOperate('6')).toBe(true);
    expect(await withApprovers.mayOperate('7')).toBe(false);
  });

  it('a non-operator is refused and the letter stays; an operator replays (failing again), drops it, and replays one that runs', async () => {
    const d = await letter(`k-${Date.now()}`, 'gone');
    expect((await agent.handleText('tg:1', `/dlq drop ${d.id}`)).text).toMatch(/Only linked operators/);
    await linkAs('tg:1', 4);
    const refused = await agent.handleText('tg:1', `/dlq drop ${d.id}`);
    expect(refused.kind).toBe('refused');
    expect(refused.text).toMatch(/Bitrix24 user 4 may not drop/);
    expect((await trig.deadLetters.list()).map((x) => x.id)).toContain(d.id);

    await linkAs('tg:2', 7);
    expect((await agent.handleText('tg:2', '/dlq')).text).toContain(d.id);
    const replay = await agent.handleText('tg:2', `/dlq replay ${d.id}`);
    expect(replay.text).toMatch(/failed again and stays in the queue: pipeline gone not found/);
    // as with `b24flow dlq replay`: a letter whose pipeline is gone is not attempted, and stays as it was
    expect((await trig.deadLetters.get(d.id))?.attempts).toBe(3);
    const dropped = await agent.handleText('tg:2', `/dlq drop ${d.id.slice(0, 12)}`);
    expect(dropped.text).toBe(`Dead letter ${d.id} was dropped.`);
    expect(await trig.deadLetters.get(d.id)).toBeUndefined();
    expect((await agent.handleText('tg:2', `/dlq replay ${d.id}`)).text).toMatch(/No dead letter with id/);

    // a letter whose pipeline runs now: processed on the portal and removed from the queue
    const ok = await letter(`k-ok-${Date.now()}`, 'on-deal');
    const done = await agent.handleText('tg:2', `/dlq replay ${ok.id}`);
    expect(done.text).toBe(`Dead letter ${ok.id} (ONCRMDEALADD) was processed and removed from the queue.`);
    expect(await trig.deadLetters.get(ok.id)).toBeUndefined();
  });
});
