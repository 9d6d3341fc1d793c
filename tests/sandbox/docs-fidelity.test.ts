/**
 * Sandbox behaviours issue 13 item 4 asks for beyond the documented examples' shapes: REST 3.0 task fields and
 * relations with `select`, `tasks.task.list` params, the REST 3.0 batch envelope, the expired token on REST 3.0,
 * and "not emulated" instead of a fake success. Over real HTTP, in the forms the docs show.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SandboxHandle, startSandbox } from '../../src/sandbox/index.js';
import { expectShape, ISO, postJson, TIME_SHAPE } from './helpers.js';

let sb: SandboxHandle;
let v3url: string;
beforeAll(async () => {
  sb = await startSandbox({ plan: 'unlimited', quiet: true, size: 50 });
  v3url = sb.webhookUrl.replace('/rest/', '/rest/api/');
});
afterAll(() => sb.close());

describe('REST 3.0 task fields (fields-rest-v3.md)', () => {
  it('get answers the documented names (created, changed, closed, …) typed; select picks own fields and relations', async () => {
    const add = await postJson(v3url + 'tasks.task.add', {
      fields: { title: 'Docs task', responsibleId: 2, needsControl: true, crmItemIds: ['D_1'] },
    });
    expect(add.status).toBe(200);
    const id = add.body.result.item.id;
    const full = (await postJson(v3url + 'tasks.task.get', { id })).body.result.item;
    expectShape(full, {
      id: 'number',
      title: 'string',
      created: 'string',
      changed: 'string',
      closed: 'null',
      statusChanged: 'string|null',
      needsControl: 'boolean',
      crmItemIds: 'array',
      rights: 'object',
      checklist: 'array',
      link: 'string',
      scenarios: 'array',
    });
    expect(full.created).toMatch(ISO);
    expect(full).toMatchObject({ needsControl: true, crmItemIds: ['D_1'], responsibleId: 2 });
    expect(full).not.toHaveProperty('createdDate');
    const picked = (await postJson(v3url + 'tasks.task.get', { id, select: ['title', 'created', 'responsible.name'] }))
      .body.result.item;
    expect(Object.keys(picked).sort()).toEqual(['created', 'id', 'responsible', 'title']);
    expect(picked.responsible).toEqual({ name: expect.any(String) });
    const rel = (await postJson(v3url + 'tasks.task.get', { id, select: ['responsible.name', 'responsible.email'] }))
      .body.result.item;
    expect(rel).toMatchObject({ id, title: 'Docs task', responsible: { name: expect.any(String) } });
    const bad = await postJson(v3url + 'tasks.task.get', { id, select: ['responsible.nope'] });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('BITRIX_REST_V3_EXCEPTION_VALIDATION_REQUESTVALIDATIONEXCEPTION');
    const done = await postJson(v3url + 'tasks.task.update', { id, fields: { status: 'completed' } });
    expect(done.body.result).toEqual({ result: true });
    expect((await postJson(v3url + 'tasks.task.get', { id, select: ['closed'] })).body.result.item.closed).toMatch(ISO);
    const list = await postJson(v3url + 'tasks.task.list', {
      filter: [['created', '>=', full.created]],
      select: ['id'],
    });
    expect(list.body.result.items.map((t: any) => t.id)).toContain(id);
  });
});

describe('tasks.task.* (v1) documented members', () => {
  it('get carries guid, commentsCount, action, checkListTree; list honours WITH_*_INFO and COUNTERS', async () => {
    const task = (await postJson(sb.webhookUrl + 'tasks.task.get', { taskId: 1 })).body.result.task;
    expectShape(task, {
      guid: 'string',
      commentsCount: 'string',
      siteId: 'string',
      action: 'object',
      checkListTree: 'object',
      checkListCanAdd: 'boolean',
      group: 'object|array',
      ufMailMessage: 'null',
    });
    const list = await postJson(sb.webhookUrl + 'tasks.task.list', {
      select: ['ID', 'TITLE', 'COUNTERS'],
      params: { WITH_RESULT_INFO: 'Y', WITH_TIMER_INFO: 'Y', WITH_PARSED_DESCRIPTION: 'Y' },
    });
    expectShape(list.body.result.tasks[0], {
      taskRequireResult: 'string',
      timerIsRunningForCurrentUser: 'string',
      parsedDescription: 'string',
      counter: 'object',
    });
    const fields = (await postJson(sb.webhookUrl + 'tasks.task.getFields', {})).body.result.fields;
    expect(fields.ID.primary).toBe(true);
    expect(fields.PRIORITY).toMatchObject({ type: 'enum', default: 1 });
  });
});

describe('REST 3.0 envelope and auth', () => {
  it('batch: a bare array, result in order, time with the operating fields; the cmd form is refused', async () => {
    const r = await postJson(v3url + 'batch', [
      { method: 'tasks.task.get', query: { id: 1, select: ['id', 'title'] } },
      { method: 'tasks.task.get', query: { id: 2, select: ['id', 'title'] } },
    ]);
    expect(r.status).toBe(200);
    expect(r.body.result.map((x: any) => x.item.id)).toEqual([1, 2]);
    expectShape(r.body.time, TIME_SHAPE);
    const old = await postJson(v3url + 'batch', { cmd: { a: 'tasks.task.get?id=1' } });
    expect(old.status).toBe(400);
    expect(old.body.error.code).toBe('BITRIX_REST_V3_EXCEPTION_INVALIDSELECTEXCEPTION');
  });

  it('an expired token answers expired_token on REST 3.0 as on v2 (auth in the body, or the query for batch)', async () => {
    const t = await sb.oauthApp.install();
    await sb.admin.expireTokens();
    const v2 = await postJson(`${sb.baseUrl}/rest/tasks.task.get`, { taskId: 1, auth: t.access_token });
    expect(v2.status).toBe(401);
    expect(v2.body.error).toBe('expired_token');
    const v3 = await postJson(`${sb.baseUrl}/rest/api/tasks.task.get`, { id: 1, auth: t.access_token });
    expect(v3.status).toBe(401);
    expect(v3.body.error.code).toBe('expired_token');
    const batch = await postJson(`${sb.baseUrl}/rest/api/batch?auth=${t.access_token}`, [
      { method: 'tasks.task.get', query: { id: 1 } },
    ]);
    expect(batch.status).toBe(401);
    expect(batch.body.error.code).toBe('expired_token');
  });
});
