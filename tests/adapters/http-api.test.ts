import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiRoutes } from '../../src/adapters/http/api.js';
import { type HttpServerHandle, startHttpServer } from '../../src/lib/http.js';
import { findSecrets } from '../agent/support/secrets.js';
import { createdDataDirs, makeAgent, TEST_SECRETS } from '../agent/support/setup.js';
import { stubEngine } from '../agent/support/stubEngine.js';

const TOKEN = 'api-token-0123456789abcdef';

describe('HTTP API', () => {
  const engine = stubEngine();
  engine.named = [{ name: 'make-deal', file: 'x', inputs: {} }];
  let clock = Date.now();
  let srv: HttpServerHandle;
  const logLines: string[] = [];

  beforeAll(async () => {
    const agent = makeAgent(engine);
    srv = await startHttpServer({
      routes: apiRoutes({
        agent,
        tokens: ['other-token-xyz123', TOKEN],
        now: () => clock,
        log: (l) => logLines.push(l),
      }),
    });
  });
  afterAll(() => srv.close());

  const call = (method: string, path: string, body?: unknown, key: string | null = TOKEN) =>
    fetch(`${srv.url}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...(key !== null ? { 'x-api-key': key } : {}) },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });

  it('plans a named pipeline, applies it once, refuses a second apply', async () => {
    const r = await call('POST', '/runs', { pipeline: 'make-deal', inputs: {} });
    expect(r.status).toBe(202);
    const { plan } = (await r.json()) as { plan: { id: string; writes: unknown[] } };
    expect(plan.writes).toHaveLength(1);
    expect(engine.writes).toBe(0);
    const a = await call('POST', `/plans/${plan.id}/apply`, {});
    expect(a.status).toBe(200);
    expect(((await a.json()) as { run: { object_ids: string[] } }).run.object_ids).toEqual(['deal:1']);
    const again = await call('POST', `/plans/${plan.id}/apply`, {});
    expect(again.status).toBe(409);
    expect(((await again.json()) as { error: string }).error).toBe('PLAN_USED');
    expect(engine.writes).toBe(1);
  });

  it('refuses a destructive apply without confirm_destructive', async () => {
    engine.deals.set(50, { TITLE: 'keep' });
    const plan = await engine.plan({ steps: [{ method: 'crm.deal.delete', params: { id: 50 } }] }, {});
    const r = await call('POST', `/plans/${plan.id}/apply`, {});
    expect(r.status).toBe(409);
    expect(engine.deals.has(50)).toBe(true);
  });

  it('answers 400 on bad input and never lets the caller pick a mode or a path', async () => {
    for (const body of [
      { pipeline: 'make-deal', mode: 'full' },
      { pipeline: '../etc/passwd' },
      { pipeline: 'make-deal', file: '/tmp/x.yaml' },
      { user_id: 'a', message: 'hi', state_dir: '/tmp' },
      '{not json',
      [1, 2],
    ]) {
      const path = typeof body === 'object' && !Array.isArray(body) && 'user_id' in body ? '/chat' : '/runs';
      const r = await call('POST', path, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
    }
    expect((await call('POST', '/chat', { user_id: 'a b', message: 'x' })).status).toBe(400);
    expect((await call('GET', '/runs/..%2F..%2Fetc')).status).toBe(400);
    expect((await call('GET', '/runs/nope')).status).toBe(404);
  });

  it('POST /chat answers through the agent', async () => {
    const r = await call('POST', '/chat', { user_id: 'crm-bot', message: '/start' });
    expect(r.status).toBe(200);
    expect(((await r.json()) as { reply: string }).reply).toMatch(/b24flow/);
  });

  it('500 without internal details', async () => {
    const orig = engine.pipelines;
    engine.pipelines = async () => {
      throw new Error(`secret path /srv/data and key ${TOKEN}`);
    };
    const r = await call('POST', '/runs', { pipeline: 'make-deal' });
    expect(r.status).toBe(500);
    const text = await r.text();
    expect(text).toBe('{"error":"INTERNAL_SERVER_ERROR"}');
    expect(logLines.join('\n')).not.toContain(TOKEN);
    engine.pipelines = orig;
  });

  it('locks a wrong key out after 5 failures for 15 minutes with Retry-After; the valid key still passes', async () => {
    for (let i = 0; i < 5; i++)
      expect((await call('POST', '/chat', { user_id: 'x', message: 'y' }, 'wrong')).status).toBe(401);
    expect((await call('POST', '/chat', { user_id: 'x', message: 'y' }, null)).status).toBe(401);
    const locked = await call('POST', '/chat', { user_id: 'x', message: '/start' }, 'wrong');
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get('retry-after'))).toBe(900);
    expect((await call('POST', '/chat', { user_id: 'x', message: '/start' })).status).toBe(200);
    clock += 14 * 60_000;
    const still = await call('GET', '/runs/abc', undefined, 'wrong');
    expect(still.status).toBe(429);
    expect(Number(still.headers.get('retry-after'))).toBe(60);
    clock += 61_000;
    expect((await call('GET', '/runs/abc', undefined, 'wrong')).status).toBe(401);
    expect((await call('POST', '/chat', { user_id: 'x', message: '/start' })).status).toBe(200);
  });

  it('failures older than the window do not count', async () => {
    for (let i = 0; i < 4; i++) await call('GET', '/runs/a', undefined, 'bad');
    clock += 16 * 60_000;
    for (let i = 0; i < 4; i++) expect((await call('GET', '/runs/a', undefined, 'bad')).status).toBe(401);
    expect((await call('GET', '/runs/a')).status).toBe(404);
  });
});

afterAll(() => {
  expect(findSecrets(createdDataDirs, TEST_SECRETS)).toEqual([]);
});
