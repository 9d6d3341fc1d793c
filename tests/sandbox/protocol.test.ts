/**
 * Protocol conformance: URL forms, encodings (PHP brackets, JSON, urlencoded, multipart, positional),
 * envelopes and error dialects. Requests follow the docs' cURL / HTTP examples; compared on shape and types.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SandboxHandle, startSandbox } from '../../src/sandbox/index.js';
import { expectShape, get, ISO, postForm, postJson, postMultipart, TIME_SHAPE } from './helpers.js';

let sb: SandboxHandle;
beforeAll(async () => {
  sb = await startSandbox({ plan: 'unlimited', quiet: true, size: 300 });
});
afterAll(() => sb.close());

describe('URL forms and method names', () => {
  it('serves /rest/{user}/{code}/{method} with and without .json, names case-insensitive', async () => {
    const a = await get(sb.webhookUrl + 'user.current');
    const b = await get(sb.webhookUrl + 'user.current.json');
    const c = await get(sb.webhookUrl + 'USER.Current');
    for (const r of [a, b, c]) {
      expect(r.status).toBe(200);
      expect(r.body.result.ID).toBe('1');
      expect(r.headers.get('content-type')).toMatch(/application\/json/);
    }
  });

  it('answers .xml with <response><result>', async () => {
    const res = await fetch(sb.webhookUrl + 'server.time.xml');
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toMatch(/^<\?xml[^>]*\?><response><result>\d{4}-\d{2}-\d{2}T/);
  });

  it('unknown method → 404 ERROR_METHOD_NOT_FOUND "Method not found!"', async () => {
    const r = await get(sb.webhookUrl + 'crm.deal.frobnicate');
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ error: 'ERROR_METHOD_NOT_FOUND', error_description: 'Method not found!' });
  });

  it('wrong webhook code or user → 401 NO_AUTH_FOUND, no time block', async () => {
    const bad = sb.webhookUrl.replace(/\/rest\/1\/[^/]+\//, '/rest/1/0000000000000000/');
    const r = await get(bad + 'user.current');
    expect(r.status).toBe(401);
    expect(r.body.error).toBe('NO_AUTH_FOUND');
    expect(r.body.time).toBeUndefined();
    const other = await get(sb.webhookUrl.replace('/rest/1/', '/rest/2/') + 'user.current');
    expect(other.status).toBe(401);
  });

  it('OAuth form /rest/{method} without auth → 401', async () => {
    const r = await get(`${sb.baseUrl}/rest/user.current`);
    expect(r.status).toBe(401);
    expect(r.body.error).toBe('NO_AUTH_FOUND');
  });
});

describe('envelope', () => {
  it('success carries result + time{start,finish,duration,processing,date_*,operating,operating_reset_at}; no total on get', async () => {
    const r = await get(sb.webhookUrl + 'crm.deal.get', { id: 1 });
    expect(r.status).toBe(200);
    expect(Object.keys(r.body).sort()).toEqual(['result', 'time']);
    expectShape(r.body.time, TIME_SHAPE);
    expect(r.body.time.date_start).toMatch(ISO);
    expect(Number.isInteger(r.body.time.operating_reset_at)).toBe(true);
  });

  it('lists carry total and next only while more rows exist', async () => {
    const first = await get(sb.webhookUrl + 'crm.deal.list', { select: ['ID'] });
    expect(first.body.result).toHaveLength(50);
    expect(first.body.total).toBe(300);
    expect(first.body.next).toBe(50);
    const last = await get(sb.webhookUrl + 'crm.deal.list', { select: ['ID'], start: 250 });
    expect(last.body.result).toHaveLength(50);
    expect(last.body.next).toBeUndefined();
    expect(last.body.total).toBe(300);
  });

  it('server.time returns an ISO string; scope returns an array of strings; method.get the pair of flags', async () => {
    expect((await get(sb.webhookUrl + 'server.time')).body.result).toMatch(ISO);
    const scope = await get(sb.webhookUrl + 'scope');
    expect(scope.body.result).toContain('crm');
    const m = await get(sb.webhookUrl + 'method.get', { name: 'crm.deal.list' });
    expect(m.body.result).toEqual({ isExisting: true, isAvailable: true });
    const none = await get(sb.webhookUrl + 'method.get', { name: 'no.such.method' });
    expect(none.body.result).toEqual({ isExisting: false, isAvailable: false });
    const f = await get(sb.webhookUrl + 'feature.get', { CODE: 'rest_offline_extended' });
    expect(f.body.result).toEqual({ value: 'Y' });
  });
});

describe('parameter encodings', () => {
  const fields = { TITLE: 'Encoded deal', OPPORTUNITY: 1500.5, CURRENCY_ID: 'RUB' };
  const check = async (id: unknown) => {
    expect(typeof id).toBe('number');
    const g = await get(sb.webhookUrl + 'crm.deal.get', { id: id as number });
    expect(g.body.result.TITLE).toBe('Encoded deal');
    expect(g.body.result.OPPORTUNITY).toBe('1500.50');
  };

  it('JSON body', async () => {
    await check((await postJson(sb.webhookUrl + 'crm.deal.add', { fields })).body.result);
  });
  it('urlencoded body with PHP brackets fields[TITLE]=…', async () => {
    await check((await postForm(sb.webhookUrl + 'crm.deal.add', { fields })).body.result);
  });
  it('GET query string', async () => {
    await check((await get(sb.webhookUrl + 'crm.deal.add', { fields })).body.result);
  });
  it('multipart/form-data', async () => {
    const r = await postMultipart(sb.webhookUrl + 'crm.deal.add', {
      'fields[TITLE]': 'Encoded deal',
      'fields[OPPORTUNITY]': '1500.5',
    });
    await check(r.body.result);
  });

  it('nested multifields fields[PHONE][0][VALUE] and select[]=', async () => {
    const body =
      'fields[NAME]=Ivan&fields[PHONE][0][VALUE]=112233&fields[PHONE][0][VALUE_TYPE]=WORK&fields[EMAIL][0][VALUE]=ivan%40example.com&fields[EMAIL][0][VALUE_TYPE]=HOME';
    const add = await fetch(sb.webhookUrl + 'crm.contact.add', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body,
    }).then((r) => r.json() as Promise<any>);
    const id = add.result;
    const list = await fetch(
      `${sb.webhookUrl}crm.contact.list?filter[ID]=${id}&select[]=ID&select[]=NAME&select[]=PHONE&select[]=EMAIL`,
    ).then((r) => r.json() as Promise<any>);
    expect(list.result[0].NAME).toBe('Ivan');
    expect(list.result[0].PHONE[0]).toMatchObject({ VALUE: '112233', VALUE_TYPE: 'WORK', TYPE_ID: 'PHONE' });
    expect(typeof list.result[0].PHONE[0].ID).toBe('string');
    expect(list.result[0].EMAIL[0]).toMatchObject({ VALUE: 'ivan@example.com', VALUE_TYPE: 'HOME', TYPE_ID: 'EMAIL' });
  });

  it('positional params: ?0=TASKID&1[FIELD]=… and JSON array; named in documented order', async () => {
    const a = await fetch(
      `${sb.webhookUrl}task.commentitem.add?0=1&1[POST_MESSAGE]=${encodeURIComponent('first')}`,
    ).then((r) => r.json() as Promise<any>);
    expect(typeof a.result).toBe('number');
    const b = await postJson(sb.webhookUrl + 'task.checklistitem.add', [1, { TITLE: 'Item A' }]);
    expect(typeof b.body.result).toBe('number');
    const c = await postJson(sb.webhookUrl + 'task.checklistitem.add', { TASKID: 1, FIELDS: { TITLE: 'Item B' } });
    expect(typeof c.body.result).toBe('number');
    const list = await postJson(sb.webhookUrl + 'task.checklistitem.getlist', [1]);
    const titles = list.body.result.map((x: any) => x.TITLE);
    expect(titles).toEqual(expect.arrayContaining(['Item A', 'Item B']));
    const comments = await postJson(sb.webhookUrl + 'task.commentitem.getlist', { TASKID: 1 });
    expect(comments.body.result.map((x: any) => x.POST_MESSAGE)).toContain('first');
  });
});

describe('hostile input', () => {
  it('bracket keys cannot reach Object.prototype; garbage bodies get 400, the server keeps serving', async () => {
    await fetch(
      `${sb.webhookUrl}crm.deal.list?__proto__[polluted]=1&constructor[prototype][polluted]=1&filter[__proto__][x]=1`,
    );
    expect(({} as any).polluted).toBeUndefined();
    const bad = await fetch(sb.webhookUrl + 'crm.deal.add', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"fields":',
    });
    expect(bad.status).toBe(400);
    await bad.text();
    const odd = await fetch(`${sb.webhookUrl}crm.deal.list?filter[%ZZ]=1&select[=ID&[]=x`);
    expect(odd.status).toBe(200);
    await odd.text();
    expect((await get(sb.webhookUrl + 'server.time')).status).toBe(200);
  });
});

describe('error dialects', () => {
  it('legacy CRM: empty code, 400', async () => {
    const r = await get(sb.webhookUrl + 'crm.deal.get', { id: 0 });
    expect(r.status).toBe(400);
    expect(r.body).toEqual({ error: '', error_description: 'ID is not defined or invalid.' });
    const nf = await get(sb.webhookUrl + 'crm.deal.get', { id: 99999999 });
    expect(nf.status).toBe(400);
    expect(nf.body.error).toBe('');
    expect(nf.body.error_description).toBe('Not found');
    const bad = await postJson(sb.webhookUrl + 'crm.deal.update', { id: 1, fields: 'x' });
    expect(bad.body).toEqual({ error: '', error_description: "Parameter 'fields' must be array." });
  });

  it('D7: NOT_FOUND for crm.item.get, "100" for a missing parameter', async () => {
    const r = await postJson(sb.webhookUrl + 'crm.item.get', { entityTypeId: 2, id: 99999999 });
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('NOT_FOUND');
    const m = await postJson(sb.webhookUrl + 'crm.item.get', { id: 1 });
    expect(m.body).toEqual({ error: '100', error_description: 'Could not find value for parameter {entityTypeId}' });
  });

  it('REST 3.0: {error:{code,message,validation}}', async () => {
    const url = sb.webhookUrl.replace('/rest/', '/rest/api/') + 'tasks.task.get';
    const r = await postJson(url, {});
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('BITRIX_REST_V3_EXCEPTION_VALIDATION_REQUESTVALIDATIONEXCEPTION');
    expect(r.body.error.validation[0]).toEqual({ field: 'id', message: expect.any(String) });
  });

  it('filter with an unknown operation on crm.item.list → INVALID_ARG_VALUE', async () => {
    const r = await postJson(sb.webhookUrl + 'crm.item.list', { entityTypeId: 2, filter: { nosuchField: 1 } });
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('INVALID_ARG_VALUE');
    const o = await postJson(sb.webhookUrl + 'crm.item.list', { entityTypeId: 2, order: { id: 'SIDEWAYS' } });
    expect(o.body.error_description).toBe('Invalid order: allowed sort directions are ASC, DESC');
  });
});

describe('faults (control endpoint)', () => {
  it('injects 500, html and connection resets for the next N calls', async () => {
    await sb.admin.faults({ method: 'server.time', kind: '500', count: 1 });
    expect((await get(sb.webhookUrl + 'server.time')).status).toBe(500);
    expect((await get(sb.webhookUrl + 'server.time')).status).toBe(200);
    await sb.admin.faults({ method: 'server.time', kind: 'html', count: 1 });
    const h = await fetch(sb.webhookUrl + 'server.time');
    expect(h.status).toBe(502);
    expect(h.headers.get('content-type')).toMatch(/text\/html/);
    await h.text();
    await sb.admin.faults({ method: 'server.time', kind: 'reset', count: 1 });
    await expect(fetch(sb.webhookUrl + 'server.time')).rejects.toThrow();
    expect((await get(sb.webhookUrl + 'server.time')).status).toBe(200);
  });

  it('canned 503 / 429 / 401 answers for retry tests', async () => {
    await sb.admin.faults({ method: 'crm.deal.list', kind: '503', count: 1 });
    await sb.admin.faults({ method: 'crm.deal.get', kind: '429', count: 1 });
    await sb.admin.faults({ method: 'user.current', kind: '401', count: 1 });
    expect((await get(sb.webhookUrl + 'crm.deal.list')).body.error).toBe('QUERY_LIMIT_EXCEEDED');
    const r429 = await get(sb.webhookUrl + 'crm.deal.get', { id: 1 });
    expect(r429.status).toBe(429);
    expect(r429.body.error).toBe('OPERATION_TIME_LIMIT');
    const r401 = await get(sb.webhookUrl + 'user.current');
    expect(r401.status).toBe(401);
    expect(r401.body.error).toBe('expired_token');
    expect((await get(sb.webhookUrl + 'crm.deal.get', { id: 1 })).status).toBe(200);
  });

  it('reset_after performs the write, then drops the connection', async () => {
    const before = (await get(sb.webhookUrl + 'crm.lead.list', { select: ['ID'] })).body.total;
    await sb.admin.faults({ method: 'crm.lead.add', kind: 'reset_after', count: 1 });
    await expect(postJson(sb.webhookUrl + 'crm.lead.add', { fields: { TITLE: 'x' } })).rejects.toThrow();
    const after = (await get(sb.webhookUrl + 'crm.lead.list', { select: ['ID'] })).body.total;
    expect(after).toBe(before + 1);
  });

  it('stats count requests, statuses and writes per method', async () => {
    await sb.admin.resetStats();
    await get(sb.webhookUrl + 'crm.deal.list');
    await postJson(sb.webhookUrl + 'crm.deal.add', { fields: { TITLE: 's' } });
    await get(sb.webhookUrl + 'nope.nope');
    const s = await sb.admin.stats();
    expect(s.requests).toBe(3);
    expect(s.byMethod['crm.deal.list']).toBe(1);
    expect(s.writes['crm.deal.add']).toBe(1);
    expect(s.status['200']).toBe(2);
    expect(s.status['404']).toBe(1);
  });
});
