/**
 * `connect()`: portal configuration from the environment and `.env`, the embedded sandbox when nothing is
 * configured, OAuth with stored tokens.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tokensFromAnswer } from '../../src/bitrix/auth/oauth.js';
import { forgetLimiter } from '../../src/bitrix/limiter/index.js';
import { connect, loadEnv } from '../../src/cli/compose.js';
import { storeTokens } from '../support/storedTokens.js';
import { type Sandbox, sandbox, stats, tmp } from './helpers.js';

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

describe('connect()', () => {
  it('starts the embedded sandbox when no portal is configured, and says so on stderr', async () => {
    const dir = tmp();
    const lines: string[] = [];
    const conn = await connect({
      env: { B24FLOW_DATA_DIR: dir },
      dotenv: false,
      sandbox: { plan: 'unlimited' },
      stderr: (l) => lines.push(l),
    });
    open.push(conn);
    expect(conn.sandbox).toBeDefined();
    expect(lines.join('\n')).toMatch(/embedded sandbox portal at http:\/\/127\.0\.0\.1:\d+/);
    const res = await conn.client.call<unknown[]>('crm.deal.list', { select: ['ID'] });
    expect(res.result).toHaveLength(50);
    expect(conn.client.portal.kind).toBe('webhook');
  });

  it('uses BITRIX_WEBHOOK_URL from .env when the environment lacks it; the environment wins over .env', async () => {
    const sb: Sandbox = await sandbox();
    open.push(sb);
    const dir = tmp();
    const envFile = join(dir, '.env');
    writeFileSync(envFile, `BITRIX_WEBHOOK_URL=${sb.webhookUrl}\nB24_PLAN=enterprise\nB24FLOW_DATA_DIR=${dir}\n`);
    expect(loadEnv({ B24_PLAN: 'standard' }, envFile).B24_PLAN).toBe('standard');
    const lines: string[] = [];
    const conn = await connect({ env: { B24_PLAN: 'standard' }, dotenv: envFile, stderr: (l) => lines.push(l) });
    open.push(conn);
    expect(conn.sandbox).toBeUndefined();
    expect(lines).toEqual([]);
    expect(conn.client.portal.id).toBe(new URL(sb.baseUrl).host);
    expect(conn.client.limiter.plan).toBe('standard');
    await expect(conn.client.call('crm.deal.list')).resolves.toBeDefined();
    await expect(connect({ env: { BITRIX_WEBHOOK_URL: 'https://example.com/nope' }, dotenv: false })).rejects.toThrow(
      /BITRIX_WEBHOOK_URL of https:\/\/example\.com must look like/,
    );
  });

  it('connects an OAuth app to its installed portal from the store (encrypted tokens)', async () => {
    const sb: Sandbox = await sandbox();
    open.push(sb);
    const dir = tmp();
    const env = {
      B24_CLIENT_ID: sb.oauthApp.clientId,
      B24_CLIENT_SECRET: sb.oauthApp.clientSecret,
      B24FLOW_DATA_DIR: dir,
    };
    await expect(connect({ env, dotenv: false })).rejects.toThrow(/no portal tokens are stored/);
    const t = tokensFromAnswer(await sb.oauthApp.install());
    await storeTokens(dir, t);
    const conn = await connect({ env, dotenv: false });
    open.push(conn);
    expect(conn.client.portal).toMatchObject({ id: t.member_id, kind: 'oauth' });
    const res = await conn.client.call<unknown[]>('crm.deal.list', { select: ['ID'] });
    expect(res.result.length).toBeGreaterThan(0);
  });

  it('successive processes share the portal request counter through the store (no burst spent twice)', async () => {
    const sb: Sandbox = await sandbox({ plan: 'standard', clockFactor: 4 });
    open.push(sb);
    const env = { BITRIX_WEBHOOK_URL: sb.webhookUrl, B24FLOW_DATA_DIR: tmp(), B24_CLOCK_FACTOR: '4' };
    const key = `webhook:${new URL(sb.baseUrl).host}`;
    forgetLimiter(key);
    const first = await connect({ env, dotenv: false, audit: false });
    await Promise.all(Array.from({ length: 46 }, () => first.client.call('server.time')));
    await first.close();
    forgetLimiter(key); // what a new process would see: no in-memory limiter
    const second = await connect({ env, dotenv: false, audit: false });
    open.push(second);
    await Promise.all(Array.from({ length: 12 }, () => second.client.call('server.time')));
    expect((await stats(sb)).status['503'] ?? 0).toBe(0);
    expect(second.client.stats().limiterWaitMs).toBeGreaterThan(0);
  });
});
