/**
 * OAuth against the sandbox over real HTTP: the refresh race (single flight per portal across transports and
 * clients), rotation, the store's token store (encrypted rows in the data dir's SQLite file), and strict tenant isolation between two portals.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tokensFromAnswer } from '../../src/bitrix/auth/oauth.js';
import { PortalRegistry } from '../../src/bitrix/auth/registry.js';
import { MemoryTokenStore } from '../../src/bitrix/auth/tokenStore.js';
import { B24Client } from '../../src/bitrix/client.js';
import { OAuthError, TenantIsolationError } from '../../src/bitrix/restErrors.js';
import { openStore } from '../../src/store/index.js';
import { loadStoreKey, StoreTokenStore } from '../../src/store/tokens.js';
import { admin, type Sandbox, sandbox, stats, tmp } from './helpers.js';

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

const fast = { drain: 1000, burst: 10000 };

async function portal(): Promise<Sandbox> {
  const sb = await sandbox({ plan: 'unlimited' });
  open.push(sb);
  return sb;
}

describe('OAuth refresh', () => {
  it('50 concurrent calls on an expired token → exactly one refresh, shared by every client and batch', async () => {
    const sb = await portal();
    const dir = tmp();
    const db = await openStore({ dataDir: dir });
    open.push(db);
    const store = new StoreTokenStore(db, await loadStoreKey(dir));
    const registry = new PortalRegistry(
      { clientId: sb.oauthApp.clientId, clientSecret: sb.oauthApp.clientSecret },
      store,
    );
    const installed = tokensFromAnswer(await sb.oauthApp.install());
    await registry.install(installed);
    expect(statSync(join(dir, 'b24flow.db')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'store-key')).mode & 0o777).toBe(0o600);

    const a = new B24Client({ auth: registry.auth(installed.member_id), limiter: fast });
    const b = new B24Client({ auth: registry.auth(installed.member_id), limiter: fast });
    open.push(a, b);
    await a.call('crm.deal.list', { select: ['ID'] });

    await admin(sb, '/sandbox/tokens/expire', {});
    // three transports (REST v2, REST 3.0, batch) and two client objects, all on one expired token
    const calls = Array.from({ length: 50 }, (_, i) =>
      i % 5 === 0
        ? b.batch([{ method: 'crm.deal.list', params: { select: ['ID'] } }]).then((r) => r.get('0'))
        : i % 7 === 0
          ? a
              .call<{ items: unknown[] }>('tasks.task.list', { select: ['id'] }, { version: 3 })
              .then((r) => r.result.items)
          : (i % 2 ? a : b).call('crm.deal.list', { select: ['ID'] }).then((r) => r.result),
    );
    const results = await Promise.all(calls);
    expect(results.every((r) => Array.isArray(r))).toBe(true);
    expect(registry.auth(installed.member_id).refreshes).toBe(1);

    // rotation: the new refresh token was persisted, the old one is spent
    const stored = await store.get(installed.member_id);
    expect(stored?.refresh_token).not.toBe(installed.refresh_token);
    expect(stored?.access_token).not.toBe(installed.access_token);
    const other = new PortalRegistry(
      { clientId: sb.oauthApp.clientId, clientSecret: sb.oauthApp.clientSecret },
      new MemoryTokenStore(),
    );
    await other.install(installed); // a stale copy holding the spent refresh token
    const stale = new B24Client({ auth: other.auth(installed.member_id), limiter: fast });
    open.push(stale);
    await admin(sb, '/sandbox/tokens/expire', {});
    await expect(stale.call('crm.deal.list')).rejects.toBeInstanceOf(OAuthError);
    // the real client refreshes again with its rotated token
    await expect(a.call('crm.deal.list', { select: ['ID'] })).resolves.toBeDefined();
    expect(registry.auth(installed.member_id).refreshes).toBe(2);
  });
});

describe('tenant isolation', () => {
  it('calls for two portals never carry each other’s tokens, even when both refresh at once', async () => {
    const [p1, p2] = [await portal(), await portal()];
    const store = new MemoryTokenStore();
    // one app installed on two portals (the sandbox issues per-portal client ids; use one registry per app)
    const r1 = new PortalRegistry({ clientId: p1.oauthApp.clientId, clientSecret: p1.oauthApp.clientSecret }, store);
    const r2 = new PortalRegistry({ clientId: p2.oauthApp.clientId, clientSecret: p2.oauthApp.clientSecret }, store);
    const t1 = tokensFromAnswer(await p1.oauthApp.install());
    const t2 = tokensFromAnswer(await p2.oauthApp.install());
    expect(t1.member_id).not.toBe(t2.member_id);
    await r1.install(t1);
    await r2.install(t2);
    const c1 = new B24Client({ auth: r1.auth(t1.member_id), limiter: fast });
    const c2 = new B24Client({ auth: r2.auth(t2.member_id), limiter: fast });
    open.push(c1, c2);
    await admin(p1, '/sandbox/tokens/expire', {});
    await admin(p2, '/sandbox/tokens/expire', {});
    const all = await Promise.all(
      Array.from({ length: 40 }, (_, i) => (i % 2 ? c1 : c2).call('crm.deal.list', { select: ['ID'] })),
    );
    expect(all).toHaveLength(40);
    expect(r1.auth(t1.member_id).refreshes).toBe(1);
    expect(r2.auth(t2.member_id).refreshes).toBe(1);

    // a corrupted store that files portal 2's record under portal 1 is refused before anything is sent
    await store.set(t1.member_id, { ...(await store.get(t2.member_id))! });
    const r1b = new PortalRegistry({ clientId: p1.oauthApp.clientId, clientSecret: p1.oauthApp.clientSecret }, store);
    const c1b = new B24Client({ auth: r1b.auth(t1.member_id), limiter: fast });
    open.push(c1b);
    const before = [(await stats(p1)).requests, (await stats(p2)).requests];
    await expect(c1b.call('crm.deal.list')).rejects.toBeInstanceOf(TenantIsolationError);
    expect([(await stats(p1)).requests, (await stats(p2)).requests]).toEqual(before);
  });
});
