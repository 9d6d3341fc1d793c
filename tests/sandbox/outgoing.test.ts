/** Outgoing webhooks (events without an app: auth carries no tokens) on a webhook-only portal. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type SandboxHandle, startSandbox } from '../../src/sandbox/index.js';
import { postJson } from './helpers.js';

let sb: SandboxHandle;
let receiver: Server;
const got: URLSearchParams[] = [];
beforeAll(async () => {
  receiver = createServer((req, res) => {
    let d = '';
    req.on('data', (c) => {
      d += c;
    });
    req.on('end', () => {
      got.push(new URLSearchParams(d));
      res.end('ok');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
  sb = await startSandbox({ plan: 'unlimited', quiet: true, size: 20 });
});
afterAll(async () => {
  await sb.close();
  await new Promise((r) => receiver.close(r));
});

it('posts ONCRMLEADADD with domain, endpoints, member_id and the webhook application_token — no access_token', async () => {
  const handler = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/in`;
  const hook = await sb.admin.outgoingWebhook({ event: 'ONCRMLEADADD', handler });
  const id = (await postJson(sb.webhookUrl + 'crm.lead.add', { fields: { TITLE: 'From site' } })).body.result;
  await sb.admin.drainEvents();
  expect(got).toHaveLength(1);
  const b = got[0]!;
  expect(b.get('event')).toBe('ONCRMLEADADD');
  expect(b.get('data[FIELDS][ID]')).toBe(String(id));
  expect(b.get('auth[application_token]')).toBe(hook.applicationToken);
  expect(b.get('auth[member_id]')).toBe(sb.oauthApp.memberId);
  expect(b.get('auth[domain]')).toBe(new URL(sb.baseUrl).host);
  expect(b.get('auth[access_token]')).toBeNull();
  expect(b.get('auth[refresh_token]')).toBeNull();
});

it('crm.item.* with useOriginalUfNames=Y prints UF_CRM_… names, =N the camel ufCrm_… form', async () => {
  const y = await postJson(sb.webhookUrl + 'crm.item.get', { entityTypeId: 2, id: 1, useOriginalUfNames: 'Y' });
  expect(y.body.result.item).toHaveProperty('UF_CRM_1700000000001');
  const n = await postJson(sb.webhookUrl + 'crm.item.get', { entityTypeId: 2, id: 1 });
  expect(n.body.result.item).toHaveProperty('ufCrm_1700000000001');
  expect(n.body.result.item).not.toHaveProperty('UF_CRM_1700000000001');
});

it('start is turned into a page number: start=30 reads the first page, next=50', async () => {
  const r = await postJson(sb.webhookUrl + 'crm.lead.list', { start: 30, select: ['ID'], order: { ID: 'ASC' } });
  expect(r.body.result[0].ID).toBe('1');
  expect(r.body.next).toBe(50);
});

it('PHONE/EMAIL filters match multifield values; crm.duplicate.findbycomm finds leads and contacts by phone', async () => {
  const lead = (
    await postJson(sb.webhookUrl + 'crm.lead.add', {
      fields: { TITLE: 'Dup', PHONE: [{ VALUE: '+7 (999) 123-45-67', VALUE_TYPE: 'WORK' }] },
    })
  ).body.result;
  const contact = (
    await postJson(sb.webhookUrl + 'crm.contact.add', {
      fields: {
        NAME: 'Dup',
        PHONE: [{ VALUE: '89991234567', VALUE_TYPE: 'MOBILE' }],
        EMAIL: [{ VALUE: 'dup@example.com' }],
      },
    })
  ).body.result;
  const byEmail = await postJson(sb.webhookUrl + 'crm.contact.list', {
    filter: { EMAIL: 'dup@example.com' },
    select: ['ID'],
  });
  expect(byEmail.body.result.map((c: any) => Number(c.ID))).toEqual([contact]);
  const like = await postJson(sb.webhookUrl + 'crm.lead.list', { filter: { '%PHONE': '123-45' }, select: ['ID'] });
  expect(like.body.result.map((c: any) => Number(c.ID))).toEqual([lead]);
  const dup = await postJson(sb.webhookUrl + 'crm.duplicate.findbycomm', { type: 'PHONE', values: ['+79991234567'] });
  expect(dup.body.result).toEqual({ LEAD: [lead], CONTACT: [contact] });
  const none = await postJson(sb.webhookUrl + 'crm.duplicate.findbycomm', {
    type: 'EMAIL',
    values: ['nobody@nowhere.test'],
  });
  expect(none.body.result).toEqual([]);
});

it('data is deterministic per seed, realistic and bilingual (Russian and English)', async () => {
  const a = await startSandbox({ plan: 'unlimited', quiet: true, size: 120, seed: 42 });
  const b = await startSandbox({ plan: 'unlimited', quiet: true, size: 120, seed: 42 });
  const c = await startSandbox({ plan: 'unlimited', quiet: true, size: 120, seed: 43 });
  try {
    const read = async (h: SandboxHandle, method: string) =>
      (await postJson(h.webhookUrl + method, { select: ['*'], order: { ID: 'ASC' }, start: 0 })).body.result.map(
        (r: any) => ({
          ...r,
          DATE_CREATE: undefined,
          DATE_MODIFY: undefined,
          MOVED_TIME: undefined,
          BEGINDATE: undefined,
          CLOSEDATE: undefined,
        }),
      );
    for (const m of ['crm.deal.list', 'crm.contact.list', 'crm.company.list', 'crm.lead.list', 'user.get']) {
      expect(await read(b, m)).toEqual(await read(a, m));
    }
    expect(await read(c, 'crm.contact.list')).not.toEqual(await read(a, 'crm.contact.list'));
    const titles = (await read(a, 'crm.deal.list')).map((d: any) => d.TITLE as string);
    expect(titles.some((t: string) => /[а-яё]/i.test(t))).toBe(true);
    expect(titles.some((t: string) => /^[A-Za-z]/.test(t))).toBe(true);
    const names = (await read(a, 'crm.contact.list')).map((d: any) => d.NAME as string);
    expect(names.some((t: string) => /[а-яё]/i.test(t))).toBe(true);
    expect(names.some((t: string) => /^[A-Za-z]+$/.test(t))).toBe(true);
  } finally {
    await Promise.all([a.close(), b.close(), c.close()]);
  }
});
