/**
 * The chat side's composition (`bot`, `chat`, the chat HTTP API of `serve`): the real engine over a connected
 * client, the dead-letter queue of the trigger runtime, and the planner configured by `OPENAI_*`. The agent,
 * pipeline and trigger modules are imported lazily (literal specifiers) so that other commands start fast.
 */
import { resolve } from 'node:path';
import type { ChatAgent } from '../agent/agent.js';
import type { ChatLinks } from '../agent/links.js';
import type { PlannerConfig } from '../agent/planner.js';
import type { RuntimeOptions } from '../agent/runtime.js';
import type { StateStore } from '../agent/state.js';
import type { ApprovalService } from '../pipeline/index.js';
import { chatDeadLetters } from './chatDeadLetters.js';
import { connect, readSettings } from './compose.js';
import { closeDataStore, openDataStore } from './dataStore.js';
import type { StoreRunSettings } from './runSettings.js';
import { openTriggerStores } from './triggerStores.js';

/**
 * The planner's model endpoint from `OPENAI_API_KEY`, `OPENAI_API_BASE`, `OPENAI_MODEL`, `OPENAI_TIMEOUT_MS` (ms).
 */
export function plannerConfig(env: NodeJS.ProcessEnv): PlannerConfig {
  return {
    ...(env.OPENAI_API_KEY ? { apiKey: env.OPENAI_API_KEY } : {}),
    ...(env.OPENAI_API_BASE ? { baseURL: env.OPENAI_API_BASE } : {}),
    ...(env.OPENAI_MODEL ? { model: env.OPENAI_MODEL } : {}),
    ...(env.OPENAI_TIMEOUT_MS ? { timeoutMs: Number(env.OPENAI_TIMEOUT_MS) } : {}),
  };
}

/** `B24FLOW_OPERATORS`: Bitrix24 user ids (comma-separated) that may `/dlq replay|drop` from chat. */
export function operatorsOf(env: NodeJS.ProcessEnv): string[] {
  return (env.B24FLOW_OPERATORS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => /^\d+$/.test(s));
}

/**
 * Builds the chat agent over a connected client: engine (catalog, pipelines, plans, journal), the dead-letter
 * queue given (the store's), the links and users' states of the store, the operators of `B24FLOW_OPERATORS`, and
 * the planner of `env`.
 */
export async function buildChatAgent(o: {
  client: RuntimeOptions['client'];
  dataDir: string;
  /** The dead-letter queue of `/dlq` (src/store's, through ./chatDeadLetters.ts). */
  deadLetters: NonNullable<RuntimeOptions['deadLetters']>;
  env: NodeJS.ProcessEnv;
  pipelinesDir?: string;
  /** The run options with the store's plans, journal and keys ({@link storeRunSettings}). */
  runOptions: StoreRunSettings;
  onError?: (userId: string, details: string) => void;
  /** Users' states (default: the process's store, `B24FLOW_DATABASE_URL` or SQLite in `dataDir`). */
  state?: StateStore;
  /** Chat user ↔ Bitrix24 user links (default: the process's store). */
  links?: ChatLinks;
}): Promise<ChatAgent> {
  const { createRuntimeEngine } = await import('../agent/runtime.js');
  const { ChatAgent } = await import('../agent/agent.js');
  const { Planner } = await import('../agent/planner.js');
  const { approvalService } = await import('./runSettings.js');
  const { publicUrlOf } = await import('./publicUrl.js');
  const consoleUrl = publicUrlOf(o.env.B24FLOW_PUBLIC_URL);
  const engine = await createRuntimeEngine({
    client: o.client,
    plans: o.runOptions.store,
    journal: o.runOptions.journal,
    deadLetters: o.deadLetters,
    operators: operatorsOf(o.env),
    runOptions: o.runOptions,
    approvals: approvalService(o.runOptions, o.client),
    saved: new (await import('../store/savedPipelines.js')).SqlSavedPipelines(
      await openDataStore({ env: o.env, dataDir: o.dataDir }),
    ),
    // the bot's /console: a one-time sign-in link to serve's console at B24FLOW_PUBLIC_URL
    ...(consoleUrl
      ? {
          consoleLink: async (user: string) => {
            const { SqlConsoleSessions } = await import('../adapters/console/sessions.js');
            const sessions = new SqlConsoleSessions(await openDataStore({ env: o.env, dataDir: o.dataDir }));
            return `${consoleUrl}/console/link/${await sessions.issueLink(user)}`;
          },
        }
      : {}),
    ...(o.pipelinesDir ? { pipelinesDir: o.pipelinesDir } : {}),
  });
  let { state, links } = o;
  if (!state) {
    const { StoreStateStore } = await import('../store/agentState.js');
    state = new StoreStateStore(await openDataStore({ env: o.env, dataDir: o.dataDir }));
  }
  if (!links) {
    const { StoreLinks } = await import('../store/links.js');
    links = new StoreLinks(await openDataStore({ env: o.env, dataDir: o.dataDir }));
  }
  return new ChatAgent({
    engine,
    planner: Planner.fromConfig(engine, plannerConfig(o.env)),
    dataDir: o.dataDir,
    state,
    links,
    ...(o.onError ? { onError: o.onError } : {}),
  });
}

/** A connected chat agent for the CLI commands (`bot`, `chat`). */
export interface ChatRuntime {
  agent: ChatAgent;
  env: NodeJS.ProcessEnv;
  dataDir: string;
  /** The approval requests of the store, on this portal (the bot delivers and decides them). */
  approvals: ApprovalService;
  /** The portal the links belong to (`member_id` or the webhook's host). */
  portal: string;
  /** The store's journal (alerts read failed runs from it). */
  journal: StoreRunSettings['journal'];
  /** The size of the dead-letter queue (alerts). */
  deadLetterSize(): Promise<number>;
  /** Tells a Bitrix24 user through the portal (`im.notify.system.add`). */
  notifyUser(bitrixUserId: string, text: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * Connects to the portal (webhook, OAuth, or the embedded sandbox — `connect()` says which on stderr), loads
 * the catalog and pipelines, and builds the chat agent with the planner from `OPENAI_*`.
 *
 * @param opts.onError receives unexpected errors' redacted details (the bot forwards them to its error chat)
 * @throws RuntimeFailure-like errors from `connect()` (bad webhook URL, unreachable portal)
 */
export async function openChatRuntime(opts: {
  pipelinesDir?: string;
  stderr?: (line: string) => void;
  onError?: (userId: string, details: string) => void;
}): Promise<ChatRuntime> {
  const { registerEnvSecrets } = await import('../lib/redact.js');
  const { storeRunSettings } = await import('./runSettings.js');
  const settings = readSettings();
  const { env } = settings;
  registerEnvSecrets(env);
  const dataDir = resolve(settings.dataDir);
  const runOptions = await storeRunSettings({ ...settings, dataDir });
  const conn = await connect({ env, dotenv: false, ...(opts.stderr ? { stderr: opts.stderr } : {}) });
  try {
    // the trigger stores are opened on the first `/dlq`
    const deadLetters = chatDeadLetters(() => openTriggerStores(settings), opts.pipelinesDir ?? './pipelines');
    const agent = await buildChatAgent({
      client: conn.client,
      dataDir,
      deadLetters,
      env,
      runOptions,
      ...(opts.pipelinesDir ? { pipelinesDir: opts.pipelinesDir } : {}),
      ...(opts.onError ? { onError: opts.onError } : {}),
    });
    const { approvalService } = await import('./runSettings.js');
    return {
      agent,
      env,
      dataDir,
      approvals: approvalService(runOptions, conn.client),
      portal: agent.engine.portal,
      journal: runOptions.journal,
      deadLetterSize: async () => (await openTriggerStores(settings)).deadLetters.size(),
      notifyUser: (u, text) => agent.engine.notifyUser(u, text),
      close: async () => {
        await agent.log.flush();
        await conn.close();
        await closeDataStore();
      },
    };
  } catch (err) {
    await conn.close();
    throw err;
  }
}
