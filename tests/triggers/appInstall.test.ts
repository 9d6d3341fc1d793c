/**
 * A real portal's first install, end to end (issue 13 item 5), with real processes: `b24flow serve` configured with
 * the application's client id and secret and NO stored tokens starts, waits, and takes the installs of three sandbox
 * portals behind one OAuth server (src/sandbox/oauthHub.ts, as oauth.bitrix.info is for real portals) — two by the
 * installation callback (ONAPPINSTALL POSTed to the install path), one by the install page (AUTH_ID/REFRESH_ID in
 * the portal's frame). Each install is verified at the OAuth server before anything is stored; forged installs
 * (an invented refresh token, a real one under another portal's member_id) are refused and store nothing. serve binds
 * the pipelines' events on each portal, and a deal created on each portal runs the pipeline on that portal, once.
 * `b24flow app` prints the form's URLs and the installed portals without a secret. A second test gives the
 * OAuth server a 12 s access-token lifetime: serve refreshes each token before it expires, not after a 401. On one
 * PostgreSQL (skipped without B24FLOW_TEST_DATABASE_URL), two serve processes take installs at either one, both serve
 * both portals, each deal runs once, and each expiry is refreshed by one process (the OAuth server never sees a used
 * refresh token again).
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { B24Client, WebhookAuth } from '../../src/bitrix/index.js';
import { type OAuthHub, type SandboxHandle, startOAuthHub, startSandbox } from '../../src/sandbox/index.js';
import { freshDatabase, postgresUrl } from '../support/postgres.js';
import { tempDir, waitFor, writeDealLeadPipeline } from './helpers.js';
import { childEnv, runCli, type ServeProcess, startServe } from './processes.js';
import { createDeals, leadOrigins } from './sandboxApp.js';

const t = tempDir('b24flow-appinst-');
afterAll(() => t.cleanup());

/** A free TCP port on 127.0.0.1 (serve must know its public URL before it starts). */
async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

interface Portal {
  handle: SandboxHandle;
  hook: B24Client;
  memberId: string;
}

async function startPortals(hub: OAuthHub, n: number): Promise<Portal[]> {
  const out: Portal[] = [];
  for (let i = 0; i < n; i++) {
    const handle = await startSandbox({ plan: 'unlimited', operatingLimit: 0, quiet: true, size: 10 });
    hub.add(handle);
    const hook = new B24Client({
      auth: new WebhookAuth(handle.webhookUrl),
      audit: false,
      limiter: { plan: 'enterprise', clockFactor: 1000 },
    });
    out.push({ handle, hook, memberId: handle.oauthApp.memberId });
  }
  return out;
}

async function stop(p: ServeProcess | undefined, signal: NodeJS.Signals = 'SIGTERM') {
  if (p && p.child.exitCode === null && p.child.signalCode === null) p.child.kill(signal);
  return p?.exited;
}

/** The `app --json` report. */
async function appReport(env: NodeJS.ProcessEnv, args: string[] = []): Promise<any> {
  const r = await runCli(['app', '--json', ...args], env);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

describe('a real portal app, installed while serve runs', () => {
  it('serve without tokens takes three installs, refuses forged ones, binds events and runs each portal’s pipeline', async () => {
    const hub = await startOAuthHub();
    const portals = await startPortals(hub, 3);
    const dataDir = join(t.dir, 'data');
    const pipelines = writeDealLeadPipeline(join(t.dir, 'pipelines'));
    const port = await freePort();
    const publicUrl = `http://127.0.0.1:${port}`;
    const env = childEnv(dataDir, hub.app, {
      B24_OAUTH_TOKEN_URL: hub.tokenUrl,
      B24_PLAN: 'enterprise',
      B24_CLOCK_FACTOR: '1000',
      B24FLOW_PUBLIC_URL: publicUrl,
    });
    let serve: ServeProcess | undefined;
    try {
      // before anything is installed: the form's URLs, no portal
      const before = await appReport(env, ['--no-events']);
      expect(before).toEqual({
        publicUrl,
        urls: {
          handler: `${publicUrl}/bitrix/app`,
          install: `${publicUrl}/bitrix/install`,
          events: `${publicUrl}/bitrix/events`,
        },
        configured: true,
        portals: [],
      });
      serve = await startServe(['--pipelines', pipelines, '--sync-every', '0.3', '--port', String(port)], env);
      expect(serve.url).toBe(publicUrl);
      expect(serve.stderr()).toContain('no portal has installed the application yet');
      const install = `${publicUrl}/bitrix/install`;
      const post = (form: Record<string, string>, query = '') =>
        fetch(query ? `${install}?${query}` : install, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams(form).toString(),
        });

      // forged installs: an invented refresh token; a real refresh token of portal 0 under portal 1's member_id;
      // an install page with an invented REFRESH_ID
      const [p0, p1, p2] = portals as [Portal, Portal, Portal];
      const invented = hub.installRequest(p0.handle);
      invented.form['auth[refresh_token]'] = randomBytes(32).toString('hex');
      const r1 = await post(invented.form);
      expect(r1.status).toBe(401);
      expect(await r1.json()).toEqual({ error: 'UNAUTHORIZED' });
      const crossed = hub.installRequest(p0.handle);
      crossed.form['auth[member_id]'] = p1.memberId;
      crossed.form['auth[application_token]'] = 'attacker-chosen-token';
      expect((await post(crossed.form)).status).toBe(401);
      const page = hub.installRequest(p2.handle, 'frame');
      page.form.REFRESH_ID = randomBytes(32).toString('hex');
      expect((await post(page.form, page.query)).status).toBe(401);
      // an event claiming the attacker's token for portal 1 is refused too (nothing was stored)
      const ev = await fetch(`${publicUrl}/bitrix/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          event: 'ONCRMDEALADD',
          'data[FIELDS][ID]': '1',
          'auth[member_id]': p1.memberId,
          'auth[application_token]': 'attacker-chosen-token',
        }).toString(),
      });
      expect(ev.status).toBe(401);
      expect((await appReport(env, ['--no-events'])).portals).toEqual([]);
      expect(serve.stderr()).toContain('install refused (401 install-unverified)');
      expect(serve.stderr()).toContain('install refused (401 install-portal-mismatch)');

      // the real installs: two installation callbacks, one install page
      const a0 = await hub.install(p0.handle, install);
      expect(a0).toEqual({ status: 200, body: JSON.stringify({ status: 'success' }) });
      expect((await hub.install(p1.handle, install)).status).toBe(200);
      const a2 = await hub.install(p2.handle, install, 'frame');
      expect(a2.status).toBe(200);
      expect(a2.body).toContain('BX24.installFinish()');
      for (const p of portals)
        await waitFor(
          () => serve!.stderr().includes(`serve: portal ${p.memberId}: ONCRMDEALADD (offline) bound`),
          20_000,
          `the bindings of portal ${p.memberId}`,
        );
      for (const p of portals) {
        expect(serve.stderr()).toContain(`serving portal ${p.memberId}`);
        // what serve bound there: the pipeline's event offline, ONOFFLINEEVENT online to our public URL
        const bound = p.handle.portal.events.bindings.map((b: any) => [b.event, !!b.offline, b.handler ?? '']);
        expect(bound).toEqual(
          expect.arrayContaining([
            ['ONCRMDEALADD', true, expect.anything()],
            ['ONOFFLINEEVENT', false, `${publicUrl}/bitrix/events`],
          ]),
        );
      }

      // a deal on each portal runs the pipeline on that portal, once
      const deals = [] as string[][];
      for (const [i, p] of portals.entries()) deals.push(await createDeals(p.hook, 3, (j) => `Portal ${i} deal ${j}`));
      for (const [i, p] of portals.entries())
        await waitFor(
          async () => (await leadOrigins(p.hook)).filter((o) => o.startsWith('deal-')).length >= deals[i]!.length,
          30_000,
          `the leads of portal ${i}`,
        );
      await new Promise((r) => setTimeout(r, 1000)); // a second run would show by now
      for (const [i, p] of portals.entries()) {
        const origins = (await leadOrigins(p.hook)).filter((o) => o.startsWith('deal-')).sort();
        expect(origins, `portal ${i}`).toEqual(deals[i]!.map((id) => `deal-${id}`).sort());
      }

      // `b24flow app`: the three portals, their expiry and bindings; no secret anywhere
      const report = await appReport(env);
      expect(report.portals.map((p: any) => p.memberId).sort()).toEqual(portals.map((p) => p.memberId).sort());
      for (const p of report.portals) {
        const sb = portals.find((x) => x.memberId === p.memberId)!;
        expect(p.domain).toBe(sb.handle.portal.domain());
        expect(p.applicationToken).toBe(true);
        expect(p.tokenExpiresIn).toBeGreaterThan(3000);
        expect(p.events).toEqual(
          expect.arrayContaining([
            { event: 'ONCRMDEALADD', type: 'offline' },
            { event: 'ONOFFLINEEVENT', type: 'online', handler: `${publicUrl}/bitrix/events` },
          ]),
        );
      }
      const text = await runCli(['app'], env);
      expect(text.code, text.stderr).toBe(0);
      expect(text.stdout).toContain(`Initial installation path:  ${publicUrl}/bitrix/install`);
      expect(text.stdout).toContain(`Your handler path:          ${publicUrl}/bitrix/app`);
      expect(text.stdout).toContain('Installed on 3 portal(s):');
      for (const p of portals) expect(text.stdout).toContain(p.memberId);
      const secrets = [
        hub.app.clientSecret,
        hub.app.clientId,
        ...portals.map((p) => p.handle.oauthApp.applicationToken),
      ];
      for (const out of [text.stdout, JSON.stringify(report), serve.stderr()])
        for (const s of secrets) expect(out.includes(s)).toBe(false);

      await stop(serve);
      expect((await serve.exited).code, serve.stderr()).toBe(0);
    } finally {
      await stop(serve, 'SIGKILL');
      for (const p of portals) {
        await p.hook.close();
        await p.handle.close();
      }
      await hub.close();
    }
  }, 120_000);

  it('`b24flow app` without a public URL or an application says what to do; a bad public URL is refused', async () => {
    const env = {
      ...childEnv(join(t.dir, 'data-none'), { clientId: '', clientSecret: '' }),
      B24FLOW_PUBLIC_URL: '',
    };
    const r = await runCli(['app'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Initial installation path:  <public URL>/bitrix/install');
    expect(r.stdout).toContain('The public URL is not set: pass --public-url');
    expect(r.stdout).toContain('B24_CLIENT_ID');
    expect(await appReport(env)).toEqual({ publicUrl: null, urls: null, configured: false, portals: [] });
    const bad = await runCli(['app', '--public-url', 'ftp://x'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('the public URL must be an http(s) URL');
  });

  it('refreshes every portal’s token before it expires (12 s access tokens, 6 s margin)', async () => {
    const hub = await startOAuthHub({ accessTtlSec: 12 });
    const portals = await startPortals(hub, 2);
    const dataDir = join(t.dir, 'data-refresh');
    const pipelines = writeDealLeadPipeline(join(t.dir, 'pipelines-refresh'));
    const port = await freePort();
    const publicUrl = `http://127.0.0.1:${port}`;
    const env = childEnv(dataDir, hub.app, {
      B24_OAUTH_TOKEN_URL: hub.tokenUrl,
      B24_PLAN: 'enterprise',
      B24_CLOCK_FACTOR: '1000',
      B24FLOW_PUBLIC_URL: publicUrl,
      B24FLOW_TOKEN_REFRESH_MARGIN_S: '6',
    });
    let serve: ServeProcess | undefined;
    try {
      serve = await startServe(['--pipelines', pipelines, '--sync-every', '0.5', '--port', String(port)], env);
      for (const p of portals) expect((await hub.install(p.handle, `${publicUrl}/bitrix/install`)).status).toBe(200);
      const first = await appReport(env, ['--no-events']);
      expect(first.portals).toHaveLength(2);
      // within one token lifetime each portal is refreshed ahead of its expiry (no call met a 401 first)
      for (const p of portals)
        await waitFor(
          () => serve!.stderr().includes(`refreshed the tokens of portal ${p.memberId} before they expire`),
          15_000,
          `the refresh of portal ${p.memberId}`,
        );
      const later = await appReport(env, ['--no-events']);
      for (const p of later.portals) {
        const was = first.portals.find((x: any) => x.memberId === p.memberId);
        expect(Date.parse(p.tokenExpiresAt)).toBeGreaterThan(Date.parse(was.tokenExpiresAt));
        expect(p.tokenExpiresIn).toBeGreaterThan(0);
      }
      // 20 s later — past the first tokens' lifetime — events still run with the kept-fresh tokens
      await new Promise((r) => setTimeout(r, 8000));
      const stats0 = await Promise.all(portals.map((p) => p.handle.admin.stats()));
      for (const [i, p] of portals.entries()) await createDeals(p.hook, 2, (j) => `Refresh ${i} deal ${j}`);
      for (const [i, p] of portals.entries())
        await waitFor(
          async () => (await leadOrigins(p.hook)).filter((o) => o.startsWith('deal-')).length >= 2,
          30_000,
          `the leads of portal ${i}`,
        );
      const stats1 = await Promise.all(portals.map((p) => p.handle.admin.stats()));
      // no call of serve met an expired token: the portals answered no 401 meanwhile
      for (const [i] of portals.entries())
        expect((stats1[i]!.status['401'] ?? 0) - (stats0[i]!.status['401'] ?? 0), `portal ${i}`).toBe(0);
      expect(serve.stderr()).not.toContain('cannot refresh');
      await stop(serve);
      expect((await serve.exited).code, serve.stderr()).toBe(0);
    } finally {
      await stop(serve, 'SIGKILL');
      for (const p of portals) {
        await p.hook.close();
        await p.handle.close();
      }
      await hub.close();
    }
  }, 120_000);

  it.skipIf(!postgresUrl)(
    'two serve on one PostgreSQL: an install at either is served by both, each deal runs once, one refresh per expiry',
    async () => {
      const hub = await startOAuthHub({ accessTtlSec: 12 });
      const portals = await startPortals(hub, 2);
      const db = await freshDatabase();
      const dataDir = join(t.dir, 'data-pg');
      const pipelines = writeDealLeadPipeline(join(t.dir, 'pipelines-pg'));
      const env = childEnv(dataDir, hub.app, {
        B24_OAUTH_TOKEN_URL: hub.tokenUrl,
        B24_PLAN: 'enterprise',
        B24_CLOCK_FACTOR: '1000',
        B24FLOW_DATABASE_URL: db.url,
        B24FLOW_STORE_KEY: randomBytes(32).toString('base64'),
        B24FLOW_TOKEN_REFRESH_MARGIN_S: '6',
      });
      const procs: ServeProcess[] = [];
      try {
        for (let i = 0; i < 2; i++) {
          const port = await freePort();
          procs.push(
            await startServe(
              [
                ...['--pipelines', pipelines, '--sync-every', '0.3', '--port', String(port)],
                ...['--public-url', `http://127.0.0.1:${port}`],
              ],
              env,
            ),
          );
        }
        const started = Date.now();
        // portal 0 installs at the first process, portal 1 at the second; both processes serve both
        for (const [i, p] of portals.entries())
          expect((await hub.install(p.handle, `${procs[i]!.url}/bitrix/install`)).status).toBe(200);
        for (const proc of procs)
          for (const p of portals)
            await waitFor(() => proc.stderr().includes(`serving portal ${p.memberId}`), 20_000, 'both portals served');
        const deals = [] as string[][];
        for (const [i, p] of portals.entries()) deals.push(await createDeals(p.hook, 4, (j) => `PG ${i} deal ${j}`));
        for (const [i, p] of portals.entries())
          await waitFor(
            async () => (await leadOrigins(p.hook)).filter((o) => o.startsWith('deal-')).length >= deals[i]!.length,
            30_000,
            `the leads of portal ${i}`,
          );
        // past the first tokens' lifetime: each expiry refreshed by one process, the other adopts (no invalid_grant)
        await new Promise((r) => setTimeout(r, Math.max(0, 16_000 - (Date.now() - started))));
        const stats = hub.stats();
        expect(stats.refused).toBe(0);
        const elapsed = (Date.now() - started) / 1000;
        for (const p of portals) {
          const n = stats.refreshes[p.memberId] ?? 0;
          // one refresh at the install, then one per 6 s (12 s tokens, 6 s margin) — not one per process
          expect(n, `refreshes of portal ${p.memberId}`).toBeGreaterThanOrEqual(2);
          expect(n, `refreshes of portal ${p.memberId}`).toBeLessThanOrEqual(Math.ceil(elapsed / 6) + 2);
        }
        for (const [i, p] of portals.entries()) {
          const origins = (await leadOrigins(p.hook)).filter((o) => o.startsWith('deal-')).sort();
          expect(origins, `portal ${i}`).toEqual(deals[i]!.map((id) => `deal-${id}`).sort());
        }
        for (const proc of procs) expect(proc.stderr()).not.toContain('cannot refresh');
        for (const proc of procs) await stop(proc);
        for (const proc of procs) expect((await proc.exited)?.code, proc.stderr()).toBe(0);
      } finally {
        for (const proc of procs) await stop(proc, 'SIGKILL');
        for (const p of portals) {
          await p.hook.close();
          await p.handle.close();
        }
        await hub.close();
        await db.drop();
      }
    },
    120_000,
  );
});
