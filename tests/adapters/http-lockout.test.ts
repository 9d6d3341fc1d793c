import { afterAll, describe, expect, it } from 'vitest';
import { apiRoutes } from '../../src/adapters/http/api.js';
import { AuthLockout } from '../../src/adapters/http/lockout.js';
import { clientAddressOf, type HttpServerHandle, startHttpServer } from '../../src/lib/http.js';
import { findSecrets } from '../agent/support/secrets.js';
import { createdDataDirs, makeAgent, TEST_SECRETS } from '../agent/support/setup.js';
import { stubEngine } from '../agent/support/stubEngine.js';

/**
 * The failed-authentication lockout of the HTTP API through real HTTP: it is keyed per (client address, presented
 * key), never refuses a valid key, and believes `X-Forwarded-For` only from configured trusted proxies.
 */

const TOKEN = 'lockout-token-0123456789abcdef';
const servers: HttpServerHandle[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  expect(findSecrets(createdDataDirs, TEST_SECRETS)).toEqual([]);
});

async function api(opts: { trustedProxies?: string[]; clock?: () => number } = {}) {
  const logs: string[] = [];
  const srv = await startHttpServer({
    routes: apiRoutes({
      agent: makeAgent(stubEngine()),
      tokens: [TOKEN],
      ...(opts.trustedProxies ? { trustedProxies: opts.trustedProxies } : {}),
      ...(opts.clock ? { now: opts.clock } : {}),
      log: (l) => logs.push(l),
    }),
  });
  servers.push(srv);
  const call = async (key: string | null, xff?: string) => {
    const r = await fetch(`${srv.url}/chat`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(key !== null ? { 'x-api-key': key } : {}),
        ...(xff ? { 'x-forwarded-for': xff } : {}),
      },
      body: JSON.stringify({ user_id: 'u1', message: '/start' }),
    });
    await r.arrayBuffer();
    return { status: r.status, retryAfter: r.headers.get('retry-after') };
  };
  return { srv, call, logs };
}

describe('HTTP API lockout', () => {
  it('5+ wrong keys from one address do not lock out a valid key from that address', async () => {
    const { call } = await api();
    for (let i = 0; i < 5; i++) expect((await call('wrong-key-1')).status).toBe(401);
    for (let i = 0; i < 5; i++) expect((await call(null)).status).toBe(401);
    expect((await call('wrong-key-1')).status).toBe(429);
    // the valid key, same socket address, right after: never refused by the lockout
    for (let i = 0; i < 3; i++) expect((await call(TOKEN)).status).toBe(200);
  });

  it('wrong keys keep being refused and are counted per presented key', async () => {
    let now = 1_000_000;
    const { call, logs } = await api({ clock: () => now });
    for (let i = 0; i < 5; i++) expect((await call('stale-key-A')).status).toBe(401);
    const locked = await call('stale-key-A');
    expect(locked.status).toBe(429);
    expect(locked.retryAfter).toBe('900');
    // a valid request in between does not reset the counting of the wrong key
    expect((await call(TOKEN)).status).toBe(200);
    expect((await call('stale-key-A')).status).toBe(429);
    // another wrong key from the same address has its own count: refused with 401, four more times, then 429
    for (let i = 0; i < 5; i++) expect((await call('stale-key-B')).status).toBe(401);
    expect((await call('stale-key-B')).status).toBe(429);
    now += 14 * 60_000;
    const still = await call('stale-key-A');
    expect(still.status).toBe(429);
    expect(still.retryAfter).toBe('60');
    now += 61_000;
    // after the lockout: refused again (401), never accepted
    expect((await call('stale-key-A')).status).toBe(401);
    expect(logs.some((l) => /this key from 127\.0\.0\.1 locked out for 900 s after 5/.test(l))).toBe(true);
    expect(logs.join('\n')).not.toMatch(/stale-key|lockout-token/);
  });

  it('limits guessing many different keys from one address, still without refusing the valid key', async () => {
    const srv = await startHttpServer({
      routes: apiRoutes({ agent: makeAgent(stubEngine()), tokens: [TOKEN], maxAddressFailures: 8 }),
    });
    servers.push(srv);
    const call = (key: string) =>
      fetch(`${srv.url}/runs/abc`, { headers: { 'x-api-key': key } }).then(async (r) => {
        await r.arrayBuffer();
        return r.status;
      });
    for (let i = 0; i < 8; i++) expect(await call(`guess-${i}`)).toBe(401);
    expect(await call('guess-new')).toBe(429);
    expect(await call(TOKEN)).toBe(404); // authenticated; the run does not exist
  });

  it('ignores X-Forwarded-For from a peer that is not a trusted proxy', async () => {
    // the proxy list does not contain the test's peer (127.0.0.1), so the header is the client's own claim
    const { call } = await api({ trustedProxies: ['10.0.0.0/8'] });
    for (let i = 0; i < 5; i++) expect((await call('spoofer-key', `203.0.113.${i + 1}`)).status).toBe(401);
    // a new forged address does not escape the lockout of that key from this socket address
    expect((await call('spoofer-key', '198.51.100.77')).status).toBe(429);
    expect((await call('spoofer-key')).status).toBe(429);
    expect((await call('other-wrong-key', '198.51.100.77')).status).toBe(401);
    expect((await call(TOKEN, '203.0.113.1')).status).toBe(200);
  });

  it('honours X-Forwarded-For from a trusted proxy: clients behind it are counted apart', async () => {
    const { call, logs } = await api({ trustedProxies: ['127.0.0.1', '::1', '10.0.0.0/8'] });
    for (let i = 0; i < 5; i++) expect((await call('shared-wrong', '203.0.113.9')).status).toBe(401);
    expect((await call('shared-wrong', '203.0.113.9')).status).toBe(429);
    // same key, another client behind the same proxy: its own count
    expect((await call('shared-wrong', '203.0.113.10')).status).toBe(401);
    // a chain through a second trusted proxy: the rightmost untrusted hop is the client
    expect((await call('shared-wrong', '198.51.100.1, 203.0.113.9, 10.1.2.3')).status).toBe(429);
    // whatever the client wrote left of its real address is not believed
    expect((await call('shared-wrong', '203.0.113.9, 203.0.113.11')).status).toBe(401);
    expect((await call(TOKEN, '203.0.113.9')).status).toBe(200);
    expect(logs.some((l) => l.includes('unauthorized from 203.0.113.10'))).toBe(true);
  });
});

describe('lockout internals', () => {
  it('resolves client addresses and rejects bad proxy entries', () => {
    const req = (remoteAddress: string, xff?: string) =>
      ({ socket: { remoteAddress }, headers: xff ? { 'x-forwarded-for': xff } : {} }) as never;
    const none = clientAddressOf();
    expect(none(req('::ffff:127.0.0.1', '1.2.3.4'))).toBe('127.0.0.1');
    const trusted = clientAddressOf(['127.0.0.1', 'fd00::/8']);
    expect(trusted(req('::ffff:127.0.0.1', '1.2.3.4'))).toBe('1.2.3.4');
    expect(trusted(req('127.0.0.1', '1.2.3.4, fd00::1'))).toBe('1.2.3.4');
    expect(trusted(req('127.0.0.1', '[2001:db8::1]:443'))).toBe('2001:db8::1');
    expect(trusted(req('127.0.0.1', 'not-an-ip, 5.6.7.8'))).toBe('5.6.7.8');
    expect(trusted(req('127.0.0.1', '<script>'))).toBe('127.0.0.1');
    expect(trusted(req('127.0.0.1'))).toBe('127.0.0.1');
    expect(trusted(req('192.0.2.1', '1.2.3.4'))).toBe('192.0.2.1');
    for (const bad of ['localhost', '10.0.0.0/33', '10.0.0.0/8/1', '::1/129', '10.0.0.0/x']) {
      expect(() => clientAddressOf([bad]), bad).toThrow(TypeError);
    }
  });

  it('stays bounded and never holds a presented key as text', () => {
    const lock = new AuthLockout({ maxEntries: 100, now: () => 5 });
    for (let i = 0; i < 5000; i++) lock.fail(`10.0.${i >> 8}.${i & 255}`, `secret-guess-${i}`);
    expect(lock.size).toBeLessThanOrEqual(200);
    const held = JSON.stringify([...(lock as unknown as { pairs: Map<string, unknown> }).pairs.keys()]);
    expect(held).not.toContain('secret-guess');
  });
});
