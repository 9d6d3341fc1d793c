/**
 * The application's install path, `POST /bitrix/install` (the "Initial installation path" of the portal's local
 * application form), and its handler path `/bitrix/app`. The portal hands the install over in one of two ways
 * (settings/app-installation/installation-finish.md):
 *
 * - an "API only" (script only) application gets the installation callback: a server-side POST of `ONAPPINSTALL`
 *   with `auth[access_token]`, `auth[refresh_token]`, `auth[application_token]`, `auth[member_id]`, …
 *   (local-apps/installation-callback.md, api-reference/common/events/on-app-install.md); the answer is JSON;
 * - an application with an interface gets its install page opened in the portal's frame with a POST of `AUTH_ID,
 *   AUTH_EXPIRES, REFRESH_ID, SERVER_ENDPOINT, member_id, status, PLACEMENT` (and `APPLICATION_TOKEN` where the portal
 *   sends it) and the query `DOMAIN, PROTOCOL, LANG, APP_SID` (rest-protocol.md §7); the answer is a page that calls
 *   `BX24.installFinish()` (local-apps/installation-master.md), without which the portal sends no events.
 *
 * Either way nothing is stored until the {@link InstallVerifier} has exchanged the refresh token at the configured
 * OAuth server and the server named the same portal (src/triggers/install.ts); a forged install gets 401 and
 * changes nothing. `GET|POST /bitrix/app` (the handler path: what the portal opens when a user opens the
 * application) answers a short page naming the service; it shows no portal data and no secret.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BodyTooLargeError, type Route, readBody, sendJson } from '../lib/http.js';
import type { InstallVerifier } from './install.js';
import type { Metrics } from './metrics.js';
import { type PortalTokens, parseBracketForm } from './online.js';
import type { LogFn } from './types.js';

/** The install path of the service (relative to its public URL). */
export const INSTALL_PATH = '/bitrix/install';
/** The handler path of the service (relative to its public URL). */
export const APP_PATH = '/bitrix/app';

/** Options of {@link installRoutes}. */
export interface InstallRoutesOptions {
  /** Verifies and stores the install; without it (no OAuth application configured) every install is refused. */
  verifyInstall?: InstallVerifier;
  /** Known application tokens per portal: a verified install's token joins it. */
  tokens: PortalTokens;
  metrics: Metrics;
  log: LogFn;
  /** Called with the `member_id` of a verified install (serve starts serving the portal and binds its events). */
  onInstall?: (memberId: string) => void;
  /** Largest accepted body, bytes (default 64 KiB). */
  maxBodyBytes?: number;
}

/** The install page's answer: `BX24.installFinish()` once the BX24 library is loaded in the portal's frame. */
const FINISH_PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>b24flow</title>
<script src="//api.bitrix24.com/api/v1/"></script></head>
<body><p>b24flow is installed. This page can be closed.</p>
<script>if (window.BX24) BX24.init(function () { BX24.installFinish(); });</script>
</body></html>
`;

const APP_PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>b24flow</title></head>
<body><p>b24flow runs the pipelines of this portal in the background; it has no pages of its own.</p></body></html>
`;

function sendHtml(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(html) });
  res.end(html);
}

/**
 * The `auth` block of an install request: ONAPPINSTALL's own, or the install page's upper-case fields mapped to the
 * same keys (`AUTH_ID` → access_token, `REFRESH_ID` → refresh_token, `DOMAIN`+`PROTOCOL` → client_endpoint, …);
 * undefined when the body is neither.
 */
export function installAuth(
  payload: Record<string, unknown>,
  query: URLSearchParams,
):
  | {
      kind: 'callback' | 'frame';
      auth: Record<string, unknown>;
    }
  | undefined {
  const str = (v: unknown) => (typeof v === 'string' ? v : '');
  if (str(payload.event).toUpperCase() === 'ONAPPINSTALL' && payload.auth && typeof payload.auth === 'object')
    return { kind: 'callback', auth: payload.auth as Record<string, unknown> };
  if (str(payload.AUTH_ID) || str(payload.REFRESH_ID)) {
    const domain = query.get('DOMAIN') ?? str(payload.DOMAIN);
    const https = (query.get('PROTOCOL') ?? str(payload.PROTOCOL)) !== '0';
    return {
      kind: 'frame',
      auth: {
        member_id: str(payload.member_id),
        access_token: str(payload.AUTH_ID),
        refresh_token: str(payload.REFRESH_ID),
        ...(str(payload.APPLICATION_TOKEN) ? { application_token: str(payload.APPLICATION_TOKEN) } : {}),
        ...(domain ? { domain, client_endpoint: `${https ? 'https' : 'http'}://${domain}/rest/` } : {}),
        ...(str(payload.SERVER_ENDPOINT) ? { server_endpoint: str(payload.SERVER_ENDPOINT) } : {}),
      },
    };
  }
  return undefined;
}

/** Builds the install and handler routes (see module doc). */
export function installRoutes(o: InstallRoutesOptions): Route[] {
  const refuse = (req: IncomingMessage, res: ServerResponse, status: number, reason: string) => {
    o.metrics.appInstallsRefused.inc({ reason });
    o.log(`install refused (${status} ${reason}) from ${req.socket.remoteAddress ?? '?'}`);
    if (!res.headersSent) sendJson(res, status, { error: status === 413 ? 'PAYLOAD_TOO_LARGE' : 'UNAUTHORIZED' });
  };
  const install = async (req: IncomingMessage, res: ServerResponse) => {
    let body: Buffer;
    try {
      body = await readBody(req, o.maxBodyBytes ?? 64 * 1024);
    } catch (err) {
      if (err instanceof BodyTooLargeError) {
        refuse(req, res, 413, 'too-large');
        req.resume();
        return;
      }
      throw err;
    }
    let payload: Record<string, unknown>;
    try {
      const ct = String(req.headers['content-type'] ?? '');
      const text = body.toString('utf8');
      payload = ct.includes('application/json')
        ? (JSON.parse(text) as Record<string, unknown>)
        : parseBracketForm(text);
      if (!payload || typeof payload !== 'object' || Array.isArray(payload)) throw new Error('not an object');
    } catch {
      return refuse(req, res, 400, 'malformed');
    }
    const query = new URL(req.url ?? '/', 'http://x').searchParams;
    const found = installAuth(payload, query);
    if (!found) return refuse(req, res, 400, 'not-an-install');
    if (!o.verifyInstall) return refuse(req, res, 401, 'no-application');
    let verdict: Awaited<ReturnType<InstallVerifier>>;
    try {
      verdict = await o.verifyInstall(found.auth);
    } catch (err) {
      o.log(`install: verification failed (${err instanceof Error ? err.message : String(err)})`);
      verdict = { ok: false, reason: 'install-unverified' };
    }
    if (!verdict.ok) return refuse(req, res, 401, verdict.reason);
    if (verdict.applicationToken) o.tokens.set(verdict.memberId, verdict.applicationToken);
    o.metrics.appInstalls.inc();
    o.log(
      `install: portal ${verdict.memberId} installed (${found.kind === 'frame' ? 'install page' : 'install callback'})`,
    );
    o.onInstall?.(verdict.memberId);
    if (found.kind === 'frame') sendHtml(res, 200, FINISH_PAGE);
    else sendJson(res, 200, { status: 'success' });
  };
  const app = async (req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    sendHtml(res, 200, APP_PAGE);
  };
  return [
    { method: 'POST', path: INSTALL_PATH, handler: install },
    { method: 'GET', path: APP_PATH, handler: app },
    { method: 'POST', path: APP_PATH, handler: app },
  ];
}
