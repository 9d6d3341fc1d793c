/**
 * Limits (leaky bucket → 503 QUERY_LIMIT_EXCEEDED, per-method operating budget → 429 OPERATION_TIME_LIMIT,
 * clock speed-up) and --data persistence.
 */
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SandboxHandle, startSandbox } from '../../src/sandbox/index.js';
import { scanPending, testDir } from '../support/testRoot.js';
import { get, postJson } from './helpers.js';

describe('leaky bucket', () => {
  let sb: SandboxHandle;
  beforeAll(async () => {
    // a nearly frozen sandbox clock makes the drain deterministic; advanceTime() moves it explicitly
    sb = await startSandbox({ plan: 'standard', quiet: true, size: 50, clockFactor: 0.0001 });
  });
  afterAll(() => sb.close());

  it('standard: burst 50, then 503 QUERY_LIMIT_EXCEEDED; drains at 2/s (sped-up clock)', async () => {
    const statuses: number[] = [];
    let rejected: any;
    for (let i = 0; i < 56; i++) {
      const r = await get(sb.webhookUrl + 'server.time');
      statuses.push(r.status);
      if (r.status === 503) rejected = r.body;
    }
    const ok = statuses.filter((s) => s === 200).length;
    expect(ok).toBe(50);
    expect(rejected).toEqual({ error: 'QUERY_LIMIT_EXCEEDED', error_description: 'Too many requests' });
    await sb.admin.advanceTime(5); // 5 s drain 10 requests
    let again = 0;
    for (let i = 0; i < 12; i++) if ((await get(sb.webhookUrl + 'server.time')).status === 200) again++;
    expect(again).toBe(10);
  });

  it('a batch of 50 commands counts as one request', async () => {
    await sb.admin.limits({ reset: true });
    const cmd = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`c${i}`, 'server.time']));
    for (let i = 0; i < 50; i++) expect((await postJson(sb.webhookUrl + 'batch', { cmd })).status).toBe(200);
    expect((await get(sb.webhookUrl + 'server.time')).status).toBe(503);
  });

  it('enterprise: burst 250; unlimited: no 503', async () => {
    await sb.admin.limits({ plan: 'enterprise', reset: true });
    let ok = 0;
    for (let i = 0; i < 256; i++) if ((await get(sb.webhookUrl + 'server.time')).status === 200) ok++;
    expect(ok).toBe(250);
    await sb.admin.limits({ plan: 'unlimited', reset: true });
    for (let i = 0; i < 100; i++) expect((await get(sb.webhookUrl + 'server.time')).status).toBe(200);
    const s = await sb.admin.stats();
    expect(s.status['503']).toBeGreaterThan(0);
  });
});

describe('operating budget', () => {
  let sb: SandboxHandle;
  beforeAll(async () => {
    sb = await startSandbox({ plan: 'unlimited', quiet: true, size: 2000, operatingLimit: 1 });
  });
  afterAll(() => sb.close());

  it('time.operating accumulates per method; counted pages cost more than start=-1 pages', async () => {
    const a = await get(sb.webhookUrl + 'crm.contact.list', { start: -1, order: { ID: 'ASC' }, filter: { '>ID': 0 } });
    const b = await get(sb.webhookUrl + 'crm.contact.list', { start: -1, order: { ID: 'ASC' }, filter: { '>ID': 50 } });
    const keysetCost = b.body.time.operating - a.body.time.operating;
    const c = await get(sb.webhookUrl + 'crm.contact.list', {});
    const countedCost = c.body.time.operating - b.body.time.operating;
    expect(keysetCost).toBeGreaterThan(0);
    expect(countedCost).toBeGreaterThan(keysetCost);
    const now = Date.now() / 1000;
    expect(b.body.time.operating_reset_at).toBeGreaterThan(now);
    expect(b.body.time.operating_reset_at).toBeLessThanOrEqual(now + 601);
  });

  it('over the limit → 429 OPERATION_TIME_LIMIT for that method only, also inside batch; baskets expire after 10 min', async () => {
    let blocked: any;
    let calls = 0;
    while (!blocked && calls < 100) {
      const r = await get(sb.webhookUrl + 'crm.deal.list', {});
      calls++;
      if (r.status === 429) blocked = r.body;
    }
    expect(blocked).toEqual({
      error: 'OPERATION_TIME_LIMIT',
      error_description: 'Method is blocked due to operation time limit.',
    });
    expect(calls).toBeGreaterThan(2);
    expect((await get(sb.webhookUrl + 'crm.deal.get', { id: 1 })).status).toBe(200);
    const b = await postJson(sb.webhookUrl + 'batch', { cmd: { l: 'crm.deal.list', g: 'crm.deal.get?id=1' } });
    expect(b.status).toBe(200);
    expect(b.body.result.result_error.l.error).toBe('OPERATION_TIME_LIMIT');
    expect(b.body.result.result.g.ID).toBe('1');
    // other webhooks have their own budget
    const { webhookUrl } = await sb.admin.webhook({ scopes: ['crm'] });
    expect((await get(webhookUrl + 'crm.deal.list', {})).status).toBe(200);
    await sb.admin.advanceTime(601);
    expect((await get(sb.webhookUrl + 'crm.deal.list', {})).status).toBe(200);
  });

  it('clockFactor speeds the ten one-minute baskets up', async () => {
    await sb.admin.limits({ operatingLimit: 0.2, reset: true });
    let status = 200;
    while (status === 200) status = (await get(sb.webhookUrl + 'crm.deal.list', {})).status;
    expect(status).toBe(429);
    await sb.admin.limits({ clockFactor: 3000 });
    await new Promise((r) => setTimeout(r, 300)); // 900 sandbox seconds
    await sb.admin.limits({ clockFactor: 1 });
    expect((await get(sb.webhookUrl + 'crm.deal.list', {})).status).toBe(200);
  });
});

describe('--data persistence', () => {
  const dir = testDir('b24flow-sb-');
  afterAll(() => (scanPending() ? undefined : rmSync(dir, { recursive: true, force: true })));

  it('keeps records, webhooks, OAuth app and offline queue between runs (atomic snapshot)', async () => {
    const a = await startSandbox({ plan: 'unlimited', quiet: true, size: 30, dataDir: dir });
    const id = (await postJson(a.webhookUrl + 'crm.deal.add', { fields: { TITLE: 'Persisted' } })).body.result;
    const extra = await a.admin.webhook({ scopes: ['crm'] });
    const tokens = await a.oauthApp.install();
    await postJson(`${a.baseUrl}/rest/event.bind`, {
      auth: tokens.access_token,
      event: 'ONCRMDEALUPDATE',
      event_type: 'offline',
    });
    await postJson(a.webhookUrl + 'crm.deal.update', { id, fields: { TITLE: 'Persisted 2' } });
    const code = a.webhookUrl.split('/').at(-2);
    const clientId = a.oauthApp.clientId;
    await a.close();
    const file = join(dir, 'portal.ndjson');
    expect(existsSync(file)).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(() => lines.map((l) => JSON.parse(l))).not.toThrow();

    const b = await startSandbox({ plan: 'unlimited', quiet: true, size: 30, dataDir: dir });
    try {
      expect(b.webhookUrl.split('/').at(-2)).toBe(code);
      expect(b.oauthApp.clientId).toBe(clientId);
      expect((await get(b.webhookUrl + 'crm.deal.get', { id })).body.result.TITLE).toBe('Persisted 2');
      const extraUrl = extra.webhookUrl.replace(/^http:\/\/[^/]+/, b.baseUrl);
      expect((await get(extraUrl + 'crm.deal.get', { id })).status).toBe(200);
      const next = (await postJson(b.webhookUrl + 'crm.deal.add', { fields: { TITLE: 'After restart' } })).body.result;
      expect(next).toBe(id + 1);
      const q = await postJson(`${b.baseUrl}/rest/event.offline.list`, { auth: tokens.access_token });
      expect(q.body.total).toBe(1);
    } finally {
      await b.close();
    }
  });
});
