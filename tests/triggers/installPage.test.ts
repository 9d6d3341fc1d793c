/**
 * The install path `POST /bitrix/install` (src/triggers/installPage.ts) on its own: what it hands the verifier for the
 * installation callback and for the install page (the page's upper-case fields mapped to `auth` keys, the portal's
 * REST endpoint from `DOMAIN`/`PROTOCOL`), its answers (JSON for the callback, an `installFinish` page for the frame),
 * and its refusals: not an install (400), no application configured (401), a verifier's refusal (401, nothing
 * learnt), a body over the limit (413). The handler path answers a page without portal data.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HttpServerHandle, startHttpServer } from '../../src/lib/http.js';
import type { InstallVerifier } from '../../src/triggers/install.js';
import { installAuth, installRoutes } from '../../src/triggers/installPage.js';
import { Metrics } from '../../src/triggers/metrics.js';

const seen: Record<string, unknown>[] = [];
const installed: string[] = [];
const tokens = new Map<string, string>();
const metrics = new Metrics();
const verify: InstallVerifier = async (auth) => {
  seen.push(auth);
  if (auth.refresh_token !== 'good-refresh') return { ok: false, reason: 'install-unverified' };
  return {
    ok: true,
    memberId: String(auth.member_id),
    ...(auth.application_token ? { applicationToken: String(auth.application_token) } : {}),
  };
};
let withApp: HttpServerHandle;
let withoutApp: HttpServerHandle;

beforeAll(async () => {
  const log = () => {};
  withApp = await startHttpServer({
    routes: installRoutes({
      tokens,
      metrics,
      log,
      verifyInstall: verify,
      onInstall: (m) => installed.push(m),
      maxBodyBytes: 4096,
    }),
  });
  withoutApp = await startHttpServer({ routes: installRoutes({ tokens: new Map(), metrics, log }) });
});

afterAll(async () => {
  await withApp.close();
  await withoutApp.close();
});

async function post(base: string, form: Record<string, string>, query = '') {
  const res = await fetch(`${base}/bitrix/install${query ? `?${query}` : ''}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: await res.text() };
}

describe('the install path', () => {
  it('maps the install page fields to auth keys and the portal endpoint', () => {
    const q = new URLSearchParams({ DOMAIN: 'example.bitrix24.com', PROTOCOL: '1', LANG: 'en', APP_SID: 'x' });
    expect(installAuth({ AUTH_ID: 'a', REFRESH_ID: 'r', member_id: 'm', SERVER_ENDPOINT: 's' }, q)).toEqual({
      kind: 'frame',
      auth: {
        member_id: 'm',
        access_token: 'a',
        refresh_token: 'r',
        domain: 'example.bitrix24.com',
        client_endpoint: 'https://example.bitrix24.com/rest/',
        server_endpoint: 's',
      },
    });
    expect(installAuth({ event: 'onAppInstall', auth: { member_id: 'm' } }, new URLSearchParams())).toEqual({
      kind: 'callback',
      auth: { member_id: 'm' },
    });
    expect(installAuth({ event: 'ONCRMDEALADD', auth: {} }, new URLSearchParams())).toBeUndefined();
  });

  it('the callback: verified → JSON success, the application token known; refused → 401 and nothing known', async () => {
    const refused = await post(withApp.url, {
      event: 'ONAPPINSTALL',
      'auth[member_id]': 'mX',
      'auth[refresh_token]': 'forged',
      'auth[application_token]': 'tX',
    });
    expect(refused.status).toBe(401);
    expect(JSON.parse(refused.body)).toEqual({ error: 'UNAUTHORIZED' });
    expect(tokens.has('mX')).toBe(false);
    const ok = await post(withApp.url, {
      event: 'ONAPPINSTALL',
      'auth[member_id]': 'm1',
      'auth[refresh_token]': 'good-refresh',
      'auth[application_token]': 't1',
    });
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toEqual({ status: 'success' });
    expect(tokens.get('m1')).toBe('t1');
    expect(installed).toEqual(['m1']);
  });

  it('the install page: verified → a page that calls BX24.installFinish()', async () => {
    const r = await post(
      withApp.url,
      { AUTH_ID: 'acc', REFRESH_ID: 'good-refresh', member_id: 'm2', status: 'L', PLACEMENT: 'DEFAULT' },
      'DOMAIN=portal.example&PROTOCOL=0&LANG=en&APP_SID=s',
    );
    expect(r.status).toBe(200);
    expect(r.type).toContain('text/html');
    expect(r.body).toContain('BX24.installFinish()');
    expect(seen.at(-1)).toMatchObject({ member_id: 'm2', client_endpoint: 'http://portal.example/rest/' });
    expect(installed).toEqual(['m1', 'm2']);
  });

  it('refuses what is not an install, an install without an application, and a body over the limit', async () => {
    expect((await post(withApp.url, { event: 'ONCRMDEALADD', 'data[FIELDS][ID]': '1' })).status).toBe(400);
    const none = await post(withoutApp.url, {
      event: 'ONAPPINSTALL',
      'auth[member_id]': 'm3',
      'auth[refresh_token]': 'good-refresh',
    });
    expect(none.status).toBe(401);
    expect((await post(withApp.url, { event: 'ONAPPINSTALL', pad: 'x'.repeat(10_000) })).status).toBe(413);
    expect(installed).toEqual(['m1', 'm2']);
    expect(await metrics.render()).toContain('b24flow_app_installs_refused_total');
  });

  it('the handler path answers a page with no portal data', async () => {
    const res = await fetch(`${withApp.url}/bitrix/app`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('b24flow');
  });
});
