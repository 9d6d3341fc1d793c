/**
 * The client against the sandbox portal over real HTTP: calls, keyset lists, fast export, batch, 302 domain change.
 */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokensFromAnswer } from '../../src/bitrix/auth/oauth.js';
import { PortalRegistry } from '../../src/bitrix/auth/registry.js';
import { MemoryTokenStore } from '../../src/bitrix/auth/tokenStore.js';
import { WebhookAuth } from '../../src/bitrix/auth/webhook.js';
import { BatchBuilder } from '../../src/bitrix/batch.js';
import { B24Client } from '../../src/bitrix/client.js';
import { BatchError, InsufficientScope, MethodNotFound, WrongAuthType } from '../../src/bitrix/restErrors.js';
import { admin, type Sandbox, sandbox, stats } from './helpers.js';

let sb: Sandbox;
let client: B24Client;

beforeAll(async () => {
  sb = await sandbox({ size: 'small', plan: 'unlimited' });
  client = new B24Client({ auth: new WebhookAuth(sb.webhookUrl), limiter: { drain: 1000, burst: 10000 } });
});
afterAll(async () => {
  await client?.close();
  await sb?.close();
});

describe('webhook client on the sandbox', () => {
  it('calls a method and returns result, total and time', async () => {
    const res = await client.call<Array<{ ID: string }>>('crm.deal.list', { select: ['ID', 'TITLE'], start: 0 });
    expect(res.result).toHaveLength(50);
    expect(res.total).toBeGreaterThan(50);
    expect(typeof res.time?.duration).toBe('number');
    await expect(client.call('crm.nosuch.method')).rejects.toBeInstanceOf(MethodNotFound);
  });

  it('iterates every row once by keyset and the fast export returns the same set', async () => {
    const total = (await client.call('crm.deal.list', { select: ['ID'], start: 0 })).total!;
    const listed: number[] = [];
    let progress = 0;
    for await (const row of client.list<{ ID: string }>(
      'crm.deal.list',
      { select: ['ID', 'TITLE'] },
      { onProgress: (p) => (progress = p.rows) },
    ))
      listed.push(Number(row.ID));
    expect(listed).toHaveLength(total);
    expect(new Set(listed).size).toBe(total);
    expect([...listed].sort((a, b) => a - b)).toEqual(listed); // ascending
    expect(progress).toBe(total);

    await admin(sb, '/sandbox/stats/reset', {});
    const exported: number[] = [];
    for await (const page of client.exportAll<{ ID: string }>('crm.deal.list', { select: ['ID'] }, { parallel: 3 }))
      for (const r of page) exported.push(Number(r.ID));
    expect(exported).toHaveLength(total);
    expect(new Set(exported)).toEqual(new Set(listed));
    const s = await stats(sb);
    // probe + ceil(remaining / 2,500) chains: a few requests for a few hundred rows, never one per page
    expect(s.requests).toBeLessThanOrEqual(3);
  });

  it('honours a filter in list and export, and stops when the list is exhausted', async () => {
    const filter = { '>OPPORTUNITY': 0, STAGE_ID: 'NEW' };
    const a: number[] = [];
    for await (const r of client.list<{ ID: string }>('crm.deal.list', { filter, select: ['ID'] }))
      a.push(Number(r.ID));
    const b: number[] = [];
    for await (const page of client.exportAll<{ ID: string }>('crm.deal.list', { filter, select: ['ID'] }))
      for (const r of page) b.push(Number(r.ID));
    expect(new Set(b)).toEqual(new Set(a));
    expect(b).toHaveLength(a.length);
  });

  it('aborts a list with an AbortSignal', async () => {
    const ac = new AbortController();
    const seen: unknown[] = [];
    await expect(
      (async () => {
        for await (const r of client.list('crm.deal.list', { select: ['ID'] }, { signal: ac.signal })) {
          seen.push(r);
          if (seen.length === 60) ac.abort(new Error('stop'));
        }
      })(),
    ).rejects.toThrow('stop');
    expect(seen.length).toBeLessThanOrEqual(100);
  });

  it('aborts a fast export with an AbortSignal', async () => {
    const ac = new AbortController();
    let pages = 0;
    await expect(
      (async () => {
        for await (const _page of client.exportAll('crm.deal.list', { select: ['ID'] }, { signal: ac.signal })) {
          pages++;
          ac.abort(new Error('stop export'));
        }
      })(),
    ).rejects.toThrow('stop export');
    expect(pages).toBe(1);
  });

  it('runs batches with typed $result references, per-command errors, chunking and nested-batch refusal', async () => {
    const b = new BatchBuilder();
    const add = b.add<number>('crm.deal.add', { fields: { TITLE: 'ref test', COMMENTS: 'to be cleared' } });
    b.add('crm.deal.update', { id: add.ref(), fields: { COMMENTS: null, OPENED: false } }, 'upd');
    const get = b.add('crm.deal.get', { id: add.ref() }, 'get');
    b.add('crm.deal.get', { id: 999_999_999 }, 'missing');
    const res = await client.batch(b);
    expect(typeof res.results[add.key] === 'number' || typeof res.results[add.key] === 'string').toBe(true);
    const deal = res.get<Record<string, unknown>>(get.key);
    expect(deal.TITLE).toBe('ref test');
    expect(deal.COMMENTS ?? '').toBe('');
    expect(deal.OPENED).toBe('N');
    expect(res.errors.missing).toBeDefined();
    expect(() => res.get('missing')).toThrow();

    await admin(sb, '/sandbox/stats/reset', {});
    const many = await client.batch(
      Array.from({ length: 120 }, (_, i) => ({ method: 'crm.deal.get', params: { id: (i % 50) + 1 } })),
    );
    expect(many.list()).toHaveLength(120);
    expect(Object.keys(many.errors)).toHaveLength(0);
    expect((await stats(sb)).requests).toBe(3);

    const before = (await stats(sb)).requests;
    await expect(client.batch([{ method: 'batch', params: { cmd: { a: 'server.time' } } }])).rejects.toBeInstanceOf(
      BatchError,
    );
    expect((await stats(sb)).requests).toBe(before);
  });
});

describe('fatal codes', () => {
  it('fail at once with a typed error and a remediation hint, without retries', async () => {
    const { webhookUrl } = await admin(sb, '/sandbox/webhooks', { scopes: ['task'] });
    const narrow = new B24Client({ auth: new WebhookAuth(webhookUrl), limiter: { drain: 1000, burst: 10000 } });
    const err = await narrow.call('crm.deal.list').catch((e) => e);
    expect(err).toBeInstanceOf(InsufficientScope);
    expect(err.hint).toMatch(/Add scope `crm` to the webhook/);
    expect(err.message).not.toContain(webhookUrl.split('/')[5]);
    const wrong = await client
      .call('event.bind', { event: 'ONCRMDEALADD', handler: 'https://example.com/h' })
      .catch((e) => e);
    expect(wrong).toBeInstanceOf(WrongAuthType);
    expect(wrong.hint).toMatch(/OAuth application/);
    // per-command errors in a batch carry the same types and hints
    const b = await narrow.batch({ deals: { method: 'crm.deal.list' }, tasks: { method: 'tasks.task.list' } });
    expect(b.errors.deals).toBeInstanceOf(InsufficientScope);
    expect(b.results.tasks).toBeDefined();
    expect(narrow.stats()).toMatchObject({ requests: 2, retries: 0 });
    await narrow.close();
  });
});

describe('domain change', () => {
  let redirector: Server;
  let hits = 0;
  beforeAll(async () => {
    const target = new URL(sb.baseUrl);
    redirector = createServer((req, res) => {
      hits++;
      res.writeHead(302, { location: `${target.origin}${req.url}` });
      res.end();
    });
    await new Promise<void>((r) => redirector.listen(0, '127.0.0.1', r));
  });
  afterAll(async () => {
    await new Promise((r) => redirector.close(r));
  });

  it('follows a 302 to the new portal address once, re-POSTs, and keeps using the new address', async () => {
    const port = (redirector.address() as { port: number }).port;
    const moved = sb.webhookUrl.replace(new URL(sb.baseUrl).host, `127.0.0.1:${port}`);
    const c = new B24Client({ auth: new WebhookAuth(moved), limiter: { drain: 1000, burst: 10000 } });
    const a = await c.call<Array<unknown>>('crm.deal.list', { select: ['ID'], filter: { '<=ID': 3 } });
    expect(a.result).toHaveLength(3);
    await c.call('crm.deal.list', { select: ['ID'] });
    await c.call('crm.deal.add', { fields: { TITLE: 'after move' } });
    expect(hits).toBe(1);
    await c.close();
  });

  it('moves an OAuth portal to its new address and stores the new endpoint', async () => {
    const port = (redirector.address() as { port: number }).port;
    const store = new MemoryTokenStore();
    const registry = new PortalRegistry(
      { clientId: sb.oauthApp.clientId, clientSecret: sb.oauthApp.clientSecret },
      store,
    );
    const t = tokensFromAnswer(await sb.oauthApp.install());
    const realEndpoint = t.client_endpoint;
    await registry.install({
      ...t,
      client_endpoint: t.client_endpoint.replace(new URL(sb.baseUrl).host, `127.0.0.1:${port}`),
    });
    const c = new B24Client({ auth: registry.auth(t.member_id), limiter: { drain: 1000, burst: 10000 } });
    const before = hits;
    await c.call('crm.deal.list', { select: ['ID'] });
    await c.call('crm.deal.list', { select: ['ID'] });
    expect(hits - before).toBe(1);
    expect((await store.get(t.member_id))?.client_endpoint).toBe(realEndpoint);
    await c.close();
  });
});

describe('odd list methods', () => {
  let odd: Server;
  let hits = 0;
  beforeAll(async () => {
    // a list method that ignores the >ID filter (always the same page) and wraps rows under an unusual key
    odd = createServer((req, res) => {
      hits++;
      req.resume();
      req.on('end', () => {
        const rows = Array.from({ length: 50 }, (_, i) => ({ id: String(i + 1), name: `g${i + 1}` }));
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ result: { workgroups: rows }, total: 50, time: { start: 0, finish: 0 } }));
      });
    });
    await new Promise<void>((r) => odd.listen(0, '127.0.0.1', r));
  });
  afterAll(async () => {
    await new Promise((r) => odd.close(r));
  });

  it('detects the wrapper key and id case, and stops when the last id repeats instead of looping', async () => {
    const port = (odd.address() as { port: number }).port;
    const c = new B24Client({
      auth: new WebhookAuth(`http://127.0.0.1:${port}/rest/1/oddcode123/`),
      limiter: { drain: 1000, burst: 10000 },
    });
    const rows: Array<{ id: string }> = [];
    for await (const r of c.list<{ id: string }>('socialnetwork.api.workgroup.list', {})) rows.push(r);
    expect(rows).toHaveLength(50);
    expect(rows[49]!.id).toBe('50');
    expect(hits).toBe(2);
    await c.close();
  });
});
