import { mkdirSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { type AgentReply, ChatAgent, type ChatAgentOptions } from '../../../src/agent/agent.js';
import type { ChatEngine } from '../../../src/agent/engine.js';
import { Planner } from '../../../src/agent/planner.js';
import { MemoryStateStore } from '../../../src/agent/state.js';
import { FIXED_TEST_SECRETS } from '../../support/fakeSecrets.js';
import { testRoot } from '../../support/testRoot.js';
import type { StubEngine } from './stubEngine.js';

/** Root of every data dir the chat tests create, so the secret scan can read every log they wrote. */
export const LOG_ROOT = join(testRoot(), 'chat');

/** Data dirs created by this test file (each vitest file runs in its own process). */
export const createdDataDirs: string[] = [];

/** A fresh data dir under {@link LOG_ROOT}. */
export function tempDataDir(): string {
  mkdirSync(LOG_ROOT, { recursive: true });
  const dir = mkdtempSync(join(LOG_ROOT, 'data-'));
  createdDataDirs.push(dir);
  return dir;
}

/** Secret values the chat tests use; none may appear in any file the tests write. */
export const TEST_SECRETS: string[] = [...FIXED_TEST_SECRETS];

/** The fake OpenAI key the tests use; the secret scan looks for it. */
export const FAKE_OPENAI_KEY = 'sk-test-fakekey-0123456789abcdef';

/** A chat agent on a temp data dir with a real planner pointed at `baseURL` (or none: degraded mode). */
export function makeAgent(
  engine: ChatEngine,
  opts: { baseURL?: string; dataDir?: string } & Partial<ChatAgentOptions> = {},
): ChatAgent {
  const planner = new Planner({
    engine,
    ...(opts.baseURL ? { apiKey: FAKE_OPENAI_KEY, baseURL: opts.baseURL } : {}),
    model: 'fake-model',
    timeoutMs: 5000,
  });
  return new ChatAgent({
    engine,
    planner,
    dataDir: opts.dataDir ?? tempDataDir(),
    state: opts.state ?? new MemoryStateStore(),
    ...opts,
  } as ChatAgentOptions);
}

/** The link code in a notification text (`/link 12345678`), or undefined. */
export function codeIn(text: string | undefined): string | undefined {
  return /\/link (\d{8})\b/.exec(text ?? '')?.[1];
}

/**
 * Links a chat user as a person does: `/link <bitrix user id>` in chat (the code must not be in the reply), the code
 * from that Bitrix24 user's notifications (the stub engine's), then `/link <code>`.
 * @returns the reply to `/link <code>`
 */
export async function linkAs(
  agent: ChatAgent,
  engine: StubEngine,
  userId: string,
  bitrixUserId: string,
): Promise<AgentReply> {
  const asked = await agent.handleText(userId, `/link ${bitrixUserId}`);
  const note = engine.notifications.filter((n) => n.userId === bitrixUserId).at(-1);
  const code = codeIn(note?.text);
  if (asked.kind !== 'info' || !code)
    throw new Error(`no link code reached Bitrix24 user ${bitrixUserId}: ${asked.text}`);
  if (asked.text.includes(code)) throw new Error('the chat reply carries the link code');
  return agent.handleText(userId, `/link ${code}`);
}
