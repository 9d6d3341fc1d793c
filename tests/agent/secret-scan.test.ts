import { afterAll, describe, expect, it } from 'vitest';
import { InteractionLog } from '../../src/agent/interactionLog.js';
import { KeyedQueue } from '../../src/agent/queue.js';
import { findSecrets } from './support/secrets.js';
import { LOG_ROOT, TEST_SECRETS, tempDataDir } from './support/setup.js';

/**
 * Every chat test writes its state and interaction logs under LOG_ROOT; this file scans everything there
 * (gzip archives included) for the secrets the tests use. Other files scan their own dirs in afterAll too, since
 * test files run in parallel.
 */
describe('secret scan of every chat log file', () => {
  afterAll(() => new KeyedQueue().idle());

  it('the scanner finds a planted secret (so a clean result means something)', async () => {
    const dir = tempDataDir();
    const raw = new InteractionLog(dir);
    // Bypass redaction on purpose: write the secret as a raw line next to the log.
    const { appendFile, mkdir } = await import('node:fs/promises');
    await mkdir(raw.dir, { recursive: true });
    await appendFile(`${raw.file('planted')}.raw`, `leak ${TEST_SECRETS[0]}\n`);
    expect(findSecrets([dir], TEST_SECRETS)).toHaveLength(1);
    const { rm } = await import('node:fs/promises');
    await rm(dir, { recursive: true });
  });

  it('no file under the chat tests data root contains a test secret', () => {
    expect(findSecrets([LOG_ROOT], TEST_SECRETS)).toEqual([]);
  });
});
