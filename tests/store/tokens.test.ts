/**
 * OAuth tokens in the store, on both backends: round trip, encryption at rest (the token values appear nowhere in
 * the database's bytes), the key file (0600, one key when many openers race, `B24FLOW_STORE_KEY` wins), a clear
 * error naming the portal for a wrong key, a refresh that is single-flight across processes, and the import of the
 * old `tokens.json`.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { tokensFromAnswer } from '../../src/bitrix/auth/oauth.js';
import { PortalRegistry } from '../../src/bitrix/auth/registry.js';
import type { PortalTokens } from '../../src/bitrix/auth/tokenStore.js';
import { B24Client } from '../../src/bitrix/client.js';
import { startSandbox } from '../../src/sandbox/index.js';
import { importTokens } from '../../src/store/import/tokens.js';
import { openStore, type Store } from '../../src/store/index.js';
import { loadStoreKey, openTokens, StoreTokenStore, sealTokens } from '../../src/store/tokens.js';
import { freshDatabase, postgresUrl } from '../support/postgres.js';
import { testDir } from '../support/testRoot.js';

type Backend = { name: string; open: (dataDir: string) => Promise<Store>; cleanup: () => Promise<void> };

const backends: Backend[] = [{ name: 'sqlite', open: (dataDir) => openStore({ dataDir }), cleanup: async () => {} }];
let pgDb: ReturnType<typeof freshDatabase> | undefined;
if (postgresUrl)
  backends.push({
    name: 'postgres',
    open: async (dataDir) => {
      pgDb ??= freshDatabase();
      return openStore({ dataDir, url: (await pgDb).url, poolSize: 4 });
    },
    cleanup: async () => (await pgDb)?.drop(),
  });

afterAll(async () => {
  for (const b of backends) await b.cleanup();
});

function fakeTokens(memberId: string): PortalTokens {
  return {
    member_id: memberId,
    domain: 'example.bitrix24.com',
    client_endpoint: 'https://example.bitrix24.com/rest/',
    server_endpoint: 'https://oauth.bitrix.info/rest/',
    access_token: `acc${randomBytes(12).toString('hex')}`,
    refresh_token: `ref${randomBytes(12).toString('hex')}`,
    application_token: `app${randomBytes(12).toString('hex')}`,
    expires_at: 2_000_000_000,
  };
}

/** Every byte of the data dir's files (the SQLite database, its WAL, the key file...). */
function dirBytes(dir: string): Buffer {
  return Buffer.concat(
    readdirSync(dir).map((n) => (statSync(join(dir, n)).isFile() ? readFileSync(join(dir, n)) : Buffer.alloc(0))),
  );
}

describe('the store key', () => {
  it('is created once, 0600, when many openers race; B24FLOW_STORE_KEY wins; a malformed one is refused', async () => {
    const dir = testDir('b24flow-key-');
    const keys = await Promise.all(Array.from({ length: 8 }, () => loadStoreKey(dir)));
    expect(new Set(keys.map((k) => k.toString('hex'))).size).toBe(1);
    expect(keys[0]).toHaveLength(32);
    expect(statSync(join(dir, 'store-key')).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['store-key']); // no temporary file left behind
    const env = randomBytes(32);
    expect((await loadStoreKey(dir, env.toString('base64'))).equals(env)).toBe(true);
    await expect(loadStoreKey(dir, 'c2hvcnQ=')).rejects.toThrow(/B24FLOW_STORE_KEY must be 32 bytes/);
  });
});

describe.each(backends)('token store on $name', (b) => {
  it('round-trips tokens, sealed at rest: no token value in the database bytes', async () => {
    const dir = testDir('b24flow-tok-');
    const store = await b.open(dir);
    try {
      const key = await loadStoreKey(dir);
      const tokens = new StoreTokenStore(store, key);
      const t1 = fakeTokens('m1');
      const t2 = fakeTokens('m2');
      await tokens.set('m1', t1);
      await tokens.set('m2', t2);
      expect(await tokens.get('m1')).toMatchObject(t1);
      expect((await tokens.list()).map((t) => t.member_id)).toEqual(['m1', 'm2']);
      await tokens.delete('m2');
      expect(await tokens.get('m2')).toBeUndefined();
      const rows = await store.db.selectFrom('tokens').selectAll().execute();
      const raw = JSON.stringify(rows);
      for (const s of [t1.access_token, t1.refresh_token, t1.application_token!]) expect(raw).not.toContain(s);
      expect(rows[0]!.sealed).toMatch(/^v1\./);
      if (b.name === 'sqlite') {
        const bytes = dirBytes(dir);
        for (const s of [t1.access_token, t1.refresh_token, t2.access_token, t2.refresh_token])
          expect(bytes.includes(Buffer.from(s))).toBe(false);
        expect(statSync(join(dir, 'b24flow.db')).mode & 0o777).toBe(0o600);
      }
    } finally {
      await store.close();
    }
  });

  it('a wrong key, or a row filed under another portal, fails naming the portal and never the token', async () => {
    const dir = testDir('b24flow-tok-');
    const store = await b.open(dir);
    try {
      const t = fakeTokens('portal-a');
      await new StoreTokenStore(store, await loadStoreKey(dir)).set('portal-a', t);
      const wrong = new StoreTokenStore(store, randomBytes(32));
      const err = (await wrong.get('portal-a').catch((e: Error) => e)) as Error;
      expect(err.message).toMatch(/cannot decrypt the stored OAuth tokens of portal portal-a/);
      expect(err.message).not.toContain(t.access_token);
      await expect(wrong.list()).rejects.toThrow(/cannot decrypt the stored OAuth tokens of portal /);
      const key = await loadStoreKey(dir);
      expect(() => openTokens(key, 'portal-b', sealTokens(key, 'portal-a', t))).toThrow(/portal portal-b/);
    } finally {
      await store.close();
    }
  });

  it('refresh is single-flight across processes: two registries on one expired token → one refresh', async () => {
    const dir = testDir('b24flow-tok-');
    const store = await b.open(dir);
    const sb = await startSandbox({ plan: 'unlimited', quiet: true, size: 'small' });
    const clients: B24Client[] = [];
    const closers: Array<() => Promise<void>> = [];
    try {
      const key = await loadStoreKey(dir);
      // the token endpoint behind a counting proxy: how many refreshes reached the OAuth server
      let tokenRequests = 0;
      const proxy = createServer(async (req, res) => {
        tokenRequests++;
        await new Promise((r) => setTimeout(r, 200)); // a slow OAuth server: both processes see the expiry meanwhile
        const r = await request(new URL(req.url!, sb.baseUrl));
        res.writeHead(r.statusCode, { 'content-type': 'application/json' });
        res.end(await r.body.text());
      });
      await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
      closers.push(() => new Promise<void>((r) => proxy.close(() => r())));
      const tokenUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/oauth/token/`;
      const app = { clientId: sb.oauthApp.clientId, clientSecret: sb.oauthApp.clientSecret, tokenUrl };
      const installed = tokensFromAnswer(await sb.oauthApp.install());
      // two "processes": separate token store objects (separate lease holders) and registries on one database
      const regs = [0, 1].map(() => new PortalRegistry(app, new StoreTokenStore(store, key)));
      await regs[0]!.install(installed);
      for (const r of regs)
        clients.push(new B24Client({ auth: r.auth(installed.member_id), limiter: { drain: 1000, burst: 10000 } }));
      for (const c of clients) await c.call('crm.deal.list', { select: ['ID'] }); // both hold the installed token
      await sb.admin.expireTokens();
      // both processes meet the expired token at once (the slow OAuth server keeps the first refresh in flight)
      await Promise.all(regs.map((r) => r.auth(installed.member_id).refresh(installed.access_token)));
      await Promise.all(clients.map((c) => c.call('crm.deal.list', { select: ['ID'] })));
      const refreshes = regs.reduce((s, r) => s + r.auth(installed.member_id).refreshes, 0);
      expect(refreshes).toBe(1);
      expect(tokenRequests).toBe(1); // the other process waited for the lease and found the rotated record
      const stored = await regs[1]!.store.get(installed.member_id);
      expect(stored?.refresh_token).not.toBe(installed.refresh_token);
      expect(await store.db.selectFrom('leases').selectAll().execute()).toEqual([]); // the lease was given back
    } finally {
      for (const c of clients) await c.close();
      for (const c of closers) await c();
      await sb.close();
      await store.close();
    }
  });

  it('imports the old tokens.json once (a portal already in the store is kept), leaving the file', async () => {
    const dir = testDir('b24flow-tok-');
    const store = await b.open(dir);
    try {
      const a = fakeTokens('mA');
      const c = fakeTokens('mC');
      const file = join(dir, 'tokens.json');
      writeFileSync(file, JSON.stringify({ version: 1, portals: { mA: a, mC: c, bad: { member_id: 'x' } } }));
      const tokens = new StoreTokenStore(store, await loadStoreKey(dir));
      const newer = { ...c, access_token: 'newer-access-token-xyz' };
      await tokens.set('mC', newer);
      expect(await importTokens(store, dir)).toEqual({ imported: 1, skipped: 2 });
      expect(await importTokens(store, dir)).toEqual({ imported: 0, skipped: 3 });
      expect((await tokens.get('mA'))?.refresh_token).toBe(a.refresh_token);
      expect((await tokens.get('mC'))?.access_token).toBe('newer-access-token-xyz');
      expect(statSync(file).isFile()).toBe(true);
    } finally {
      await store.close();
    }
  });
});
