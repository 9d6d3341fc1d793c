/**
 * The split between the composition root and src/bitrix: src/cli/compose.ts reads the configuration into explicit
 * portal settings; src/bitrix/connect.ts builds a client from those settings only (no environment, no sandbox).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { connect as connectWithSettings } from '../../src/bitrix/connect.js';
import { portalSettings, readSettings } from '../../src/cli/compose.js';
import { type Sandbox, sandbox, tmp } from './helpers.js';

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

describe('portal settings', () => {
  it('reads a webhook, an OAuth app, or nothing (the sandbox case) from the environment', () => {
    expect(portalSettings({})).toBeUndefined();
    expect(
      portalSettings({ BITRIX_WEBHOOK_URL: ' https://x.bitrix24.ru/rest/1/abc/ ', B24_PLAN: 'Enterprise' }),
    ).toEqual({
      webhookUrl: 'https://x.bitrix24.ru/rest/1/abc/',
      dataDir: './data',
      limiter: { plan: 'enterprise' },
    });
    expect(
      portalSettings({ B24_CLIENT_ID: 'local.1', B24_CLIENT_SECRET: 's', B24_MEMBER_ID: 'm', B24FLOW_DATA_DIR: '/d' }),
    ).toEqual({
      oauth: { app: { clientId: 'local.1', clientSecret: 's' }, memberId: 'm' },
      dataDir: '/d',
      limiter: {},
    });
    expect(() => portalSettings({ B24_PLAN: 'gold' })).toThrow(/B24_PLAN must be standard or enterprise/);
  });

  it('reads the shared settings with their defaults', () => {
    const s = readSettings({ env: { B24FLOW_TZ: 'Europe/Moscow' }, dotenv: false });
    expect(s).toMatchObject({ dataDir: './data', timezone: 'Europe/Moscow', authConnector: 'b24flow' });
  });

  it('src/bitrix connects from explicit settings and refuses when none name a portal', async () => {
    const sb: Sandbox = await sandbox();
    open.push(sb);
    const conn = await connectWithSettings({ webhookUrl: sb.webhookUrl, dataDir: tmp() }, { audit: false });
    open.push(conn);
    expect(conn.client.portal.kind).toBe('webhook');
    await expect(conn.client.call('server.time')).resolves.toBeDefined();
    await expect(connectWithSettings({ dataDir: tmp() }, { audit: false })).rejects.toThrow(/no portal configured/);
  });
});
