/**
 * OAuth (authorize/token, refresh rotation, expiry), app-only methods, scopes, event.bind/unbind/get,
 * online delivery (form-encoded, application_token, no retries), the offline queue (latest state per object,
 * clear=0 + process_id reservation, clear, error, list, ONOFFLINEEVENT, auth_connector) and /sandbox/simulate.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type OAuthTokens, type SandboxHandle, startSandbox } from '../../src/sandbox/index.js';
import { expectShape, get, ISO, postJson } from './helpers.js';

let sb: SandboxHandle;
let tokens: OAuthTokens;
let receiver: Server;
let hookUrl: string;
const received: { body: URLSearchParams; type: string }[] = [];
let failNext = 0;

const rest = (method: string) => `${sb.baseUrl}/rest/${method}`;
const app = (method: string, params: Record<string, unknown> = {}) =>
  postJson(rest(method), { ...params, auth: tokens.access_token });
const waitFor = async (pred: () => boolean, ms = 3000) => {
  const end = Date.now() + ms;
  while (!pred() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  await sb.admin.drainEvents();
};

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let data = '';
    req.on('data', (c) => {
      data += c;
    });
    req.on('end', () => {
      received.push({ body: new URLSearchParams(data), type: String(req.headers['content-type']) });
      res.statusCode = failNext-- > 0 ? 500 : 200;
      res.end('ok');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
  hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/handler`;
  sb = await startSandbox({ plan: 'unlimited', quiet: true, size: 100 });
  tokens = await sb.oauthApp.install();
});
afterAll(async () => {
  await sb.close();
  await new Promise((r) => receiver.close(r));
});
beforeEach(() => {
  received.length = 0;
});

describe('OAuth', () => {
  it('install returns the documented token set; calls accept auth in the query or the JSON body', async () => {
    expectShape(tokens, {
      access_token: 'string',
      refresh_token: 'string',
      expires_in: 'number',
      member_id: 'string',
      domain: 'string',
      client_endpoint: 'string',
      server_endpoint: 'string',
      application_token: 'string',
      scope: 'string',
    });
    expect(tokens.expires_in).toBe(3600);
    expect(tokens.application_token).toBe(sb.oauthApp.applicationToken);
    const q = await get(rest('user.current'), { auth: tokens.access_token });
    expect(q.body.result.ID).toBe('1');
    expect(q.headers.get('x-bitrix-rest-application')).toBe(sb.oauthApp.clientId);
    expect((await app('profile')).body.result).toMatchObject({ ID: '1', ADMIN: true });
  });

  it('authorize redirects with code, state, domain, member_id, scope; token exchange rejects a bad secret or a used code', async () => {
    const res = await fetch(`${sb.baseUrl}/oauth/authorize/?client_id=${sb.oauthApp.clientId}&state=xyz`, {
      redirect: 'manual',
    });
    expect(res.status).toBe(302);
    const loc = new URL(res.headers.get('location')!);
    expect(loc.searchParams.get('state')).toBe('xyz');
    expect(loc.searchParams.get('member_id')).toBe(sb.oauthApp.memberId);
    const code = loc.searchParams.get('code')!;
    const bad = await get(`${sb.baseUrl}/oauth/token/`, {
      grant_type: 'authorization_code',
      client_id: sb.oauthApp.clientId,
      client_secret: 'wrong',
      code,
    });
    expect(bad.status).toBe(401);
    expect(bad.body.error).toBe('invalid_client');
    const ok = await get(`${sb.baseUrl}/oauth/token/`, {
      grant_type: 'authorization_code',
      client_id: sb.oauthApp.clientId,
      client_secret: sb.oauthApp.clientSecret,
      code,
    });
    expect(ok.status).toBe(200);
    const again = await get(`${sb.baseUrl}/oauth/token/`, {
      grant_type: 'authorization_code',
      client_id: sb.oauthApp.clientId,
      client_secret: sb.oauthApp.clientSecret,
      code,
    });
    expect(again.body.error).toBe('invalid_grant');
  });

  it('expired access token → 401 expired_token; refresh rotates; a used refresh token → invalid_grant', async () => {
    const mine = await sb.oauthApp.install();
    await sb.admin.expireTokens();
    const exp = await get(rest('user.current'), { auth: mine.access_token });
    expect(exp.status).toBe(401);
    expect(exp.body.error).toBe('expired_token');
    const ref = {
      grant_type: 'refresh_token',
      client_id: sb.oauthApp.clientId,
      client_secret: sb.oauthApp.clientSecret,
      refresh_token: mine.refresh_token,
    };
    const r1 = await get(`${sb.baseUrl}/oauth/token/`, ref);
    expect(r1.status).toBe(200);
    expectShape(r1.body, {
      access_token: 'string',
      refresh_token: 'string',
      expires: 'number',
      expires_in: 'number',
      member_id: 'string',
      user_id: 'number',
      scope: 'string',
    });
    expect(r1.body.refresh_token).not.toBe(mine.refresh_token);
    const r2 = await get(`${sb.baseUrl}/oauth/token/`, ref);
    expect(r2.status).toBe(400);
    expect(r2.body.error).toBe('invalid_grant');
    expect((await get(rest('user.current'), { auth: r1.body.access_token })).status).toBe(200);
    const garbage = await get(rest('user.current'), { auth: 'nope' });
    expect(garbage.status).toBe(401);
    tokens = { ...tokens, access_token: r1.body.access_token, refresh_token: r1.body.refresh_token };
  });

  it('access tokens expire after 3600 s of sandbox time', async () => {
    const t = await sb.oauthApp.install();
    await sb.admin.advanceTime(3601);
    expect((await get(rest('server.time'), { auth: t.access_token })).body.error).toBe('expired_token');
    tokens = await sb.oauthApp.install();
  });

  it('app-only methods refuse webhooks: event.* → 403 WRONG_AUTH_TYPE, app.info → 403 ACCESS_DENIED', async () => {
    const r = await postJson(sb.webhookUrl + 'event.bind', { event: 'ONCRMDEALADD', handler: hookUrl });
    expect(r.status).toBe(403);
    expect(r.body.error).toBe('WRONG_AUTH_TYPE');
    expect((await postJson(sb.webhookUrl + 'event.offline.get', {})).body.error).toBe('WRONG_AUTH_TYPE');
    const info = await get(sb.webhookUrl + 'app.info');
    expect(info.status).toBe(403);
    expect(info.body.error).toBe('ACCESS_DENIED');
    const ok = await app('app.info');
    expectShape(ok.body.result, {
      ID: 'number',
      CODE: 'string',
      VERSION: 'number',
      STATUS: 'string',
      INSTALLED: 'boolean',
      LICENSE: 'string',
    });
  });

  it('ONAPPINSTALL is posted to the install handler with refresh_token and application_token', async () => {
    await sb.oauthApp.install({ handler: hookUrl });
    await waitFor(() => received.length > 0);
    const b = received[0]!.body;
    expect(b.get('event')).toBe('ONAPPINSTALL');
    expect(b.get('data[VERSION]')).toBe('1');
    expect(b.get('auth[application_token]')).toBe(sb.oauthApp.applicationToken);
    expect(b.get('auth[refresh_token]')).toBeTruthy();
  });
});

describe('online events', () => {
  it('event.bind → true; event.get lists it; a write posts a form-encoded event with application_token', async () => {
    expect((await app('event.bind', { event: 'ONCRMDEALADD', handler: hookUrl })).body.result).toBe(true);
    const dup = await app('event.bind', { event: 'ONCRMDEALADD', handler: hookUrl });
    expect(dup.body.error).toBe('ERROR_HANDLER_ALREADY_EXIST');
    const list = (await app('event.get')).body.result;
    expect(list).toContainEqual({ event: 'ONCRMDEALADD', handler: hookUrl, auth_type: '0', offline: 0 });
    const id = (await postJson(sb.webhookUrl + 'crm.deal.add', { fields: { TITLE: 'Evented' } })).body.result;
    await waitFor(() => received.length > 0);
    expect(received).toHaveLength(1);
    const { body, type } = received[0]!;
    expect(type).toMatch(/application\/x-www-form-urlencoded/);
    expect(body.get('event')).toBe('ONCRMDEALADD');
    expect(body.get('data[FIELDS][ID]')).toBe(String(id));
    expect(body.get('ts')).toMatch(/^\d+$/);
    expect(body.get('event_handler_id')).toMatch(/^\d+$/);
    expect(body.get('auth[application_token]')).toBe(sb.oauthApp.applicationToken);
    expect(body.get('auth[member_id]')).toBe(sb.oauthApp.memberId);
    expect(body.get('auth[access_token]')).toBeTruthy();
    expect(body.get('auth[client_endpoint]')).toBe(`${sb.baseUrl}/rest/`);
  });

  it('no retries: a handler answering 500 gets the event once', async () => {
    failNext = 1;
    const before = (await sb.admin.stats()).events.failed;
    await postJson(sb.webhookUrl + 'crm.deal.add', { fields: { TITLE: 'Fails once' } });
    await waitFor(() => received.length > 0);
    await new Promise((r) => setTimeout(r, 100));
    expect(received).toHaveLength(1);
    expect((await sb.admin.stats()).events.failed).toBe(before + 1);
  });

  it('task events carry FIELDS_AFTER; unbind → {count}', async () => {
    await app('event.bind', { event: 'ONTASKADD', handler: hookUrl });
    await postJson(sb.webhookUrl + 'tasks.task.add', { fields: { TITLE: 'T', RESPONSIBLE_ID: 1 } });
    await waitFor(() => received.some((r) => r.body.get('event') === 'ONTASKADD'));
    const t = received.find((r) => r.body.get('event') === 'ONTASKADD')!;
    expect(t.body.get('data[FIELDS_AFTER][ID]')).toMatch(/^\d+$/);
    expect((await app('event.unbind', { event: 'ONTASKADD', handler: hookUrl })).body.result).toEqual({ count: 1 });
    expect((await app('event.unbind', { event: 'ONCRMDEALADD', handler: hookUrl })).body.result).toEqual({ count: 1 });
    expect((await app('event.unbind', { event: 'ONNOSUCHEVENT', handler: hookUrl })).body.error).toBe(
      'ERROR_EVENT_NOT_FOUND',
    );
  });
});

describe('offline events', () => {
  it('keeps the latest state per object; get clear=0 reserves under a process_id; error; clear; list', async () => {
    expect((await app('event.bind', { event: 'ONCRMDEALUPDATE', event_type: 'offline' })).body.result).toBe(true);
    for (let i = 0; i < 5; i++)
      await postJson(sb.webhookUrl + 'crm.deal.update', { id: 1, fields: { COMMENTS: `v${i}` } });
    await postJson(sb.webhookUrl + 'crm.deal.update', { id: 2, fields: { COMMENTS: 'x' } });
    const list = await app('event.offline.list');
    expect(list.body.total).toBe(2);
    expectShape(list.body.result[0], {
      ID: 'string',
      TIMESTAMP_X: 'string',
      EVENT_NAME: 'string',
      EVENT_DATA: 'object',
      MESSAGE_ID: 'string',
      PROCESS_ID: 'string',
      ERROR: 'string',
    });
    expect(list.body.result[0].TIMESTAMP_X).toMatch(ISO);

    const got = await app('event.offline.get', { clear: 0, limit: 10 });
    const pid = got.body.result.process_id;
    expect(typeof pid).toBe('string');
    expect(got.body.result.events.map((e: any) => e.EVENT_DATA.FIELDS.ID).sort()).toEqual([1, 2]);
    expect((await app('event.offline.get', { clear: 0 })).body.result.events).toEqual([]);
    const again = await app('event.offline.get', { clear: 0, process_id: pid });
    expect(again.body.result.events).toHaveLength(2);

    // a change to a reserved object opens a new row
    await postJson(sb.webhookUrl + 'crm.deal.update', { id: 1, fields: { COMMENTS: 'after' } });
    expect((await app('event.offline.list')).body.total).toBe(3);

    const first = got.body.result.events[0];
    expect((await app('event.offline.error', { process_id: pid, message_id: [first.MESSAGE_ID] })).body.result).toBe(
      true,
    );
    expect((await app('event.offline.clear', { process_id: pid })).body.result).toBe(true);
    const rows = (await app('event.offline.list')).body.result;
    expect(rows).toHaveLength(2);
    expect(rows.find((r: any) => r.ID === first.ID).ERROR).toBe('1');
    const errs = await app('event.offline.get', { error: 1, clear: 1 });
    expect(errs.body.result.process_id).toBeNull();
    expect(errs.body.result.events.length).toBe(2);
    expect((await app('event.offline.list')).body.total).toBe(0);
  });

  it('reservations older than 30 days are released back to the queue', async () => {
    await postJson(sb.webhookUrl + 'crm.deal.update', { id: 7, fields: { COMMENTS: 'reserve me' } });
    const got = await app('event.offline.get', { clear: 0 });
    expect(got.body.result.events.length).toBeGreaterThan(0);
    expect((await app('event.offline.get', { clear: 0 })).body.result.events).toEqual([]);
    await sb.admin.advanceTime(31 * 86_400);
    tokens = await sb.oauthApp.install();
    const again = await app('event.offline.get', { clear: 1 });
    expect(again.body.result.events.map((e: any) => e.ID)).toEqual(got.body.result.events.map((e: any) => e.ID));
  });

  it('ONOFFLINEEVENT notifies online with refresh_token; auth_connector suppresses own changes', async () => {
    await app('event.bind', { event: 'ONOFFLINEEVENT', handler: hookUrl, options: { minTimeout: 0 } });
    await app('event.bind', { event: 'ONCRMLEADUPDATE', event_type: 'offline', auth_connector: 'sync1' });
    await postJson(sb.webhookUrl + 'crm.lead.update', { id: 1, fields: { TITLE: 'mine' }, auth_connector: 'sync1' });
    expect((await app('event.offline.list', { filter: { EVENT_NAME: 'ONCRMLEADUPDATE' } })).body.total).toBe(0);
    await postJson(sb.webhookUrl + 'crm.lead.update', { id: 1, fields: { TITLE: 'theirs' } });
    expect((await app('event.offline.list', { filter: { EVENT_NAME: 'ONCRMLEADUPDATE' } })).body.total).toBe(1);
    await waitFor(() => received.some((r) => r.body.get('event') === 'ONOFFLINEEVENT'));
    const n = received.find((r) => r.body.get('event') === 'ONOFFLINEEVENT')!;
    expect(n.body.get('auth[refresh_token]')).toBeTruthy();
    await app('event.offline.get', { clear: 1 });
  });

  it('/sandbox/simulate produces realistic activity that fires events', async () => {
    await app('event.bind', { event: 'ONCRMLEADADD', event_type: 'offline' });
    await app('event.bind', { event: 'ONCRMLEADADD', handler: hookUrl });
    const before = (await get(sb.webhookUrl + 'crm.lead.list', { select: ['ID'] })).body.total;
    const r = await sb.admin.simulate({ count: 20, rate: 500, kinds: ['lead.add'], wait: true });
    expect(r.scheduled).toBe(20);
    expect((await get(sb.webhookUrl + 'crm.lead.list', { select: ['ID'] })).body.total).toBe(before + 20);
    expect((await app('event.offline.list', { filter: { EVENT_NAME: 'ONCRMLEADADD' } })).body.total).toBe(20);
    await waitFor(() => received.filter((x) => x.body.get('event') === 'ONCRMLEADADD').length >= 20);
    expect(received.filter((x) => x.body.get('event') === 'ONCRMLEADADD')).toHaveLength(20);
    // the docs' request form: filter with operation prefixes, limit
    const docs = await app('event.offline.get', { filter: { '=EVENT_NAME': 'ONCRMLEADADD', '>=ID': 1 }, limit: 5 });
    expect(docs.body.result.process_id).toBeNull();
    expect(docs.body.result.events).toHaveLength(5);
    expect(docs.body.result.events.every((e: any) => e.EVENT_NAME === 'ONCRMLEADADD')).toBe(true);
    expect((await app('event.offline.list', { filter: { EVENT_NAME: 'ONCRMLEADADD' } })).body.total).toBe(15);
    const mixed = await sb.admin.simulate({ count: 30, rate: 1000, wait: true });
    expect(Object.values(mixed.done as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(30);
  });
});
