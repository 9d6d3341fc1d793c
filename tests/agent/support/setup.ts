import { mkdirSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { ChatAgent, type ChatAgentOptions } from '../../../src/agent/agent.js';
import type { ChatEngine } from '../../../src/agent/engine.js';
import { Planner } from '../../../src/agent/planner.js';
import { MemoryStateStore } from '../../../src/agent/state.js';
import { FIXED_TEST_SECRETS } from '../../support/fakeSecrets.js';
import { testRoot } from '../../support/testRoot.js';

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
