import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { InteractionLog } from '../../src/agent/interactionLog.js';
import { KeyedQueue } from '../../src/agent/queue.js';
import { addDone, emptyState, MemoryStateStore, selfCheck, summarizeState } from '../../src/agent/state.js';
import { registerSecrets } from '../../src/lib/redact.js';
import { findSecrets } from './support/secrets.js';
import { createdDataDirs, TEST_SECRETS, tempDataDir } from './support/setup.js';

describe('agent state', () => {
  // the durable store (per-user rows, both backends, private database file) is tested in tests/store/agentState.test.ts
  it('keeps users apart (memory store)', async () => {
    const store = new MemoryStateStore();
    const a = await store.load('tg:1');
    a.goals.push({ text: 'close Q3 deals', at: new Date().toISOString() });
    await store.save(a);
    expect((await store.load('tg:1')).goals[0]?.text).toBe('close Q3 deals');
    expect((await store.load('tg:2')).goals).toEqual([]);
  });

  it('self-check warns about missing goal, missing current object and blank in-progress items', () => {
    const s = emptyState('u');
    expect(selfCheck(s)).toEqual(['No goal is known yet.']);
    s.goals.push({ text: 'g', at: '' });
    addDone(s, 'Created 1 deal', ['deal:4']);
    s.inProgress.push({ description: ' ', requestedAt: '' });
    expect(selfCheck(s)).toHaveLength(2);
    s.objects.current_deal_id = '4';
    s.inProgress = [];
    expect(selfCheck(s)).toEqual([]);
    expect(summarizeState(s)).toContain('current_deal_id=4');
  });
});

describe('KeyedQueue', () => {
  it('runs one key strictly in order and keys in parallel', async () => {
    const q = new KeyedQueue();
    const log: string[] = [];
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const started = Date.now();
    await Promise.all([
      ...[30, 10, 0].map((ms, i) =>
        q.run('a', async () => {
          await sleep(ms);
          log.push(`a${i}`);
        }),
      ),
      ...[30, 10, 0].map((ms, i) =>
        q.run('b', async () => {
          await sleep(ms);
          log.push(`b${i}`);
        }),
      ),
      q
        .run('a', async () => {
          throw new Error('x');
        })
        .catch(() => log.push('a-err')),
      q.run('a', async () => log.push('a-after')),
    ]);
    expect(log.filter((x) => x.startsWith('a'))).toEqual(['a0', 'a1', 'a2', 'a-err', 'a-after']);
    expect(log.filter((x) => x.startsWith('b'))).toEqual(['b0', 'b1', 'b2']);
    expect(Date.now() - started).toBeLessThan(200);
    expect(q.activeKeys).toBe(0);
  });
});

describe('interaction logs', () => {
  it('redacts secrets, rotates into gzip archives and keeps at most 10 per user', async () => {
    const dir = tempDataDir();
    const log = new InteractionLog(dir, { maxBytes: 2000 });
    registerSecrets(['my-very-secret-openai-key-value']);
    for (let i = 0; i < 60; i++) {
      await log.append('tg:5', {
        kind: 'message',
        text: `msg ${i} ${'x'.repeat(200)} https://portal.example/rest/1/abcd1234efgh5678/crm.deal.add my-very-secret-openai-key-value`,
        token: 'should-not-appear-000',
      });
    }
    await log.append('tg:6', { kind: 'message', text: 'other user' });
    const archives = await log.archives('tg:5');
    expect(archives).toHaveLength(10);
    for (const a of archives) {
      const text = gunzipSync(readFileSync(a)).toString('utf8');
      const lines = text
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { text: string; token: string; ts: string });
      expect(lines.length).toBeGreaterThan(0);
      expect(text).not.toMatch(/abcd1234efgh5678|my-very-secret|should-not-appear/);
      expect(lines[0]?.ts).toMatch(/Z$/);
    }
    const live = readFileSync(log.file('tg:5'), 'utf8');
    expect(statSync(log.file('tg:5')).size).toBeLessThanOrEqual(2000);
    expect(live).toContain('msg 59');
    expect(readFileSync(log.file('tg:6'), 'utf8')).toContain('other user');
    // Newest archives are kept: the last archive holds messages right before the live file.
    const newest = gunzipSync(readFileSync(archives.at(-1)!)).toString('utf8');
    const firstLive = Number(/msg (\d+)/.exec(live)![1]);
    expect(newest).toContain(`msg ${firstLive - 1} `);
    expect(readdirSync(join(dir, 'agent', 'logs')).filter((f) => f.includes('.tmp') || f.includes('rotating'))).toEqual(
      [],
    );
  });
});

afterAll(() => {
  expect(findSecrets(createdDataDirs, TEST_SECRETS)).toEqual([]);
});
