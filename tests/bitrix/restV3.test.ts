/**
 * REST 3.0 routing of the client against the sandbox over real HTTP: catalog `rest_v3` methods go over `/rest/api/`
 * with an Idempotency-Key, a lost answer is replayed under the same key, a portal without REST 3.0 falls back to
 * REST 2 once per method and is remembered; `call --idempotency-key` without a REST 3.0 route is refused.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebhookAuth } from '../../src/bitrix/auth/webhook.js';
import { B24Client } from '../../src/bitrix/client.js';
import { B24Error, MethodNotFound } from '../../src/bitrix/restErrors.js';
import { isV3Missing, toV3Call, type V3Memory } from '../../src/bitrix/restV3.js';
import { admin, type Sandbox, sandbox, tmp } from './helpers.js';

interface V3Stats {
  requests: number;
  byMethod: Record<string, number>;
  writes: Record<string, number>;
  v3: { requests: number; keyed: number; byMethod: Record<string, number> };
}
const stats = (sb: Sandbox): Promise<V3Stats> => admin(sb, '/sandbox/stats');
const memory = (): V3Memory => {
  const s = new Set<string>();
  return { isV2Only: (p, m) => s.has(`${p}|${m}`), rememberV2Only: (p, m) => void s.add(`${p}|${m}`) };
};
const fields = { TITLE: 'v3 routed', RESPONSIBLE_ID: 1 };

describe('REST 3.0 routing', () => {
  let sb: Sandbox;
  let client: B24Client;
  beforeAll(async () => {
    sb = await sandbox();
    client = new B24Client({ auth: new WebhookAuth(sb.webhookUrl), v3Memory: memory(), maxRetries: 2 });
  });
  afterAll(async () => {
    await client?.close();
    await sb?.close();
  });

  it('sends tasks.task.add over /rest/api/ with an Idempotency-Key and answers in the REST 2 shape', async () => {
    await admin(sb, '/sandbox/stats/reset', {});
    const r = await client.call<{ task: { id: number; title: string } }>('tasks.task.add', { fields });
    expect(r.result.task.title).toBe('v3 routed');
    expect(Number(r.result.task.id)).toBeGreaterThan(0);
    const s = await stats(sb);
    expect(s.v3).toEqual({ requests: 1, keyed: 1, byMethod: { 'tasks.task.add': 1 } });
    expect(client.stats().restV3).toEqual({ calls: 1, fallbacks: 0 });
    // update and list as well (a read carries no key); params without a REST 3.0 form stay on REST 2
    await client.call('tasks.task.update', { taskId: r.result.task.id, fields: { TITLE: 'renamed' } });
    const listed = await client.call<{ tasks: Array<{ id: string; title: string }> }>('tasks.task.list', {
      filter: { ID: r.result.task.id },
      select: ['ID', 'TITLE'],
    });
    expect(listed.result.tasks).toEqual([{ id: String(r.result.task.id), title: 'renamed' }]);
    await client.call('tasks.task.add', { fields: { ...fields, UF_CRM_TASK: ['D_1'] } });
    const s2 = await stats(sb);
    expect(s2.v3.byMethod).toEqual({ 'tasks.task.add': 1, 'tasks.task.update': 1, 'tasks.task.list': 1 });
    expect(s2.v3.keyed).toBe(2);
    expect(s2.requests - s2.v3.requests).toBe(1);
  });

  it('lists tasks by keyset over REST 3.0 pagination: the same rows as REST 2, one request per 50', async () => {
    const v2 = new B24Client({ auth: new WebhookAuth(sb.webhookUrl), restV3: false });
    try {
      const ids = async (c: B24Client) => {
        const out: string[] = [];
        for await (const t of c.list<{ id: string }>('tasks.task.list', { select: ['ID', 'TITLE'] })) out.push(t.id);
        return out;
      };
      const want = await ids(v2);
      expect(want.length).toBeGreaterThan(50);
      await admin(sb, '/sandbox/stats/reset', {});
      expect(await ids(client)).toEqual(want);
      const s = await stats(sb);
      expect(s.v3.byMethod['tasks.task.list']).toBe(Math.floor(want.length / 50) + 1);
      expect(s.requests).toBe(s.v3.requests);
    } finally {
      await v2.close();
    }
  });

  it('resends a write whose answer was lost under the same key: the portal replays it, one record', async () => {
    await admin(sb, '/sandbox/stats/reset', {});
    await admin(sb, '/sandbox/faults', { method: 'tasks.task.add', kind: 'reset_after', count: 1 });
    const r = await client.call<{ task: { id: number } }>('tasks.task.add', {
      fields: { ...fields, TITLE: 'lost once' },
    });
    const s = await stats(sb);
    expect(s.v3.requests).toBe(2); // the lost one and its resend
    expect(s.v3.keyed).toBe(2);
    expect(s.writes['tasks.task.add']).toBe(1); // the resend was replayed, not run
    const found = await client.call<{ tasks: unknown[] }>('tasks.task.list', { filter: { TITLE: 'lost once' } });
    expect(found.result.tasks).toHaveLength(1);
    expect(Number(r.result.task.id)).toBeGreaterThan(0);
  });

  it('batchV3: one REST 3.0 batch with one key, per-command results and typed errors', async () => {
    await admin(sb, '/sandbox/stats/reset', {});
    const r = await client.batchV3([
      ['a', { method: 'tasks.task.add', params: { fields: { ...fields, TITLE: 'batched' } } }],
      ['b', { method: 'tasks.task.add', params: { fields: { TITLE: 'no responsible' } } }],
    ]);
    if (!r) throw new Error('expected a REST 3.0 batch answer');
    expect((r.results.a as { task: { title: string } }).task.title).toBe('batched');
    expect(r.errors.b).toBeInstanceOf(B24Error);
    expect(r.errors.b?.code).toMatch(/VALIDATION/);
    const s = await stats(sb);
    expect(s.v3).toEqual({ requests: 1, keyed: 1, byMethod: { batch: 1 } });
    // a command without a REST 3.0 form: nothing sent, the caller uses REST 2
    expect(await client.batchV3([['c', { method: 'crm.deal.add', params: { fields: {} } }]])).toBeUndefined();
  });

  it('translates only what has a REST 3.0 form', () => {
    expect(toV3Call('tasks.task.add', { fields: { TITLE: 'a', RESPONSIBLE_ID: 1, STATUS: 2 } })?.params).toEqual({
      fields: { title: 'a', responsibleId: 1, status: 'pending' },
    });
    expect(toV3Call('tasks.task.update', { taskId: '5', fields: { DEADLINE: 'x' } })?.params).toEqual({
      id: 5,
      fields: { deadline: 'x' },
    });
    expect(toV3Call('tasks.task.add', { fields: { UF_X: 1 } })).toBeUndefined();
    expect(toV3Call('crm.deal.add', { fields: {} })).toBeUndefined();
    expect(
      isV3Missing(new MethodNotFound({ code: 'ERROR_METHOD_NOT_FOUND', status: 404, method: 'x', dialect: 'system' })),
    ).toBe(true);
  });
});

describe('a portal without REST 3.0', () => {
  let sb: Sandbox;
  let client: B24Client;
  beforeAll(async () => {
    sb = await sandbox({ restV3: false });
    client = new B24Client({ auth: new WebhookAuth(sb.webhookUrl), v3Memory: memory() });
  });
  afterAll(async () => {
    await client?.close();
    await sb?.close();
  });

  it('falls back to REST 2 once and goes straight to REST 2 afterwards', async () => {
    await admin(sb, '/sandbox/stats/reset', {});
    for (let i = 0; i < 3; i++) await client.call('tasks.task.add', { fields: { ...fields, TITLE: `fb ${i}` } });
    const s = await stats(sb);
    expect(s.v3.requests).toBe(1); // the one that found REST 3.0 missing
    expect(s.requests).toBe(4); // + 3 over REST 2
    expect(s.writes['tasks.task.add']).toBe(3);
    expect(client.stats().restV3).toEqual({ calls: 1, fallbacks: 1 });
    expect(client.routeOf('tasks.task.add', { fields })).toBe(2);
  });
});

describe('b24flow call --idempotency-key', () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = await sandbox();
  });
  afterAll(async () => {
    await sb?.close();
  });
  const bin = join(import.meta.dirname, '..', '..', 'bin', 'b24flow.js');
  /** The CLI as a real process (async: the sandbox lives in this process). */
  const cli = (...args: string[]): Promise<{ status: number; stdout: string; stderr: string }> =>
    new Promise((resolve) => {
      const dir = tmp('b24flow-v3-cli-');
      const child = spawn(process.execPath, [bin, 'call', ...args], {
        cwd: dir,
        env: { PATH: process.env.PATH ?? '', HOME: dir, B24FLOW_DATA_DIR: dir, BITRIX_WEBHOOK_URL: sb.webhookUrl },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => {
        stdout += d;
      });
      child.stderr.on('data', (d) => {
        stderr += d;
      });
      child.on('close', (code) => resolve({ status: code ?? -1, stdout, stderr }));
    });

  it('refuses a key on a method without a REST 3.0 route', async () => {
    const r = await cli(
      'crm.deal.add',
      '--params',
      '{"fields":{"TITLE":"x"}}',
      '--confirm-write',
      '--idempotency-key',
      'k1',
    );
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('has no REST 3.0 route; the key would do nothing');
  });

  it('sends the key with a REST 3.0 method', async () => {
    await admin(sb, '/sandbox/stats/reset', {});
    const args = ['tasks.task.add', '--params', JSON.stringify({ fields }), '--confirm-write'];
    const a = await cli(...args, '--idempotency-key', 'cli-key-1');
    expect(a.status, a.stderr).toBe(0);
    const b = await cli(...args, '--idempotency-key', 'cli-key-1');
    expect(b.status, b.stderr).toBe(0);
    expect(JSON.parse(b.stdout)).toEqual(JSON.parse(a.stdout)); // replayed
    const s = await stats(sb);
    expect(s.v3.keyed).toBe(2);
    expect(s.writes['tasks.task.add']).toBe(1);
  });
});

describe('b24flow sandbox --no-rest-v3', () => {
  it('serves a portal whose /rest/api/ answers 404 ERROR_METHOD_NOT_FOUND while REST 2 works', async () => {
    const bin = join(import.meta.dirname, '..', '..', 'bin', 'b24flow.js');
    const child = spawn(process.execPath, [bin, 'sandbox', '--no-rest-v3', '--quiet', '--plan', 'unlimited']);
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d) => {
          out += d;
          const m = /^BITRIX_WEBHOOK_URL=(\S+)$/m.exec(out);
          if (m) resolve(m[1]!);
        });
        child.once('exit', (code) => reject(new Error(`sandbox exited ${code}`)));
      });
      const v3 = await fetch(url.replace('/rest/', '/rest/api/') + 'tasks.task.list', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      expect(v3.status).toBe(404);
      expect(((await v3.json()) as { error: string }).error).toBe('ERROR_METHOD_NOT_FOUND');
      const v2 = await fetch(`${url}tasks.task.list`, { method: 'POST' });
      expect(v2.status).toBe(200);
    } finally {
      child.kill('SIGTERM');
    }
  });
});
