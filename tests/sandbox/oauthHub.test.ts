/**
 * The sandbox's shared OAuth server (src/sandbox/oauthHub.ts): one `/oauth/token/` for several portals, as
 * oauth.bitrix.info is (settings/oauth/index.md): it refreshes each portal's tokens and names that portal, rotates
 * refresh tokens (a used one → invalid_grant), refuses another application's credentials, and the install requests it
 * builds carry tokens it accepts (the installation callback's `auth[…]`, the install page's `REFRESH_ID`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OAuthHub, type SandboxHandle, startOAuthHub, startSandbox } from '../../src/sandbox/index.js';

let hub: OAuthHub;
const portals: SandboxHandle[] = [];

beforeAll(async () => {
  hub = await startOAuthHub({ accessTtlSec: 120 });
  for (let i = 0; i < 2; i++) {
    const h = await startSandbox({ plan: 'unlimited', quiet: true, size: 5 });
    hub.add(h);
    portals.push(h);
  }
});

afterAll(async () => {
  for (const p of portals) await p.close();
  await hub.close();
});

async function refresh(refreshToken: string, secret = hub.app.clientSecret) {
  const q = new URLSearchParams({
    grant_type: 'refresh_token',
    client_id: hub.app.clientId,
    client_secret: secret,
    refresh_token: refreshToken,
  });
  const res = await fetch(`${hub.tokenUrl}?${q}`);
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

describe('the shared OAuth server', () => {
  it('refreshes the tokens of each portal behind it and names that portal; refresh tokens rotate', async () => {
    for (const p of portals) {
      const form = hub.installRequest(p).form;
      expect(form.event).toBe('ONAPPINSTALL');
      expect(form['auth[member_id]']).toBe(p.oauthApp.memberId);
      expect(form['auth[application_token]']).toBe(p.oauthApp.applicationToken);
      expect(form['auth[server_endpoint]']).toBe(`${hub.url}/rest/`);
      expect(form['auth[expires_in]']).toBe('120');
      const r = await refresh(form['auth[refresh_token]']!);
      expect(r.status).toBe(200);
      expect(r.body.member_id).toBe(p.oauthApp.memberId);
      expect(r.body.client_endpoint).toBe(`${p.baseUrl}/rest/`);
      expect(r.body.server_endpoint).toBe(`${hub.url}/rest/`);
      expect(r.body.domain).toBe(new URL(hub.url).host);
      expect(r.body.expires_in).toBe(120);
      // the new access token works on that portal, the used refresh token no longer does
      const call = await fetch(`${p.baseUrl}/rest/app.info?auth=${r.body.access_token}`);
      expect(call.status).toBe(200);
      expect((await refresh(form['auth[refresh_token]']!)).body.error).toBe('invalid_grant');
    }
  });

  it('refuses an unknown refresh token and another application’s secret', async () => {
    expect(await refresh('0'.repeat(64))).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    const form = hub.installRequest(portals[0]!).form;
    expect(await refresh(form['auth[refresh_token]']!, 'not-the-secret')).toMatchObject({
      status: 401,
      body: { error: 'invalid_client' },
    });
  });

  it('the install page carries AUTH_ID, REFRESH_ID, member_id and the portal in the query', async () => {
    const p = portals[1]!;
    const r = hub.installRequest(p, 'frame');
    const q = new URLSearchParams(r.query);
    expect(q.get('DOMAIN')).toBe(p.portal.domain());
    expect(q.get('PROTOCOL')).toBe('0');
    expect(r.form.member_id).toBe(p.oauthApp.memberId);
    expect(r.form.PLACEMENT).toBe('DEFAULT');
    expect((await refresh(r.form.REFRESH_ID!)).body.member_id).toBe(p.oauthApp.memberId);
  });
});
