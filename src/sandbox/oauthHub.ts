/**
 * One OAuth server for several sandbox portals, as `oauth.bitrix.info` is for real ones (settings/oauth/index.md:
 * every portal's tokens are issued and refreshed at the same `/oauth/token/`, `server_endpoint` names it), and the
 * portal's side of installing one application on each of them:
 *
 * - the installation callback of an "API only" local application: the portal POSTs `ONAPPINSTALL` (form-encoded,
 *   `auth[access_token]`, `auth[refresh_token]`, `auth[application_token]`, `auth[member_id]`, …) to the
 *   application's "Initial installation path" (settings/app-installation/local-apps/installation-callback.md,
 *   api-reference/common/events/on-app-install.md);
 * - the installation wizard of an application with an interface: the portal opens the installation path in its frame
 *   with a POST of `AUTH_ID, AUTH_EXPIRES, REFRESH_ID, SERVER_ENDPOINT, APPLICATION_TOKEN, member_id, status,
 *   PLACEMENT` and the query `DOMAIN, PROTOCOL, LANG, APP_SID` (rest-protocol.md §7; installation-master.md); the page
 *   then calls `BX24.installFinish()` (installation-finish.md).
 *
 * The tokens in both are real: minted by the portal's OAuth state, so the application can verify them here.
 * In-process only (tests): it holds the portals' objects.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { registerSecret } from '../lib/redact.js';
import type { SandboxHandle } from './handle.js';
import { issueTokens, serverEndpoint } from './oauth.js';
import { tokenGrant, tokenParams } from './oauthServer.js';
import { buildQuery } from './params.js';
import type { Portal } from './portal.js';

/** Options of {@link startOAuthHub}. */
export interface OAuthHubOptions {
  /** Access-token lifetime of every portal added, seconds (default 3600, as documented). */
  accessTtlSec?: number;
  /** The application's client id and secret (default: random, `local.…`). */
  app?: { clientId: string; clientSecret: string };
}

/** How the portal hands the install to the application (see module doc). */
export type InstallKind = 'callback' | 'frame';

/** One install request as the portal would send it. */
export interface InstallRequest {
  /** Query string to append to the installation path (frame only; empty for the callback). */
  query: string;
  /** Form fields of the POST (the callback: bracketed `auth[…]` keys; the frame: flat upper-case keys). */
  form: Record<string, string>;
}

/** A running hub. */
export interface OAuthHub {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** `<url>/oauth/token/` — what the application is configured with (`B24_OAUTH_TOKEN_URL`) */
  tokenUrl: string;
  /** The one application installed on every portal added. */
  app: { clientId: string; clientSecret: string };
  /**
   * Makes the application of `handle`'s portal this hub's one (its client id and secret) and names the hub as its
   * OAuth server. Tokens issued before keep working (the hub finds their portal).
   */
  add(handle: SandboxHandle): void;
  /** The install request the portal of `handle` would send now, with freshly minted tokens (marks the app installed). */
  installRequest(handle: SandboxHandle, kind?: InstallKind): InstallRequest;
  /**
   * Installs the application on the portal of `handle`: POSTs {@link installRequest} to `url` (the application's
   * installation path) and returns the application's answer.
   */
  install(handle: SandboxHandle, url: string, kind?: InstallKind): Promise<{ status: number; body: string }>;
  /** Grants answered so far: refreshes per portal (`member_id`), and refusals (any error answer). */
  stats(): { refreshes: Record<string, number>; refused: number };
  close(): Promise<void>;
}

const hex = (n: number) => randomBytes(n).toString('hex');

/**
 * Starts the hub on 127.0.0.1 (a free port). `/oauth/token/` finds the portal that issued the code or refresh token
 * and answers as that portal's OAuth server would (`invalid_grant` when no portal issued it); anything else is 404.
 */
export async function startOAuthHub(opts: OAuthHubOptions = {}): Promise<OAuthHub> {
  const app = opts.app ?? { clientId: `local.${hex(7)}.${String(Date.now()).slice(-8)}`, clientSecret: hex(24) };
  registerSecret(app.clientSecret);
  const portals: Portal[] = [];
  const counts = { refreshes: {} as Record<string, number>, refused: 0 };
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://hub');
    const send = (status: number, body: unknown) => {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    if (url.pathname !== '/oauth/token/' && url.pathname !== '/oauth/token')
      return send(404, { error: 'NOT_FOUND', error_description: 'Not found' });
    tokenParams(req, url)
      .then((q) => {
        const issuer = portals.find((p) =>
          q.grant_type === 'refresh_token'
            ? p.oauth.refresh[String(q.refresh_token)] !== undefined
            : p.oauth.codes[String(q.code)] !== undefined,
        );
        if (!issuer) {
          counts.refused++;
          if (q.client_id !== app.clientId || q.client_secret !== app.clientSecret)
            return send(401, { error: 'invalid_client', error_description: 'Invalid client credentials' });
          return send(400, { error: 'invalid_grant', error_description: 'Invalid grant' });
        }
        const answer = tokenGrant(issuer, q);
        // the OAuth server names itself as `domain` (rest-protocol.md §7); the portal is in client_endpoint
        if (answer.status === 200) answer.body.domain = new URL(hubUrl).host;
        else counts.refused++;
        if (answer.status === 200 && q.grant_type === 'refresh_token') {
          const m = issuer.oauth.app.memberId;
          counts.refreshes[m] = (counts.refreshes[m] ?? 0) + 1;
        }
        send(answer.status, answer.body);
      })
      .catch(() => send(400, { error: 'invalid_request', error_description: 'Malformed request' }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const hubUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const installRequest = (handle: SandboxHandle, kind: InstallKind = 'callback'): InstallRequest => {
    const p = handle.portal;
    p.oauth.app.installed = true;
    const now = p.clock.now();
    const t = issueTokens(p.oauth, 1, now);
    p.dirty();
    registerSecret(t.access_token);
    registerSecret(t.refresh_token);
    const a = p.oauth.app;
    if (kind === 'frame') {
      const u = new URL(p.baseUrl);
      return {
        query: new URLSearchParams({
          DOMAIN: p.domain(),
          PROTOCOL: u.protocol === 'https:' ? '1' : '0',
          LANG: 'en',
          APP_SID: hex(16),
        }).toString(),
        form: {
          AUTH_ID: t.access_token,
          AUTH_EXPIRES: String(t.expires_in),
          REFRESH_ID: t.refresh_token,
          SERVER_ENDPOINT: serverEndpoint(p.oauth, p.baseUrl),
          APPLICATION_TOKEN: a.applicationToken,
          APPLICATION_SCOPE: a.scope.join(','),
          member_id: a.memberId,
          status: 'L',
          PLACEMENT: 'DEFAULT',
          PLACEMENT_OPTIONS: '{}',
        },
      };
    }
    const body = buildQuery({
      event: 'ONAPPINSTALL',
      data: { VERSION: '1', ACTIVE: 'Y', INSTALLED: 'Y', LANGUAGE_ID: 'en' },
      ts: String(Math.floor(now / 1000)),
      auth: {
        access_token: t.access_token,
        expires: String(t.expires),
        expires_in: String(t.expires_in),
        scope: a.scope.join(','),
        domain: p.domain(),
        server_endpoint: serverEndpoint(p.oauth, p.baseUrl),
        status: 'L',
        client_endpoint: `${p.baseUrl}/rest/`,
        member_id: a.memberId,
        user_id: '1',
        refresh_token: t.refresh_token,
        application_token: a.applicationToken,
      },
    });
    return { query: '', form: Object.fromEntries(new URLSearchParams(body)) };
  };

  return {
    url: hubUrl,
    tokenUrl: `${hubUrl}/oauth/token/`,
    app,
    add(handle) {
      const p = handle.portal;
      p.oauth.app.clientId = app.clientId;
      p.oauth.app.clientSecret = app.clientSecret;
      handle.oauthApp.clientId = app.clientId;
      handle.oauthApp.clientSecret = app.clientSecret;
      p.oauth.serverUrl = hubUrl;
      if (opts.accessTtlSec !== undefined) p.oauth.accessTtlMs = opts.accessTtlSec * 1000;
      p.dirty();
      if (!portals.includes(p)) portals.push(p);
    },
    installRequest,
    async install(handle, url, kind = 'callback') {
      const r = installRequest(handle, kind);
      const target = r.query ? `${url}${url.includes('?') ? '&' : '?'}${r.query}` : url;
      const res = await fetch(target, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'Bitrix24 Webhook Engine' },
        body: new URLSearchParams(r.form).toString(),
        signal: AbortSignal.timeout(30_000),
      });
      return { status: res.status, body: await res.text() };
    },
    stats: () => ({ refreshes: { ...counts.refreshes }, refused: counts.refused }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections?.();
      }),
  };
}
