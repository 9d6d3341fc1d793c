/**
 * Limits and retries against the sandbox over real HTTP: 503 QUERY_LIMIT_EXCEEDED, 429 OPERATION_TIME_LIMIT,
 * network errors on reads and writes (with and without an idempotency key).
 * The sandbox clock runs faster than real time so that limit windows pass in a fraction of a second.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WebhookAuth } from '../../src/bitrix/auth/webhook.js';
import { B24Client } from '../../src/bitrix/client.js';
import { forgetLimiter, type LimiterConfig } from '../../src/bitrix/limiter/index.js';
import { NetworkError } from '../../src/bitrix/restErrors.js';
import { admin, type Sandbox, sandbox, stats } from './helpers.js';

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

async function setup(sbOpts: Record<string, unknown>, limiter: LimiterConfig) {
  const sb: Sandbox = await sandbox(sbOpts);
  open.push(sb);
  forgetLimiter(`webhook:${new URL(sb.baseUrl).host}`);
  const client = new B24Client({ auth: new WebhookAuth(sb.webhookUrl), limiter });
  open.push(client);
  return { sb, client };
}

describe('503 QUERY_LIMIT_EXCEEDED', () => {
  it('a client that assumes too generous limits trips 503, drains, learns the standard preset and completes', async () => {
    const { sb, client } = await setup(
      { plan: 'standard', clockFactor: 5 },
      { drain: 50, burst: 500, clockFactor: 5, operatingLimit: 0 },
    );
    const res = await Promise.all(Array.from({ length: 70 }, () => client.call('server.time')));
    expect(res).toHaveLength(70);
    const s = await stats(sb);
    expect(s.status['503'] ?? 0).toBeGreaterThan(0);
    expect(client.stats().status503).toBe(s.status['503']);
    expect(client.limiter.bucket.burst).toBe(50); // learned from the 503s
    expect(client.limiter.bucket.drain).toBe(2);
  });

  it('a client with the right preset sends the same load without a single 503', async () => {
    const { sb, client } = await setup(
      { plan: 'standard', clockFactor: 10 },
      { plan: 'standard', clockFactor: 10, operatingLimit: 0 },
    );
    const res = await Promise.all(Array.from({ length: 75 }, () => client.call('server.time')));
    expect(res).toHaveLength(75);
    expect((await stats(sb)).status['503'] ?? 0).toBe(0);
    expect(client.stats().status503).toBe(0);
    expect(client.stats().limiterWaitMs).toBeGreaterThan(0);
  });
});

describe('429 OPERATION_TIME_LIMIT', () => {
  // operating budget of 1 portal second per 10 portal minutes; the clock runs 600× (10 min = 1 s real)
  const sbOpts = { plan: 'unlimited', clockFactor: 600, operatingLimit: 1 };
  const load = (client: B24Client) =>
    Promise.all(Array.from({ length: 25 }, () => client.call('crm.deal.list', { select: ['ID'], start: 0 })));

  it('parks the method until operating_reset_at and completes every call', async () => {
    const { sb, client } = await setup(sbOpts, { drain: 1000, burst: 10000, clockFactor: 600, operatingLimit: 480 });
    const res = await load(client);
    expect(res.every((r) => Array.isArray(r.result))).toBe(true);
    const s = await stats(sb);
    expect(s.status['429'] ?? 0).toBeGreaterThan(0);
    expect(client.stats().status429).toBeGreaterThan(0);
  });

  it('a client that knows the budget paces the method and never receives 429', async () => {
    const { sb, client } = await setup(sbOpts, { drain: 1000, burst: 10000, clockFactor: 600, operatingLimit: 1 });
    const res = await load(client);
    expect(res).toHaveLength(25);
    expect((await stats(sb)).status['429'] ?? 0).toBe(0);
    expect(client.stats().status429).toBe(0);
    // other methods are not parked by crm.deal.list's budget
    await expect(client.call('server.time')).resolves.toBeDefined();
  });
});

describe('429 inside a batch', () => {
  const sbOpts = { plan: 'unlimited', clockFactor: 600, operatingLimit: 1 };
  const cmds = Array.from({ length: 20 }, () => ({ method: 'crm.deal.list', params: { select: ['ID'], start: 0 } }));

  it('resends the sub-calls the portal refused for their budget once the method is unparked', async () => {
    const { sb, client } = await setup(sbOpts, { drain: 1000, burst: 10000, clockFactor: 600, operatingLimit: 480 });
    await client.call('crm.deal.list', { select: ['ID'], start: 0 }); // learn the cost
    const res = await client.batch(cmds);
    expect(Object.keys(res.errors)).toHaveLength(0);
    expect(res.list().every((r) => Array.isArray(r))).toBe(true);
    expect(client.stats().status429).toBeGreaterThan(0);
    expect(res.requests).toBeGreaterThan(1);
    expect((await stats(sb)).status['429'] ?? 0).toBe(0); // refusals came inside the batch answer, HTTP 200
  });

  it('a client that knows the budget splits the batch by budget and never meets 429', async () => {
    const { client } = await setup(sbOpts, { drain: 1000, burst: 10000, clockFactor: 600, operatingLimit: 1 });
    await client.call('crm.deal.list', { select: ['ID'], start: 0 }); // learn the cost
    const res = await client.batch(cmds);
    expect(Object.keys(res.errors)).toHaveLength(0);
    expect(res.list().every((r) => Array.isArray(r))).toBe(true);
    expect(res.requests).toBeGreaterThan(1);
    expect(client.stats().status429).toBe(0);
  });
});

describe('network errors', () => {
  it('retries a read, never resends a write without an idempotency key, resends one with a key', async () => {
    const { sb, client } = await setup({ plan: 'unlimited' }, { drain: 1000, burst: 10000 });

    await admin(sb, '/sandbox/faults', { method: 'crm.deal.list', kind: 'reset', count: 1 });
    const read = await client.call('crm.deal.list', { select: ['ID'] });
    expect(Array.isArray(read.result)).toBe(true);
    expect(client.stats().retries).toBe(1);

    await admin(sb, '/sandbox/stats/reset', {});
    await admin(sb, '/sandbox/faults', { method: 'crm.deal.add', kind: 'reset', count: 1 });
    const before = client.stats().requests;
    await expect(client.call('crm.deal.add', { fields: { TITLE: 'no key' } })).rejects.toBeInstanceOf(NetworkError);
    expect(client.stats().requests - before).toBe(1);
    expect(client.stats().retries).toBe(1); // unchanged

    await admin(sb, '/sandbox/faults', { method: 'crm.deal.add', kind: 'reset', count: 1 });
    const withKey = await client.call<number>(
      'crm.deal.add',
      { fields: { TITLE: 'with key' } },
      { idempotencyKey: 'deal-with-key-1' },
    );
    expect(Number(withKey.result)).toBeGreaterThan(0);
    expect(client.stats().retries).toBe(2);

    await admin(sb, '/sandbox/faults', { method: 'crm.deal.list', kind: '500', count: 2 });
    await expect(client.call('crm.deal.list', { select: ['ID'] })).resolves.toBeDefined();
    await admin(sb, '/sandbox/faults', { method: 'crm.deal.update', kind: 'html', count: 1 });
    await expect(client.call('crm.deal.update', { id: 1, fields: { TITLE: 'x' } })).rejects.toMatchObject({
      dialect: 'http',
    });
  });
});

describe('REST 3.0 idempotency', () => {
  it('a write whose answer was lost is resent under its Idempotency-Key and runs once', async () => {
    const { sb, client } = await setup({ plan: 'unlimited' }, { drain: 1000, burst: 10000 });
    const fields = { title: 'idempotent task', responsibleId: 1 };

    // without a key: the portal ran the write, the answer was lost → error, no resend, one task
    await admin(sb, '/sandbox/faults', { method: 'tasks.task.add', kind: 'reset_after', count: 1 });
    await expect(client.call('tasks.task.add', { fields }, { version: 3 })).rejects.toBeInstanceOf(NetworkError);
    expect((await stats(sb)).writes['tasks.task.add']).toBe(1);

    // with a key: resent after the lost answer, the portal replays its cached answer — still one more task only
    await admin(sb, '/sandbox/faults', { method: 'tasks.task.add', kind: 'reset_after', count: 1 });
    const res = await client.call<{ item: { id: number } }>(
      'tasks.task.add',
      { fields: { ...fields, title: 'idempotent task 2' } },
      { version: 3, idempotencyKey: 'task-2' },
    );
    expect(res.result.item.id).toBeGreaterThan(0);
    expect((await stats(sb)).writes['tasks.task.add']).toBe(2);
    const again = await client.call<{ item: { id: number } }>(
      'tasks.task.add',
      { fields: { ...fields, title: 'idempotent task 2' } },
      { version: 3, idempotencyKey: 'task-2' },
    );
    expect(again.result.item.id).toBe(res.result.item.id);
    expect((await stats(sb)).writes['tasks.task.add']).toBe(2);
  });
});
