/**
 * tasks.task.* (v1 wrappers, camelCase strings), REST 3.0 tasks with Idempotency-Key replay, and batch
 * (≤ 50, halt, $result references, result_* sections, nested batch refused) as batch.md shows them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SandboxHandle, startSandbox } from '../../src/sandbox/index.js';
import { expectShape, get, ISO, postForm, postJson, TIME_SHAPE } from './helpers.js';

let sb: SandboxHandle;
let v3url: string;
beforeAll(async () => {
  sb = await startSandbox({ plan: 'unlimited', quiet: true, size: 400 });
  v3url = sb.webhookUrl.replace('/rest/', '/rest/api/');
});
afterAll(() => sb.close());

const TASK_SHAPE = {
  id: 'string',
  title: 'string',
  description: 'string',
  status: 'string',
  priority: 'string',
  responsibleId: 'string',
  createdBy: 'string',
  createdDate: 'string',
  changedDate: 'string',
  deadline: 'string|null',
  groupId: 'string',
  accomplices: 'array',
  auditors: 'array',
  creator: 'object',
  responsible: 'object',
  ufCrmTask: 'array',
};

describe('tasks.task.* (v1)', () => {
  it('add → {task} with camelCase string values; get → {task}; update; complete; delete → {task: true}', async () => {
    const add = await postJson(sb.webhookUrl + 'tasks.task.add', {
      fields: {
        TITLE: 'Call the client',
        RESPONSIBLE_ID: 2,
        DEADLINE: '2030-05-01T18:00:00+03:00',
        UF_CRM_TASK: ['D_5'],
      },
    });
    expect(add.status).toBe(200);
    expectShape(add.body.result.task, TASK_SHAPE);
    expect(add.body.result.task.deadline).toMatch(ISO);
    expect(add.body.result.task.ufCrmTask).toEqual(['D_5']);
    expectShape(add.body.result.task.creator, {
      id: 'string',
      name: 'string',
      link: 'string',
      icon: 'string',
      workPosition: 'string',
    });
    const id = add.body.result.task.id;
    const got = await get(sb.webhookUrl + 'tasks.task.get', { taskId: id });
    expect(got.body.result.task.title).toBe('Call the client');
    const up = await postJson(sb.webhookUrl + 'tasks.task.update', {
      taskId: id,
      fields: { TITLE: 'Call again', PRIORITY: 2 },
    });
    expect(up.body.result.task).toMatchObject({ title: 'Call again', priority: '2' });
    const done = await postJson(sb.webhookUrl + 'tasks.task.complete', { taskId: id });
    expect(done.body.result.task.status).toBe('5');
    expect(done.body.result.task.closedDate).toMatch(ISO);
    const del = await postJson(sb.webhookUrl + 'tasks.task.delete', { taskId: id });
    expect(del.body.result).toEqual({ task: true });
  });

  it('add without TITLE / responsible fails; get of a missing task fails; missing taskId → "100"', async () => {
    const a = await postJson(sb.webhookUrl + 'tasks.task.add', { fields: { RESPONSIBLE_ID: 1 } });
    expect(a.status).toBe(400);
    const b = await postJson(sb.webhookUrl + 'tasks.task.add', { fields: { TITLE: 'x' } });
    expect(b.status).toBe(400);
    const c = await get(sb.webhookUrl + 'tasks.task.get', { taskId: 9999999 });
    expect(c.status).toBe(400);
    const d = await get(sb.webhookUrl + 'tasks.task.get');
    expect(d.body.error).toBe('100');
  });

  it('list → {tasks} + total + next, filter REAL_STATUS / RESPONSIBLE_ID, select, order', async () => {
    const r = await postJson(sb.webhookUrl + 'tasks.task.list', {
      filter: { REAL_STATUS: 2 },
      select: ['ID', 'TITLE', 'STATUS', 'RESPONSIBLE_ID'],
      order: { ID: 'asc' },
    });
    expect(Array.isArray(r.body.result.tasks)).toBe(true);
    expect(typeof r.body.total).toBe('number');
    for (const t of r.body.result.tasks) expect(t.status).toBe('2');
    const ids = r.body.result.tasks.map((t: any) => Number(t.id));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    const all = await postJson(sb.webhookUrl + 'tasks.task.list', { select: ['ID'] });
    expect(all.body.result.tasks).toHaveLength(50);
    expect(all.body.next).toBe(50);
    const mine = await postJson(sb.webhookUrl + 'tasks.task.list', {
      filter: { RESPONSIBLE_ID: 2 },
      select: ['ID', 'RESPONSIBLE_ID'],
    });
    expect(mine.body.result.tasks.every((t: any) => t.responsibleId === '2')).toBe(true);
  });
});

describe('REST 3.0 tasks', () => {
  it('add → {item} typed; get → {item}; list → {items} without total; update/delete → {result: true}', async () => {
    const add = await postJson(v3url + 'tasks.task.add', {
      fields: { title: 'V3 task', responsibleId: 1, priority: 'high' },
    });
    expect(add.status).toBe(200);
    expectShape(add.body.result.item, {
      id: 'number',
      title: 'string',
      responsibleId: 'number',
      creatorId: 'number',
      status: 'string',
      priority: 'string',
    });
    expect(add.body.result.item).toMatchObject({ status: 'pending', priority: 'high' });
    expectShape(add.body.time, TIME_SHAPE);
    const id = add.body.result.item.id;
    const got = await postJson(v3url + 'tasks.task.get', { id, select: ['id', 'title'] });
    expect(got.body.result.item).toEqual({ id, title: 'V3 task' });
    const list = await postJson(v3url + 'tasks.task.list', {
      filter: [
        ['responsibleId', '=', 1],
        ['id', '>=', id],
      ],
      order: { id: 'desc' },
      pagination: { limit: 5 },
      select: ['id', 'title', 'status'],
    });
    expect(list.body.total).toBeUndefined();
    expect(list.body.result.items[0]).toMatchObject({ id, title: 'V3 task' });
    const up = await postJson(v3url + 'tasks.task.update', { id, fields: { status: 'completed' } });
    expect(up.body.result).toEqual({ result: true });
    expect((await postJson(sb.webhookUrl + 'tasks.task.get', { taskId: id })).body.result.task.status).toBe('5');
    expect((await postJson(v3url + 'tasks.task.delete', { id })).body.result).toEqual({ result: true });
    const gone = await postJson(v3url + 'tasks.task.get', { id });
    expect(gone.body.error.code).toBe('BITRIX_REST_V3_EXCEPTION_ENTITYNOTFOUNDEXCEPTION');
  });

  it('accepts JSON only; params are not read from the query string; unknown filter operator', async () => {
    const form = await postForm(v3url + 'tasks.task.get', { id: 1 });
    expect(form.status).toBe(400);
    expect(form.body.error.code).toBe('BITRIX_REST_V3_EXCEPTION_INVALIDJSONEXCEPTION');
    const q = await get(v3url + 'tasks.task.get', { id: 1 });
    expect(q.body.error.code).toBe('BITRIX_REST_V3_EXCEPTION_VALIDATION_REQUESTVALIDATIONEXCEPTION');
    const op = await postJson(v3url + 'tasks.task.list', { filter: [['id', 'like', 1]] });
    expect(op.body.error.code).toBe('BITRIX_REST_V3_EXCEPTION_UNKNOWNFILTEROPERATOREXCEPTION');
  });

  it('Idempotency-Key: replay returns the cached answer with Idempotent-Replayed, no second write; reuse with another body → 422', async () => {
    const before = (await postJson(sb.webhookUrl + 'tasks.task.list', { select: ['ID'] })).body.total;
    const body = { fields: { title: 'Once only', responsibleId: 1 } };
    const a = await postJson(v3url + 'tasks.task.add', body, { 'Idempotency-Key': 'key-123' });
    const b = await postJson(v3url + 'tasks.task.add', body, { 'Idempotency-Key': 'key-123' });
    expect(b.status).toBe(200);
    expect(b.headers.get('idempotent-replayed')).toBe('true');
    expect(b.body.result.item.id).toBe(a.body.result.item.id);
    const after = (await postJson(sb.webhookUrl + 'tasks.task.list', { select: ['ID'] })).body.total;
    expect(after).toBe(before + 1);
    const c = await postJson(
      v3url + 'tasks.task.add',
      { fields: { title: 'Other', responsibleId: 1 } },
      { 'Idempotency-Key': 'key-123' },
    );
    expect(c.status).toBe(422);
    expect(c.body.error.code).toBe('BITRIX_REST_V3_EXCEPTION_IDEMPOTENCYKEYREUSEDEXCEPTION');
  });

  it('rest.scope.list maps the v3 methods to their scope (parameterless GET allowed)', async () => {
    const r = await get(v3url + 'rest.scope.list');
    expect(r.status).toBe(200);
    expect(r.body.result.items).toContainEqual({ method: 'tasks.task.add', scope: 'tasks' });
  });

  it('v3-only names under v1 keep their v1 meaning; unknown v3 method → 404', async () => {
    const v1 = await postJson(sb.webhookUrl + 'tasks.task.get', { taskId: 1 });
    expect(v1.body.result.task.id).toBe('1');
    const nf = await postJson(v3url + 'crm.deal.list', {});
    expect(nf.status).toBe(404);
  });
});

describe('batch', () => {
  it('the docs example: user.current then department.get?ID=$result[get_user][UF_DEPARTMENT][0]', async () => {
    const r = await postJson(sb.webhookUrl + 'batch', {
      halt: 0,
      cmd: { get_user: 'user.current', get_department: 'department.get?ID=$result[get_user][UF_DEPARTMENT][0]' },
    });
    expect(r.status).toBe(200);
    const res = r.body.result;
    expect(res.result.get_user.ID).toBe('1');
    expect(res.result.get_department[0].ID).toBe(String(res.result.get_user.UF_DEPARTMENT[0]));
    expect(res.result_error).toEqual([]);
    expect(res.result_total).toEqual({ get_department: 1 });
    expect(res.result_next).toEqual([]);
    expectShape(res.result_time.get_user, {
      start: 'number',
      finish: 'number',
      duration: 'number',
      processing: 'number',
      date_start: 'string',
      date_finish: 'string',
    });
  });

  it('the HTTP (query string) form with double-encoded sub-queries', async () => {
    const url = `${sb.webhookUrl}batch?halt=0&cmd[get_user]=user.current%3F&cmd[get_department]=department.get%3FID%3D%2524result%255Bget_user%255D%255BUF_DEPARTMENT%255D`;
    const r = await fetch(url).then((x) => x.json() as Promise<any>);
    expect(r.result.result.get_department[0].ID).toBe(String(r.result.result.get_user.UF_DEPARTMENT[0]));
  });

  it('chains a keyset export: >ID = $result[prev][49][ID], start=-1', async () => {
    const cmd: Record<string, string> = { p0: 'crm.deal.list?order[ID]=ASC&filter[>ID]=0&start=-1&select[]=ID' };
    for (let i = 1; i < 4; i++)
      cmd[`p${i}`] = `crm.deal.list?order[ID]=ASC&filter[>ID]=$result[p${i - 1}][49][ID]&start=-1&select[]=ID`;
    const r = await postJson(sb.webhookUrl + 'batch', { halt: 1, cmd });
    const ids = ['p0', 'p1', 'p2', 'p3'].flatMap((k) => r.body.result.result[k].map((d: any) => Number(d.ID)));
    expect(ids).toHaveLength(200);
    expect(new Set(ids).size).toBe(200);
    expect(ids[199]).toBe(200);
    expect(r.body.result.result_total).toEqual({ p0: 0, p1: 0, p2: 0, p3: 0 });
  });

  it('errors per command (halt=0 runs on, halt=1 stops), nested batch refused, result_next for lists', async () => {
    const cmd = { a: 'crm.deal.get?id=999999', b: 'batch?cmd[x]=server.time', c: 'crm.deal.list?select[]=ID' };
    const r0 = await postJson(sb.webhookUrl + 'batch', { halt: 0, cmd });
    expect(r0.body.result.result_error.a).toEqual({ error: '', error_description: 'Not found' });
    expect(r0.body.result.result_error.b.error).toBe('ERROR_BATCH_METHOD_NOT_ALLOWED');
    expect(r0.body.result.result.c).toHaveLength(50);
    expect(r0.body.result.result_next).toEqual({ c: 50 });
    const r1 = await postJson(sb.webhookUrl + 'batch', { halt: 1, cmd });
    expect(Object.keys(r1.body.result.result_error)).toEqual(['a']);
    expect(r1.body.result.result).toEqual([]);
  });

  it('more than 50 commands → ERROR_BATCH_LENGTH_EXCEEDED', async () => {
    const cmd = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`c${i}`, 'server.time']));
    const r = await postJson(sb.webhookUrl + 'batch', { cmd });
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('ERROR_BATCH_LENGTH_EXCEEDED');
  });

  it('sub-calls re-check scopes: insufficient_scope with an empty description', async () => {
    const { webhookUrl } = await sb.admin.webhook({ scopes: ['task'] });
    const r = await postJson(webhookUrl + 'batch', {
      halt: 0,
      cmd: { get_user: 'user.current', deals: 'crm.deal.list' },
    });
    expect(r.body.result.result).toEqual([]);
    expect(r.body.result.result_error.deals).toEqual({ error: 'insufficient_scope', error_description: '' });
    const direct = await get(webhookUrl + 'crm.deal.list');
    expect(direct.status).toBe(403);
    expect(direct.body.error).toBe('insufficient_scope');
    expect((await get(webhookUrl + 'tasks.task.list')).status).toBe(200);
  });

  it('list cmd (array) gives array sections', async () => {
    const r = await postJson(sb.webhookUrl + 'batch', { cmd: ['server.time', 'user.current'] });
    expect(Array.isArray(r.body.result.result)).toBe(true);
    expect(r.body.result.result[1].ID).toBe('1');
  });

  it('REST 3.0 batch: a bare array of {method, query}, results in order', async () => {
    const r = await postJson(v3url + 'batch', [
      { method: 'tasks.task.get', query: { id: 1 } },
      { method: 'tasks.task.get', query: { id: 2 } },
    ]);
    expect(r.body.result.map((x: any) => x.item.id)).toEqual([1, 2]);
  });
});
