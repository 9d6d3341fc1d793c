/**
 * Refresh before expiry (src/bitrix/auth/keeper.ts) on the store's token store, on both backends: a token inside the
 * margin is refreshed by the keeper (not by a 401), a token outside it is left alone, and two "processes" (two
 * token-store objects with their own lease holders, two registries, two keepers) checking at once refresh once at the
 * OAuth server — the other one adopts the rotated record, so the rotated refresh token is never lost.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { keepTokensFresh } from '../../src/bitrix/auth/keeper.js';
import { tokensFromAnswer } from '../../src/bitrix/auth/oauth.js';
import { PortalRegistry } from '../../src/bitrix/auth/registry.js';
import { B24Client } from '../../src/bitrix/client.js';
import { startSandbox } from '../../src/sandbox/index.js';
import { loadStoreKey, StoreTokenStore } from '../../src/store/tokens.js';
import { testDir } from '../support/testRoot.js';
import { backends } from './backends.js';

describe.each(backends('b24flow-keeper'))('token keeper on $name', (b) => {
  it('refreshes a token about to expire once across two processes, and leaves a fresh one alone', async () => {
    const sb = await startSandbox({ plan: 'unlimited', quiet: true, size: 'small' });
    const stores = [await b.open(), await b.open()];
    let tokenRequests = 0;
    const proxy = createServer(async (req, res) => {
      tokenRequests++;
      await new Promise((r) => setTimeout(r, 200)); // a slow OAuth server: the other keeper checks meanwhile
      const r = await request(new URL(req.url!, sb.baseUrl));
      res.writeHead(r.statusCode, { 'content-type': 'application/json' });
      res.end(await r.body.text());
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const client: B24Client[] = [];
    try {
      const key = await loadStoreKey(testDir('b24flow-keeper-key-'));
      const tokenUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/oauth/token/`;
      const app = { clientId: sb.oauthApp.clientId, clientSecret: sb.oauthApp.clientSecret, tokenUrl };
      const installed = tokensFromAnswer(await sb.oauthApp.install());
      const regs = stores.map((s) => new PortalRegistry(app, new StoreTokenStore(s, key)));
      // an hour left: outside a 300 s margin, nothing to do
      await regs[0]!.install(installed);
      const keepers = regs.map((r) => keepTokensFresh(r, { marginSec: 300, everyMs: 3_600_000 }));
      expect(await Promise.all(keepers.map((k) => k.check()))).toEqual([[], []]);
      expect(tokenRequests).toBe(0);
      // 100 s left: inside the margin — both keepers see it at once, one refreshes
      await regs[0]!.install({ ...installed, expires_at: Math.floor(Date.now() / 1000) + 100 });
      const done = await Promise.all(keepers.map((k) => k.check()));
      expect(done.flat()).toEqual([installed.member_id]);
      expect(tokenRequests).toBe(1);
      const stored = await regs[1]!.store.get(installed.member_id);
      expect(stored!.refresh_token).not.toBe(installed.refresh_token);
      expect(stored!.expires_at).toBeGreaterThan(Date.now() / 1000 + 3000);
      // both processes now call with the rotated token; the old one is no longer what they use
      for (const r of regs) {
        const c = new B24Client({ auth: r.auth(installed.member_id), limiter: { drain: 1000, burst: 10000 } });
        client.push(c);
        await c.call('crm.deal.list', { select: ['ID'] });
        expect((await r.auth(installed.member_id).credentials()).accessToken).toBe(stored!.access_token);
      }
      expect(tokenRequests).toBe(1);
      for (const k of keepers) k.stop();
      expect(await stores[0]!.db.selectFrom('leases').selectAll().execute()).toEqual([]);
    } finally {
      for (const c of client) await c.close();
      await new Promise<void>((r) => proxy.close(() => r()));
      await sb.close();
    }
  });
});
